// What every page of the console shares: the signed-in session, calls to the APIs with its
// token (Graph, beta, Partner Center) or with the admin key (emulator controls), and small DOM
// helpers. Pages are ES modules that import from here.

export const REDIRECT = `${location.origin}/console/`;
export const $ = (id) => document.getElementById(id);

export function status(text) {
  $("status").textContent = text;
}

export function session() {
  return JSON.parse(sessionStorage.getItem("allot.session") || "null");
}

/** An element with text content and attributes (`{class, data-*, aria-*, ...}`). */
export function el(tag, text = "", attrs = {}) {
  const e = document.createElement(tag);
  if (text !== "") e.textContent = text;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

/** A button with a visible text and, when given, a fuller accessible name. */
export function button(text, label, onClick) {
  const b = el("button", text, { type: "button" });
  if (label) b.setAttribute("aria-label", label);
  b.addEventListener("click", onClick);
  return b;
}

async function call(url, method, body, headers) {
  if (body !== undefined) headers["content-type"] = "application/json";
  const r = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  const v = text ? JSON.parse(text) : null;
  return { r, v };
}

/** A Graph call (`/v1.0` or, with `version`, `/beta`) with the person's token. */
export async function graph(path, method = "GET", body = undefined, version = "v1.0") {
  const { r, v } = await call(`/${version}${path}`, method, body, { authorization: `Bearer ${session().token}` });
  if (r.status === 401) {
    sessionStorage.removeItem("allot.session");
    throw new Error("Your session ended: sign in again.");
  }
  if (!r.ok) throw new Error(v && v.error ? `${v.error.code}: ${v.error.message}` : `HTTP ${r.status}`);
  return v;
}

export const beta = (path, method, body) => graph(path, method, body, "beta");

/** A `/$count` (text) with `ConsistencyLevel: eventual`, as Graph requires for directory counts. */
export async function graphCount(path, version = "v1.0") {
  const r = await fetch(`/${version}${path}`, { headers: { authorization: `Bearer ${session().token}`, consistencylevel: "eventual" } });
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  return Number(await r.text());
}

/** A Partner Center call with the partner token the console redeemed at sign-in. */
export async function partner(path) {
  const { r, v } = await call(`/v1${path}`, "GET", undefined, { authorization: `Bearer ${session().partnerToken}` });
  if (!r.ok) throw new Error(v && v.description ? `${v.code}: ${v.description}` : `HTTP ${r.status}`);
  return v;
}

/** An admin API call (`/_allot`) with the key the person typed on the Emulator page. */
export async function admin(path, method = "GET", body = undefined) {
  const key = sessionStorage.getItem("allot.adminKey") || "";
  const { r, v } = await call(`/_allot${path}`, method, body, { "x-allot-admin-key": key });
  if (!r.ok) throw new Error(v && v.error ? v.error.message : `HTTP ${r.status}`);
  return v;
}

// Roles whose holders may change licenses (template ids, as the token's `wids` carries them):
// Global Administrator, License Administrator, User Administrator, Directory Writers.
const LICENSE_WRITERS = [
  "62e90394-69f5-4237-9190-012177145e10", "4d6ac14f-3453-41d0-bef9-a3e0c569773a",
  "fe930be7-5e62-47db-91af-98c3a49a38b1", "9360feb5-f418-4baa-8175-e2a00bac4301",
];

export function claims(token = session().token) {
  return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
}

export function mayChangeLicenses() {
  return (claims().wids || []).some((w) => LICENSE_WRITERS.includes(w.toLowerCase()));
}

/** The tenant's subscribed SKUs, read once per page view (`loadSkus`). */
export let skus = [];

export async function loadSkus() {
  skus = (await graph("/subscribedSkus")).value;
  return skus;
}

export function partNumber(skuId) {
  const s = skus.find((k) => k.skuId === skuId);
  return s ? s.skuPartNumber : skuId;
}

/** A license chip: the product's part number. */
export function chip(skuId, extra = "") {
  return el("span", partNumber(skuId) + extra, { class: "lic" });
}

/** Quotes a value for an OData string literal. */
export const lit = (s) => `'${String(s).replace(/'/g, "''")}'`;

// What each license assignment error means, and what fixes it.
export const REASONS = {
  CountViolation: ["there are not enough free licenses", "add units to the subscription or free some, then reprocess"],
  MutuallyExclusiveViolation: ["the user holds a product that conflicts with it", "remove the conflicting license or disable the conflicting plan, then reprocess"],
  DependencyViolation: ["a service plan it needs is not enabled for the user", "assign or enable the plan it depends on, then reprocess"],
  ProhibitedInUsageLocationViolation: ["the product is not available in the user's usage location", "change the user's usage location, then reprocess"],
  UniquenessViolation: ["the user already has a service plan that must be unique", "remove the duplicate plan, then reprocess"],
  Other: ["the assignment failed", "reprocess; if it keeps failing, look at the user's license states"],
};

/** Runs `work` and shows its failure as the page's status. */
export function guarded(work) {
  return (...args) => Promise.resolve(work(...args)).catch((e) => status(e.message));
}

/** A table with a caption and column headers; rows go into the returned `body`. */
export function table(caption, columns, attrs = {}) {
  const t = el("table", "", attrs);
  t.append(el("caption", caption, { class: "hint" }));
  const head = el("tr");
  for (const c of columns) head.append(el("th", c, { scope: "col" }));
  const thead = el("thead");
  thead.append(head);
  const body = el("tbody");
  t.append(thead, body);
  return { table: t, body };
}

/** The path of an `@odata.nextLink` (absolute in Graph) under the API version, or null. */
export function nextPath(v) {
  const link = v["@odata.nextLink"];
  if (!link) return null;
  const u = new URL(link, location.origin);
  return u.pathname.replace(/^\/(v1\.0|beta)/, "") + u.search;
}

const groupNames = new Map();

/** A group's display name, read once per page load. */
export async function groupName(id) {
  if (!groupNames.has(id)) {
    const g = await graph(`/groups/${id}?$select=displayName`).catch(() => ({ displayName: id }));
    groupNames.set(id, g.displayName);
  }
  return groupNames.get(id);
}

/** Where a license state comes from, in words: "direct" or "via group NAME". */
export async function source(state) {
  return state.assignedByGroup ? `via group ${await groupName(state.assignedByGroup)}` : "direct";
}

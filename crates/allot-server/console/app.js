// The Allot console: signs a tenant's user in through Allot's own authorization-code flow with
// PKCE (the "Allot console" public client the tenant registers), then reads the same Graph API
// every client reads, with the user's token: what the user sees follows their roles.
"use strict";

const CLIENT_ID = "5a1d0000-c0de-4a99-a000-00000000c0c0";
const SCOPES = "openid profile offline_access User.Read User.Read.All Group.Read.All Directory.Read.All LicenseAssignment.ReadWrite.All Organization.Read.All AuditLog.Read.All";
const REDIRECT = `${location.origin}/console/`;
const $ = (id) => document.getElementById(id);

function b64url(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function status(text) {
  $("status").textContent = text;
}

async function signIn(tenant) {
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const state = b64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem("allot.pkce", JSON.stringify({ verifier, state, tenant }));
  const q = new URLSearchParams({
    client_id: CLIENT_ID, response_type: "code", redirect_uri: REDIRECT, scope: SCOPES,
    code_challenge: challenge, code_challenge_method: "S256", state,
  });
  location.assign(`/${encodeURIComponent(tenant)}/oauth2/v2.0/authorize?${q}`);
}

async function redeem(code, state) {
  const saved = JSON.parse(sessionStorage.getItem("allot.pkce") || "null");
  sessionStorage.removeItem("allot.pkce");
  history.replaceState(null, "", REDIRECT);
  if (!saved || saved.state !== state) throw new Error("The sign-in answer does not match this browser's request.");
  const r = await fetch(`/${encodeURIComponent(saved.tenant)}/oauth2/v2.0/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      client_id: CLIENT_ID, grant_type: "authorization_code", code, redirect_uri: REDIRECT,
      code_verifier: saved.verifier, scope: SCOPES,
    }),
  });
  const v = await r.json();
  if (!r.ok) throw new Error(v.error_description || v.error || `token endpoint: ${r.status}`);
  sessionStorage.setItem("allot.session", JSON.stringify({ token: v.access_token, tenant: saved.tenant }));
}

async function graph(path, method = "GET", body = undefined) {
  const s = JSON.parse(sessionStorage.getItem("allot.session"));
  const headers = { authorization: `Bearer ${s.token}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const r = await fetch(`/v1.0${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const v = await r.json();
  if (r.status === 401) {
    sessionStorage.removeItem("allot.session");
    throw new Error("Your session ended: sign in again.");
  }
  if (!r.ok) throw new Error(v.error ? `${v.error.code}: ${v.error.message}` : `HTTP ${r.status}`);
  return v;
}

function card(sku) {
  const li = document.createElement("li");
  li.className = "card";
  const enabled = sku.prepaidUnits.enabled;
  const used = sku.consumedUnits;
  const share = enabled > 0 ? Math.min(100, Math.round((used / enabled) * 100)) : 100;
  const gauge = used > enabled ? "gauge over" : used === enabled ? "gauge full" : "gauge";
  li.innerHTML = `
    <h3></h3><div class="id"></div>
    <div class="${gauge}" role="meter" aria-valuemin="0" aria-valuemax="${enabled}" aria-valuenow="${used}">
      <div style="width:${share}%"></div></div>
    <div class="numbers"><span class="used"></span><span class="status"></span></div>
    <div class="numbers extra"></div>`;
  li.querySelector("h3").textContent = sku.skuPartNumber;
  li.querySelector(".id").textContent = sku.skuId;
  li.querySelector("[role=meter]").setAttribute("aria-label", `${sku.skuPartNumber}: ${used} of ${enabled} seats used`);
  li.querySelector(".used").textContent = `${used} of ${enabled} seats used`;
  const st = li.querySelector(".status");
  st.textContent = sku.capabilityStatus;
  st.classList.add(sku.capabilityStatus);
  const p = sku.prepaidUnits;
  li.querySelector(".extra").textContent = `warning ${p.warning} · suspended ${p.suspended} · locked out ${p.lockedOut}`;
  li.dataset.sku = sku.skuPartNumber;
  return li;
}

let skus = [];

async function showProducts() {
  status("Loading products…");
  const v = await graph("/subscribedSkus");
  skus = v.value;
  const list = $("sku-list");
  list.replaceChildren(...v.value.map(card));
  status("");
}

// Roles whose holders may change licenses (template ids, as the token's `wids` carries them):
// Global Administrator, License Administrator, User Administrator, Directory Writers.
const LICENSE_WRITERS = [
  "62e90394-69f5-4237-9190-012177145e10", "4d6ac14f-3453-41d0-bef9-a3e0c569773a",
  "fe930be7-5e62-47db-91af-98c3a49a38b1", "9360feb5-f418-4baa-8175-e2a00bac4301",
];

function mayChangeLicenses() {
  const s = JSON.parse(sessionStorage.getItem("allot.session"));
  const claims = JSON.parse(atob(s.token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  return (claims.wids || []).some((w) => LICENSE_WRITERS.includes(w.toLowerCase()));
}

function partNumber(skuId) {
  const s = skus.find((k) => k.skuId === skuId);
  return s ? s.skuPartNumber : skuId;
}

function userRow(u, writer) {
  const tr = document.createElement("tr");
  tr.dataset.upn = u.userPrincipalName;
  const who = document.createElement("td");
  who.innerHTML = "<strong></strong><br><span class=upn></span>";
  who.querySelector("strong").textContent = u.displayName;
  who.querySelector(".upn").textContent = u.userPrincipalName;
  const lic = document.createElement("td");
  const note = document.createElement("span");
  note.className = "row-status";
  note.setAttribute("role", "status");
  for (const l of u.assignedLicenses) {
    const chip = document.createElement("span");
    chip.className = "lic";
    chip.textContent = partNumber(l.skuId);
    if (writer) {
      const rm = document.createElement("button");
      rm.type = "button";
      rm.textContent = "Remove";
      rm.setAttribute("aria-label", `Remove ${partNumber(l.skuId)} from ${u.displayName}`);
      rm.addEventListener("click", () => change(u, { addLicenses: [], removeLicenses: [l.skuId] }, note));
      chip.append(rm);
    }
    lic.append(chip);
  }
  if (!u.assignedLicenses.length) lic.append("none");
  lic.append(note);
  tr.append(who, lic);
  if (writer) {
    const act = document.createElement("td");
    const pick = document.createElement("select");
    pick.setAttribute("aria-label", `Product to assign to ${u.displayName}`);
    for (const k of skus) pick.append(new Option(k.skuPartNumber, k.skuId));
    const go = document.createElement("button");
    go.type = "button";
    go.textContent = "Assign";
    go.setAttribute("aria-label", `Assign the chosen product to ${u.displayName}`);
    go.addEventListener("click", () =>
      change(u, { addLicenses: [{ skuId: pick.value, disabledPlans: [] }], removeLicenses: [] }, note));
    act.append(pick, " ", go);
    tr.append(act);
  }
  return tr;
}

async function change(u, body, note) {
  note.textContent = "";
  try {
    await graph(`/users/${u.id}/assignLicense`, "POST", body);
    await searchUsers();
    status(`Licenses of ${u.displayName} changed.`);
  } catch (e) {
    // The API's own message: why the change was refused, in plain words.
    note.textContent = e.message.replace(/^[A-Za-z_]+: /, "");
  }
}

let lastQuery = "";

async function searchUsers() {
  const q = lastQuery.replace(/'/g, "''");
  const filter = q ? `&$filter=startswith(displayName,'${q}') or startswith(userPrincipalName,'${q}')` : "";
  const v = await graph(`/users?$select=id,displayName,userPrincipalName,assignedLicenses&$top=50${filter}`);
  const writer = mayChangeLicenses();
  $("change-col").hidden = !writer;
  $("user-table").querySelector("tbody").replaceChildren(...v.value.map((u) => userRow(u, writer)));
  $("user-table").hidden = false;
}

// What each license assignment error means, and what fixes it.
const REASONS = {
  CountViolation: ["there are not enough free licenses", "add units to the subscription or free some, then reprocess"],
  MutuallyExclusiveViolation: ["the user holds a product that conflicts with it", "remove the conflicting license or disable the conflicting plan, then reprocess"],
  DependencyViolation: ["a service plan it needs is not enabled for the user", "assign or enable the plan it depends on, then reprocess"],
  ProhibitedInUsageLocationViolation: ["the product is not available in the user's usage location", "change the user's usage location, then reprocess"],
  UniquenessViolation: ["the user already has a service plan that must be unique", "remove the duplicate plan, then reprocess"],
  Other: ["the assignment failed", "reprocess; if it keeps failing, look at the user's license states"],
};

async function showErrors() {
  status("Looking for members in error…");
  const groups = await graph("/groups?$filter=hasMembersWithLicenseErrors eq true&$select=id,displayName");
  const writer = mayChangeLicenses();
  const blocks = [];
  for (const g of groups.value) {
    const div = document.createElement("div");
    div.className = "group-errors";
    div.dataset.group = g.displayName;
    const h = document.createElement("h3");
    h.textContent = g.displayName;
    const ul = document.createElement("ul");
    const members = await graph(`/groups/${g.id}/membersWithLicenseErrors?$select=id,displayName,userPrincipalName,licenseAssignmentStates`);
    for (const m of members.value) {
      for (const st of m.licenseAssignmentStates.filter((x) => x.assignedByGroup === g.id && x.error !== "None")) {
        const [why, fix] = REASONS[st.error] || REASONS.Other;
        const li = document.createElement("li");
        li.dataset.upn = m.userPrincipalName;
        li.innerHTML = "<strong></strong> cannot get <span class=sku></span>: <span class=reason></span>. <span class=fix></span> ";
        li.querySelector("strong").textContent = m.displayName;
        li.querySelector(".sku").textContent = partNumber(st.skuId);
        li.querySelector(".reason").textContent = why;
        li.querySelector(".fix").textContent = `Fix: ${fix}.`;
        if (writer) {
          const b = document.createElement("button");
          b.type = "button";
          b.textContent = "Reprocess";
          b.setAttribute("aria-label", `Reprocess ${m.displayName}`);
          b.addEventListener("click", async () => {
            try {
              await graph(`/users/${m.id}/reprocessLicenseAssignment`, "POST", {});
              status(`${m.displayName} reprocessed.`);
              await showErrors();
            } catch (e) { status(e.message); }
          });
          li.append(b);
        }
        ul.append(li);
      }
    }
    div.append(h, ul);
    blocks.push(div);
  }
  $("error-groups").replaceChildren(...blocks);
  status(blocks.length ? "" : "No member is in error.");
}

/** A `/$count` (text) with `ConsistencyLevel: eventual`, as Graph requires for directory counts. */
async function graphCount(path) {
  const s = JSON.parse(sessionStorage.getItem("allot.session"));
  const r = await fetch(`/v1.0${path}`, { headers: { authorization: `Bearer ${s.token}`, consistencylevel: "eventual" } });
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  return Number(await r.text());
}

let lastGroupQuery = "";

async function searchGroups() {
  const q = lastGroupQuery.replace(/'/g, "''");
  const filter = q ? `&$filter=startswith(displayName,'${q}')` : "";
  const v = await graph(`/groups?$select=id,displayName,assignedLicenses,licenseProcessingState&$top=50${filter}`);
  const rows = [];
  for (const g of v.value) {
    const tr = document.createElement("tr");
    tr.dataset.group = g.displayName;
    const name = document.createElement("th");
    name.scope = "row";
    name.textContent = g.displayName;
    const lic = document.createElement("td");
    for (const l of g.assignedLicenses) {
      const chip = document.createElement("span");
      chip.className = "lic";
      chip.textContent = partNumber(l.skuId);
      lic.append(chip);
    }
    if (!g.assignedLicenses.length) lic.append("none");
    const proc = document.createElement("td");
    proc.className = "processing";
    proc.textContent = g.licenseProcessingState ? g.licenseProcessingState.state : "—";
    const members = document.createElement("td");
    members.className = "members";
    members.textContent = String(await graphCount(`/groups/${g.id}/members/$count`));
    tr.append(name, lic, proc, members);
    rows.push(tr);
  }
  $("group-table").querySelector("tbody").replaceChildren(...rows);
  $("group-table").hidden = false;
}

let historySeq = 0;

async function showHistory() {
  // Only the latest request draws the table (an earlier, slower one must not overwrite it).
  const seq = ++historySeq;
  const chosen = $("history-activity").value;
  const activity = chosen.replace(/'/g, "''");
  const filter = activity ? `&$filter=activityDisplayName eq '${activity}'` : "";
  const v = await graph(`/auditLogs/directoryAudits?$top=50${filter}`);
  if (seq !== historySeq) return;
  const rows = v.value.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.activity = r.activityDisplayName;
    const by = r.initiatedBy.user ? r.initiatedBy.user.userPrincipalName : (r.initiatedBy.app && r.initiatedBy.app.displayName);
    const on = r.targetResources.map((t) => t.userPrincipalName || t.displayName).join(", ");
    for (const text of [new Date(r.activityDateTime).toLocaleString(), r.activityDisplayName, by || "", on]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  });
  $("history-table").querySelector("tbody").replaceChildren(...rows);
  $("history-table").dataset.activity = chosen;
  $("history-table").hidden = false;
  status(rows.length ? "" : "Nothing recorded yet.");
}

function show(page) {
  for (const p of ["products", "users", "groups", "errors", "history"]) $(p).hidden = p !== page;
  for (const b of document.querySelectorAll("#tabs button")) {
    if (b.dataset.page === page) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  }
  if (page === "products") showProducts().catch((e) => status(e.message));
  if (page === "errors") showErrors().catch((e) => status(e.message));
  if (page === "history") showHistory().catch((e) => status(e.message));
}

async function main() {
  const params = new URLSearchParams(location.search);
  try {
    if (params.get("error")) throw new Error(params.get("error_description") || params.get("error"));
    if (params.get("code")) await redeem(params.get("code"), params.get("state"));
    const session = JSON.parse(sessionStorage.getItem("allot.session") || "null");
    if (!session) {
      $("tenant").value = localStorage.getItem("allot.tenant") || "contoso.example";
      $("sign-in").hidden = false;
      return;
    }
    const me = await graph("/me?$select=displayName,userPrincipalName");
    $("who").textContent = `${me.displayName} (${me.userPrincipalName})`;
    $("sign-out").hidden = false;
    $("tabs").hidden = false;
    await showProducts();
    $("products").hidden = false;
  } catch (e) {
    $("sign-in").hidden = false;
    status(e.message);
  }
}

$("sign-in-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const tenant = $("tenant").value.trim();
  localStorage.setItem("allot.tenant", tenant);
  signIn(tenant).catch((e) => status(e.message));
});
for (const b of document.querySelectorAll("#tabs button")) {
  b.addEventListener("click", () => show(b.dataset.page));
}
$("history-filter").addEventListener("submit", (ev) => {
  ev.preventDefault();
  showHistory().catch((e) => status(e.message));
});
$("group-search").addEventListener("submit", (ev) => {
  ev.preventDefault();
  lastGroupQuery = $("group-query").value.trim();
  searchGroups().catch((e) => status(e.message));
});
$("user-search").addEventListener("submit", (ev) => {
  ev.preventDefault();
  lastQuery = $("user-query").value.trim();
  searchUsers().catch((e) => status(e.message));
});
$("sign-out").addEventListener("click", () => {
  sessionStorage.removeItem("allot.session");
  location.assign(REDIRECT);
});
main();

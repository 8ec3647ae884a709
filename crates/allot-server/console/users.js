// Users: search by name, UPN or product; each user's licenses with where they come from, the
// plans turned off and errors in plain words; for the roles that may change licenses, assign a
// product with a choice of its service plans, remove a direct license, and assign one product to
// a selection of users at once (through Graph's $batch, 20 requests per call).
import { $, el, button, graph, skus, loadSkus, partNumber, mayChangeLicenses, lit, status, source, REASONS } from "./kit.js";

let lastQuery = "";
let lastSku = "";

/** The product picker with its service plans (checked = enabled) for one user or the selection. */
function productPicker(who) {
  const box = el("span", "", { class: "picker" });
  const pick = el("select", "", { "aria-label": `Product to assign to ${who}` });
  for (const k of skus) pick.append(new Option(k.skuPartNumber, k.skuId));
  const plans = el("details", "", { class: "plans" });
  plans.append(el("summary", "Service plans"));
  const list = el("div", "", { role: "group", "aria-label": `Service plans to enable for ${who}` });
  plans.append(list);
  const fill = () => {
    const sku = skus.find((k) => k.skuId === pick.value);
    list.replaceChildren(...(sku ? sku.servicePlans : []).filter((p) => p.appliesTo === "User").map((p) => {
      const label = el("label", "", { class: "plan" });
      const box = el("input", "", { type: "checkbox", value: p.servicePlanId, "aria-label": `${p.servicePlanName} for ${who}` });
      box.checked = true;
      label.append(box, ` ${p.servicePlanName}`);
      return label;
    }));
  };
  pick.addEventListener("change", fill);
  fill();
  box.append(pick, plans);
  const license = () => ({
    skuId: pick.value,
    disabledPlans: [...list.querySelectorAll("input:not(:checked)")].map((c) => c.value),
  });
  return { box, license };
}

async function licenseCell(u, writer, note) {
  const td = el("td");
  const states = u.licenseAssignmentStates || [];
  for (const s of states) {
    const c = el("span", partNumber(s.skuId), { class: s.state === "Error" ? "lic error" : "lic" });
    c.append(el("small", ` ${await source(s)}`));
    if (s.disabledPlans.length) {
      const sku = skus.find((k) => k.skuId === s.skuId);
      const names = s.disabledPlans.map((id) => (sku && sku.servicePlans.find((p) => p.servicePlanId === id) || {}).servicePlanName || id);
      c.append(el("small", ` · ${names.length} plan${names.length > 1 ? "s" : ""} off`, { title: names.join(", ") }));
    }
    if (s.state === "Error") {
      const [why, fix] = REASONS[s.error] || REASONS.Other;
      c.append(el("small", ` · cannot be applied: ${why} (fix: ${fix})`, { class: "reason" }));
    }
    if (writer && !s.assignedByGroup) {
      c.append(button("Remove", `Remove ${partNumber(s.skuId)} from ${u.displayName}`,
        () => change(u, { addLicenses: [], removeLicenses: [s.skuId] }, note)));
    }
    td.append(c);
  }
  if (!states.length) td.append("none");
  td.append(note);
  return td;
}

async function userRow(u, writer) {
  const tr = el("tr", "", { "data-upn": u.userPrincipalName });
  if (writer) {
    const pickCell = el("td");
    pickCell.append(el("input", "", { type: "checkbox", class: "select", value: u.id, "aria-label": `Select ${u.displayName}` }));
    tr.append(pickCell);
  }
  const who = el("td");
  who.append(el("strong", u.displayName), el("br"), el("span", u.userPrincipalName, { class: "upn" }));
  const note = el("span", "", { class: "row-status", role: "status" });
  tr.append(who, await licenseCell(u, writer, note));
  if (writer) {
    const act = el("td");
    const { box, license } = productPicker(u.displayName);
    act.append(box, " ", button("Assign", `Assign the chosen product to ${u.displayName}`,
      () => change(u, { addLicenses: [license()], removeLicenses: [] }, note)));
    tr.append(act);
  }
  return tr;
}

async function change(u, body, note) {
  note.textContent = "";
  try {
    await graph(`/users/${u.id}/assignLicense`, "POST", body);
    await search();
    status(`Licenses of ${u.displayName} changed.`);
  } catch (e) {
    // The API's own message: why the change was refused, in plain words.
    note.textContent = e.message.replace(/^[A-Za-z_]+: /, "");
  }
}

async function search() {
  const terms = [];
  if (lastQuery) terms.push(`(startswith(displayName,${lit(lastQuery)}) or startswith(userPrincipalName,${lit(lastQuery)}))`);
  if (lastSku) terms.push(`assignedLicenses/any(x:x/skuId eq ${lastSku})`);
  const filter = terms.length ? `&$filter=${encodeURIComponent(terms.join(" and "))}` : "";
  const v = await graph(`/users?$select=id,displayName,userPrincipalName,licenseAssignmentStates&$top=50${filter}`);
  const writer = mayChangeLicenses();
  $("change-col").hidden = !writer;
  $("select-col").hidden = !writer;
  $("bulk").hidden = !writer;
  const rows = [];
  for (const u of v.value) rows.push(await userRow(u, writer));
  $("user-table").querySelector("tbody").replaceChildren(...rows);
  $("user-table").hidden = false;
  status(rows.length ? "" : "No user matches.");
}

/** Assigns the bulk picker's product to every selected user, 20 per `$batch`. */
async function bulkAssign(license) {
  const chosen = [...document.querySelectorAll("#user-table input.select:checked")];
  if (!chosen.length) return status("Select users first.");
  const failed = [];
  for (let i = 0; i < chosen.length; i += 20) {
    const requests = chosen.slice(i, i + 20).map((c, n) => ({
      id: String(n + 1), method: "POST", url: `/users/${c.value}/assignLicense`,
      headers: { "content-type": "application/json" }, body: { addLicenses: [license], removeLicenses: [] },
    }));
    const v = await graph("/$batch", "POST", { requests });
    for (const r of v.responses) {
      if (r.status >= 300) {
        const who = chosen[i + Number(r.id) - 1].closest("tr").dataset.upn;
        failed.push(`${who}: ${r.body && r.body.error ? r.body.error.message : `HTTP ${r.status}`}`);
      }
    }
  }
  await search();
  const done = chosen.length - failed.length;
  status(`${partNumber(license.skuId)} assigned to ${done} of ${chosen.length} selected users.${failed.length ? ` Refused: ${failed.join("; ")}` : ""}`);
}

export async function show() {
  if (!skus.length) await loadSkus();
  const filter = $("user-sku");
  if (filter.options.length <= 1) for (const k of skus) filter.append(new Option(k.skuPartNumber, k.skuId));
  const bulk = $("bulk-picker");
  if (!bulk.childElementCount) {
    const { box, license } = productPicker("the selected users");
    bulk.append(box, " ", button("Assign to selected", "Assign the chosen product to the selected users", () =>
      bulkAssign(license()).catch((e) => status(e.message))));
  }
}

export function bind() {
  $("user-search").addEventListener("submit", (ev) => {
    ev.preventDefault();
    lastQuery = $("user-query").value.trim();
    lastSku = $("user-sku").value;
    search().catch((e) => status(e.message));
  });
}

// Products: a seat gauge per subscribed SKU (the same numbers as subscribedSkus, plus the members
// waiting for a unit in beta cloudLicensing's waiting rooms), its service plans, and who holds it
// through what: directly, or which group.
import { $, el, button, graph, beta, graphCount, loadSkus, status, guarded, table, nextPath, groupName } from "./kit.js";

/** Members waiting for a unit, per SKU id (from the beta allotments' waiting rooms). */
async function waitingBySku() {
  const out = {};
  try {
    const allotments = await beta("/admin/cloudLicensing/allotments?$select=id,skuId");
    for (const a of allotments.value) {
      const n = await graphCount(`/admin/cloudLicensing/allotments/${a.id}/waitingMembers/$count`, "beta");
      out[a.skuId] = (out[a.skuId] || 0) + n;
    }
  } catch {
    // A person without a cloudLicensing reader role still sees the gauges.
  }
  return out;
}

function card(sku, waiting) {
  const li = el("li", "", { class: "card", "data-sku": sku.skuPartNumber });
  const enabled = sku.prepaidUnits.enabled;
  const used = sku.consumedUnits;
  const share = enabled > 0 ? Math.min(100, Math.round((used / enabled) * 100)) : 100;
  const kind = used > enabled ? "gauge over" : used === enabled ? "gauge full" : "gauge";
  const meter = el("div", "", {
    class: kind, role: "meter", "aria-valuemin": "0", "aria-valuemax": String(enabled), "aria-valuenow": String(used),
    "aria-label": `${sku.skuPartNumber}: ${used} of ${enabled} seats used`,
  });
  const fill = el("div");
  fill.style.width = `${share}%`;
  meter.append(fill);
  const st = el("span", sku.capabilityStatus, { class: `status ${sku.capabilityStatus}` });
  const numbers = el("div", "", { class: "numbers" });
  numbers.append(el("span", `${used} of ${enabled} seats used`, { class: "used" }), st);
  const p = sku.prepaidUnits;
  const extra = el("div", `warning ${p.warning} · suspended ${p.suspended} · locked out ${p.lockedOut}`, { class: "numbers extra" });
  const wait = el("div", `${waiting} waiting for a seat`, { class: waiting ? "waiting some" : "waiting" });
  const details = el("div", "", { class: "details", hidden: "" });
  const open = button("Details", `Details of ${sku.skuPartNumber}`, guarded(async () => {
    const showing = !details.hidden;
    details.hidden = showing;
    open.setAttribute("aria-expanded", String(!showing));
    if (!showing && !details.childElementCount) await fillDetails(sku, details);
  }));
  open.setAttribute("aria-expanded", "false");
  li.append(el("h3", sku.skuPartNumber), el("div", sku.skuId, { class: "id" }), meter, numbers, extra, wait, open, details);
  return li;
}

/** Service plans, then the holders a page at a time with the source of each one's license. */
async function fillDetails(sku, box) {
  const plans = el("ul", "", { class: "plans", "aria-label": `Service plans of ${sku.skuPartNumber}` });
  for (const p of sku.servicePlans) {
    plans.append(el("li", `${p.servicePlanName} · ${p.provisioningStatus} · ${p.appliesTo}`));
  }
  const { table: holders, body } = table(`Who holds ${sku.skuPartNumber}`, ["User", "Through"], { class: "holders" });
  box.append(el("h4", "Service plans"), plans, holders);
  let next = `/users?$filter=assignedLicenses/any(x:x/skuId eq ${sku.skuId})&$select=id,displayName,userPrincipalName,licenseAssignmentStates&$top=20`;
  const more = button("More holders", `More holders of ${sku.skuPartNumber}`, guarded(() => page()));
  box.append(more);
  async function page() {
    const v = await graph(next);
    const rows = [];
    for (const u of v.value) {
      const tr = el("tr", "", { "data-upn": u.userPrincipalName });
      const through = [];
      for (const s of u.licenseAssignmentStates.filter((x) => x.skuId === sku.skuId && x.state === "Active")) {
        through.push(s.assignedByGroup ? `group ${await groupName(s.assignedByGroup)}` : "direct");
      }
      tr.append(el("td", `${u.displayName} (${u.userPrincipalName})`), el("td", through.join(", "), { class: "through" }));
      rows.push(tr);
    }
    body.append(...rows);
    holders.dataset.rows = String(body.childElementCount);
    next = nextPath(v);
    more.hidden = !next;
  }
  await page();
}

export async function show() {
  status("Loading products…");
  const list = await loadSkus();
  const waiting = await waitingBySku();
  $("sku-list").replaceChildren(...list.map((s) => card(s, waiting[s.skuId] || 0)));
  status("");
}

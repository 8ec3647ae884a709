// Partner view: for a user of a partner tenant, its customers (Partner Center `/v1/customers`),
// each customer's subscribed SKUs and its users with their licenses, read with the Partner Center
// token the console redeemed at sign-in (the same refresh token, Partner Center's scope).
import { $, el, button, partner, status, guarded, table } from "./kit.js";

async function customer(c) {
  const box = $("partner-customer");
  box.replaceChildren(el("h3", c.companyProfile.companyName, { id: "partner-customer-title" }));
  box.hidden = false;
  const skus = await partner(`/customers/${c.id}/subscribedskus`);
  const { table: st, body: sb } = table(`Products of ${c.companyProfile.companyName}`,
    ["Product", "Consumed", "Available", "Total", "Status"], { class: "partner-skus" });
  for (const s of skus.items) {
    const tr = el("tr", "", { "data-sku": s.productSku.skuPartNumber });
    for (const text of [s.productSku.skuPartNumber, s.consumedUnits, s.availableUnits, s.totalUnits, s.capabilityStatus]) tr.append(el("td", String(text)));
    sb.append(tr);
  }
  box.append(st);
  const { table: ut, body: ub } = table(`Users of ${c.companyProfile.companyName} and their licenses`, ["User", "Licenses"], { class: "partner-users" });
  box.append(ut);
  const users = await partner(`/customers/${c.id}/users?size=20`);
  for (const u of users.items) {
    const lic = await partner(`/customers/${c.id}/users/${u.id}/licenses`);
    const tr = el("tr", "", { "data-upn": u.userPrincipalName });
    const cell = el("td");
    for (const l of lic.items) cell.append(el("span", l.productSku.skuPartNumber, { class: "lic" }));
    if (!lic.items.length) cell.append("none");
    tr.append(el("td", `${u.displayName} (${u.userPrincipalName})`), cell);
    ub.append(tr);
  }
  if (users.totalCount > users.items.length) box.append(el("p", `First ${users.items.length} of ${users.totalCount} users.`, { class: "hint" }));
  status("");
}

export async function show() {
  status("Loading customers…");
  const v = await partner("/customers");
  const { table: t, body } = table("Customers you manage through a relationship", ["Customer", "Domain", ""], { id: "customer-table" });
  for (const c of v.items) {
    const tr = el("tr", "", { "data-customer": c.companyProfile.domain });
    const open = el("td");
    open.append(button("Open", `Open ${c.companyProfile.companyName}`, guarded(() => customer(c))));
    tr.append(el("td", c.companyProfile.companyName), el("td", c.companyProfile.domain), open);
    body.append(tr);
  }
  $("partner-customers").replaceChildren(t);
  $("partner-customer").hidden = true;
  status(v.items.length ? "" : "No customer relationship.");
}

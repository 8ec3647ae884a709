// Errors and waiting rooms: every group member a group could not license, with the reason and the
// fix in plain words (Reprocess for the roles that may change licenses), and every member waiting
// for a unit in beta cloudLicensing's waiting rooms, longest-waiting first.
import { $, el, button, graph, beta, partNumber, loadSkus, skus, mayChangeLicenses, status, REASONS } from "./kit.js";

async function groupErrors(writer) {
  const groups = await graph("/groups?$filter=hasMembersWithLicenseErrors eq true&$select=id,displayName");
  const blocks = [];
  for (const g of groups.value) {
    const div = el("div", "", { class: "group-errors", "data-group": g.displayName });
    const ul = el("ul");
    const members = await graph(`/groups/${g.id}/membersWithLicenseErrors?$select=id,displayName,userPrincipalName,licenseAssignmentStates`);
    for (const m of members.value) {
      for (const st of m.licenseAssignmentStates.filter((x) => x.assignedByGroup === g.id && x.error !== "None")) {
        const [why, fix] = REASONS[st.error] || REASONS.Other;
        const li = el("li", "", { "data-upn": m.userPrincipalName });
        li.append(el("strong", m.displayName), " cannot get ", el("span", partNumber(st.skuId), { class: "sku" }), ": ",
          el("span", why, { class: "reason" }), ". ", el("span", `Fix: ${fix}.`, { class: "fix" }), " ");
        if (writer) {
          li.append(button("Reprocess", `Reprocess ${m.displayName}`, async () => {
            try {
              await graph(`/users/${m.id}/reprocessLicenseAssignment`, "POST", {});
              status(`${m.displayName} reprocessed.`);
              await show();
            } catch (e) { status(e.message); }
          }));
        }
        ul.append(li);
      }
    }
    div.append(el("h3", g.displayName), ul);
    blocks.push(div);
  }
  return blocks;
}

/** The waiting rooms: per allotment, its members in the order they will be seated. */
async function waitingRooms() {
  const blocks = [];
  const allotments = await beta("/admin/cloudLicensing/allotments?$select=id,skuId,skuPartNumber,allottedUnits,consumedUnits");
  for (const a of allotments.value) {
    const v = await beta(`/admin/cloudLicensing/allotments/${a.id}/waitingMembers?$expand=assignedTo&$top=50`);
    if (!v.value.length) continue;
    const div = el("div", "", { class: "group-errors waiting-room", "data-sku": a.skuPartNumber });
    div.append(el("h3", `${a.skuPartNumber}: ${v.value.length}${v["@odata.nextLink"] ? "+" : ""} waiting`),
      el("p", `${a.consumedUnits} of ${a.allottedUnits} units in use. Fix: add units to the subscription or free some; waiting members are then seated in this order, by themselves.`, { class: "fix" }));
    const ol = el("ol");
    for (const w of v.value) {
      const who = w.assignedTo || {};
      const li = el("li", "", { "data-upn": who.userPrincipalName || who.id || w.id });
      li.append(el("strong", who.displayName || who.id || w.id), ` waits since ${new Date(w.waitingSinceDateTime).toLocaleString()}`);
      ol.append(li);
    }
    div.append(ol);
    blocks.push(div);
  }
  return blocks;
}

export async function show() {
  status("Looking for members in error…");
  if (!skus.length) await loadSkus();
  const errors = await groupErrors(mayChangeLicenses());
  $("error-groups").replaceChildren(...errors);
  let waiting = [];
  try {
    waiting = await waitingRooms();
  } catch (e) {
    waiting = [el("p", `The waiting rooms could not be read: ${e.message}`, { class: "hint" })];
  }
  $("waiting-rooms").replaceChildren(...(waiting.length ? waiting : [el("p", "Nobody is waiting for a unit.", { class: "hint" })]));
  status(errors.length ? "" : "No member is in error.");
}

// Groups: search by name; each group's licenses, processing state and member count; opened, a
// group shows its processing timeline (its audit records), its members with their state for the
// group's licenses, and (for the roles that may change licenses) reprocesses its members in error.
import { $, el, button, graph, graphCount, partNumber, chip, loadSkus, skus, mayChangeLicenses, lit, status, guarded, table, nextPath, REASONS } from "./kit.js";

let lastQuery = "";

async function search() {
  if (!skus.length) await loadSkus();
  const filter = lastQuery ? `&$filter=startswith(displayName,${lit(lastQuery)})` : "";
  const v = await graph(`/groups?$select=id,displayName,assignedLicenses,licenseProcessingState&$top=50${filter}`);
  const rows = [];
  for (const g of v.value) {
    const tr = el("tr", "", { "data-group": g.displayName });
    const name = el("th", "", { scope: "row" });
    name.append(button(g.displayName, `Open ${g.displayName}`, guarded(() => open(g))));
    const lic = el("td");
    for (const l of g.assignedLicenses) lic.append(chip(l.skuId));
    if (!g.assignedLicenses.length) lic.append("none");
    const proc = el("td", g.licenseProcessingState ? g.licenseProcessingState.state : "—", { class: "processing" });
    const members = el("td", String(await graphCount(`/groups/${g.id}/members/$count`)), { class: "members" });
    tr.append(name, lic, proc, members);
    rows.push(tr);
  }
  $("group-table").querySelector("tbody").replaceChildren(...rows);
  $("group-table").hidden = false;
  $("group-detail").hidden = true;
  status(rows.length ? "" : "No group matches.");
}

/** The group's audit records, newest first: license changes, memberships, processing results. */
async function timeline(g) {
  const v = await graph(`/auditLogs/directoryAudits?$top=20&$filter=${encodeURIComponent(`targetResources/any(t: t/id eq ${lit(g.id)})`)}`);
  const ol = el("ol", "", { class: "timeline", "aria-label": `Processing timeline of ${g.displayName}` });
  for (const r of v.value) {
    const li = el("li", "", { "data-activity": r.activityDisplayName });
    li.append(el("time", new Date(r.activityDateTime).toLocaleString(), { datetime: r.activityDateTime }), " ",
      el("strong", r.activityDisplayName));
    const mine = r.targetResources.find((t) => t.id === g.id) || { modifiedProperties: [] };
    const other = r.targetResources.filter((t) => t.id !== g.id).map((t) => t.userPrincipalName || t.displayName);
    const facts = mine.modifiedProperties
      .filter((p) => ["MembersWithLicenses", "MembersWithLicenseErrors"].includes(p.displayName))
      .map((p) => `${p.displayName === "MembersWithLicenses" ? "licensed" : "in error"} ${JSON.parse(p.newValue)}`);
    const what = [...other, ...facts].join(" · ");
    if (what) li.append(` — ${what}`);
    ol.append(li);
  }
  if (!v.value.length) ol.append(el("li", "Nothing recorded yet."));
  return ol;
}

async function open(g) {
  const box = $("group-detail");
  box.replaceChildren(el("h3", g.displayName, { id: "group-detail-title" }));
  box.hidden = false;
  const state = g.licenseProcessingState ? g.licenseProcessingState.state : "no licenses";
  box.append(el("p", `Licenses: ${g.assignedLicenses.map((l) => partNumber(l.skuId)).join(", ") || "none"} · processing: ${state}`));
  box.append(el("h4", "Timeline"), await timeline(g));
  const { table: t, body } = table(`Members of ${g.displayName} and their state for its licenses`, ["Member", "State"], { class: "members-table" });
  box.append(el("h4", "Members"), t);
  let next = `/groups/${g.id}/members?$select=id,displayName,userPrincipalName,licenseAssignmentStates&$top=50`;
  const inError = [];
  const more = button("More members", `More members of ${g.displayName}`, guarded(() => page()));
  box.append(more);
  async function page() {
    const v = await graph(next);
    for (const m of v.value) {
      const tr = el("tr", "", { "data-upn": m.userPrincipalName || m.displayName });
      const mine = (m.licenseAssignmentStates || []).filter((s) => s.assignedByGroup === g.id);
      const words = mine.map((s) => {
        if (s.state !== "Error") return `${partNumber(s.skuId)} ${s.state.toLowerCase()}`;
        const [why] = REASONS[s.error] || REASONS.Other;
        return `${partNumber(s.skuId)}: ${why}`;
      });
      if (mine.some((s) => s.state === "Error")) inError.push(m);
      tr.append(el("td", m.userPrincipalName ? `${m.displayName} (${m.userPrincipalName})` : m.displayName),
        el("td", words.join(" · ") || "—", { class: mine.some((s) => s.state === "Error") ? "state reason" : "state" }));
      body.append(tr);
    }
    next = nextPath(v);
    more.hidden = !next;
    reprocess.hidden = !mayChangeLicenses() || !inError.length;
  }
  const reprocess = button("Reprocess members in error", `Reprocess the members of ${g.displayName} in error`, guarded(async () => {
    const errs = await graph(`/groups/${g.id}/membersWithLicenseErrors?$select=id&$top=999`);
    for (const m of errs.value) await graph(`/users/${m.id}/reprocessLicenseAssignment`, "POST", {});
    status(`${errs.value.length} member${errs.value.length === 1 ? "" : "s"} of ${g.displayName} reprocessed.`);
    const fresh = await graph(`/groups/${g.id}?$select=id,displayName,assignedLicenses,licenseProcessingState`);
    await open(fresh);
  }));
  reprocess.hidden = true;
  box.append(reprocess);
  await page();
  box.querySelector("h3").focus?.();
}

export function bind() {
  $("group-search").addEventListener("submit", (ev) => {
    ev.preventDefault();
    lastQuery = $("group-query").value.trim();
    search().catch((e) => status(e.message));
  });
}

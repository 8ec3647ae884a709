// History: consumption per SKU over time as a chart drawn from the audit log, and the activity
// list (newest first) filtered by activity and by who made the change.
import { $, el, graph, loadSkus, lit, status, nextPath } from "./kit.js";

const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#2f6fde", "#c77700", "#2a9d55", "#b03a8c", "#6b4fd8", "#c0392b", "#138a9e", "#7a6a00"];
const DAYS = 30;

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

/** The SKU ids in an `AssignedLicense` value (a JSON string of `[{SkuId, ...}]`), as a set. */
function skuSet(value) {
  try {
    return new Set((JSON.parse(value || "[]") || []).map((l) => l.SkuId));
  } catch {
    return new Set();
  }
}

/**
 * Each SKU's consumed units over the last DAYS days, walking the audit log back from now:
 * an "Update user" record's AssignedLicense (old → new) is one user's change, a "Group license
 * processing completed" record's ConsumedUnits is every SKU's count at that moment. Returns
 * `{skuId: [[time, units], ...]}` oldest first.
 */
async function consumption(skus) {
  const since = new Date(Date.now() - DAYS * 86400000);
  const cur = Object.fromEntries(skus.map((s) => [s.skuId, s.consumedUnits]));
  const now = Date.now();
  const points = Object.fromEntries(skus.map((s) => [s.skuId, [[now, s.consumedUnits]]]));
  const filter = `activityDisplayName in ('Update user','Group license processing completed') and activityDateTime ge ${since.toISOString()}`;
  let next = `/auditLogs/directoryAudits?$top=999&$filter=${encodeURIComponent(filter)}`;
  for (let pages = 0; next && pages < 10; pages++) {
    const v = await graph(next);
    for (const r of v.value) {
      const t = Date.parse(r.activityDateTime);
      const props = (r.targetResources[0] || {}).modifiedProperties || [];
      if (r.activityDisplayName === "Group license processing completed") {
        const anchor = props.find((p) => p.displayName === "ConsumedUnits");
        for (const c of anchor ? JSON.parse(anchor.newValue) : []) {
          if (!(c.SkuId in cur)) continue;
          cur[c.SkuId] = c.ConsumedUnits;
          points[c.SkuId].push([t, c.ConsumedUnits]);
        }
        continue;
      }
      const lic = props.find((p) => p.displayName === "AssignedLicense");
      if (!lic) continue;
      const before = skuSet(lic.oldValue);
      const after = skuSet(lic.newValue);
      for (const id of new Set([...before, ...after])) {
        const d = (after.has(id) ? 1 : 0) - (before.has(id) ? 1 : 0);
        if (!d || !(id in cur)) continue;
        points[id].push([t, cur[id]]);
        cur[id] -= d;
        points[id].push([t - 1, cur[id]]);
      }
    }
    next = nextPath(v);
  }
  for (const id of Object.keys(points)) {
    points[id].push([since.getTime(), cur[id]]);
    points[id].reverse();
  }
  return { since: since.getTime(), now, points };
}

/** One small chart per product, each on its own scale (a 10,000-seat free SKU beside a 5-seat one). */
function chart(skus, { since, now, points }) {
  const W = 320, H = 96, L = 34, B = 18, T = 6;
  const fig = el("figure", "", { id: "consumption" });
  const grid = el("ul", "", { class: "sparks" });
  skus.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const ps = points[s.skuId];
    const high = Math.max(...ps.map((p) => p[1]));
    const low = Math.min(...ps.map((p) => p[1]));
    const enabled = s.prepaidUnits.enabled;
    // The enabled units are drawn (dashed) when they are near enough to the consumption to read.
    const showEnabled = enabled <= 2 * Math.max(high, 1);
    const top = Math.max(1, high, showEnabled ? enabled : 0);
    const x = (t) => L + ((t - since) / (now - since)) * (W - L - 6);
    const y = (n) => T + (1 - n / top) * (H - T - B);
    const g = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "chart",
      "aria-label": `${s.skuPartNumber}: ${s.consumedUnits} of ${enabled} units consumed now; over the last ${DAYS} days between ${low} and ${high}` });
    for (const n of [0, top]) {
      g.append(svg("line", { x1: L, x2: W - 6, y1: y(n), y2: y(n), class: "grid" }));
      const label = svg("text", { x: L - 5, y: y(n) + 4, "text-anchor": "end", class: "axis" });
      label.textContent = String(n);
      g.append(label);
    }
    if (showEnabled) g.append(svg("line", { x1: L, x2: W - 6, y1: y(enabled), y2: y(enabled), class: "enabled" }));
    for (const [t, anchor] of [[since, "start"], [now, "end"]]) {
      const label = svg("text", { x: x(t), y: H - 4, "text-anchor": anchor, class: "axis" });
      label.textContent = new Date(t).toLocaleDateString();
      g.append(label);
    }
    let d = `M${x(ps[0][0])},${y(ps[0][1])}`;
    for (let k = 1; k < ps.length; k++) d += `H${x(ps[k][0])}V${y(ps[k][1])}`;
    d += `H${x(now)}`;
    g.append(svg("path", { d, class: "series", stroke: color, "data-sku": s.skuPartNumber,
      "data-points": ps.map(([t, n]) => `${t}:${n}`).join(" ") }));
    const li = el("li", "", { "data-sku": s.skuPartNumber });
    li.append(el("strong", s.skuPartNumber),
      el("span", ` ${s.consumedUnits} of ${enabled} now (lowest ${low}, highest ${high})`, { class: "hint" }), g);
    grid.append(li);
  });
  fig.append(el("figcaption", `Consumed units per product, last ${DAYS} days, drawn from the audit log; dashed: enabled units`), grid);
  return fig;
}

let historySeq = 0;

async function list() {
  // Only the latest request draws the table (an earlier, slower one must not overwrite it).
  const seq = ++historySeq;
  const chosen = $("history-activity").value;
  const by = $("history-by").value.trim();
  const terms = [];
  if (chosen) terms.push(`activityDisplayName eq ${lit(chosen)}`);
  if (by) terms.push(`initiatedBy/user/userPrincipalName eq ${lit(by)}`);
  const filter = terms.length ? `&$filter=${encodeURIComponent(terms.join(" and "))}` : "";
  const v = await graph(`/auditLogs/directoryAudits?$top=50${filter}`);
  if (seq !== historySeq) return;
  const rows = v.value.map((r) => {
    const tr = el("tr", "", { "data-activity": r.activityDisplayName });
    const who = r.initiatedBy.user ? r.initiatedBy.user.userPrincipalName : (r.initiatedBy.app && r.initiatedBy.app.displayName);
    const on = r.targetResources.map((t) => t.userPrincipalName || t.displayName).join(", ");
    for (const text of [new Date(r.activityDateTime).toLocaleString(), r.activityDisplayName, who || "", on]) tr.append(el("td", text));
    return tr;
  });
  $("history-table").querySelector("tbody").replaceChildren(...rows);
  $("history-table").dataset.activity = chosen;
  $("history-table").hidden = false;
  status(rows.length ? "" : "Nothing recorded yet.");
}

export async function show() {
  const skus = await loadSkus();
  const drawn = chart(skus, await consumption(skus));
  $("consumption").replaceWith(drawn);
  await list();
}

export function bind() {
  $("history-filter").addEventListener("submit", (ev) => {
    ev.preventDefault();
    list().catch((e) => status(e.message));
  });
}

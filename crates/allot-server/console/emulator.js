// Emulator controls, behind the admin key (Allot's admin API, loopback clients only): the
// tenant's processing mode and its pending licensing jobs, throttling, subscription units, and
// resetting the tenant to its seed.
import { $, el, button, admin, session, partNumber, loadSkus, skus, status, guarded, table } from "./kit.js";

const tenant = () => encodeURIComponent(session().tenant);

async function processing() {
  const p = await admin(`/tenants/${tenant()}/processing`);
  $("emu-mode").value = p.mode;
  $("emu-pending").textContent = `${p.pendingJobs} pending licensing job${p.pendingJobs === 1 ? "" : "s"}`;
}

async function throttling() {
  const t = await admin(`/tenants/${tenant()}/throttle`);
  $("emu-throttle-state").textContent = t.requests
    ? `The next ${t.requests} requests answer 429 (Retry-After ${t.retryAfterSeconds} s).`
    : "Not throttled.";
}

async function units() {
  if (!skus.length) await loadSkus();
  const subs = await admin(`/tenants/${tenant()}/subscriptions`);
  const { table: t, body } = table("Units of each subscription (as the commerce system would set them)",
    ["Product", "Enabled", "Warning", "Suspended", "Locked out", ""], { id: "emu-units" });
  for (const s of subs.value) {
    const name = partNumber(s.skuId);
    const tr = el("tr", "", { "data-sku": name });
    tr.append(el("th", name, { scope: "row" }));
    const inputs = {};
    for (const [k, words] of [["enabled", "enabled"], ["warning", "warning"], ["suspended", "suspended"], ["lockedOut", "locked-out"]]) {
      const td = el("td");
      const input = el("input", "", { type: "number", min: "0", step: "1", value: String(s[k]), class: "units", "aria-label": `${name} ${words} units` });
      inputs[k] = input;
      td.append(input);
      tr.append(td);
    }
    const save = el("td");
    save.append(button("Save", `Save the units of ${name}`, guarded(async () => {
      const body = Object.fromEntries(Object.entries(inputs).map(([k, i]) => [k, Number(i.value)]));
      await admin(`/tenants/${tenant()}/subscriptions/${s.id}`, "PATCH", body);
      await loadSkus();
      status(`Units of ${name} saved.`);
    })));
    tr.append(save);
    body.append(tr);
  }
  $("emu-units").replaceWith(t);
}

async function unlocked() {
  $("emu-controls").hidden = false;
  await processing();
  await throttling();
  await units();
}

export async function show() {
  if (sessionStorage.getItem("allot.adminKey")) {
    try {
      await unlocked();
      $("emu-key-form").hidden = true;
      return;
    } catch (e) {
      sessionStorage.removeItem("allot.adminKey");
      status(e.message);
    }
  }
  $("emu-key-form").hidden = false;
  $("emu-controls").hidden = true;
}

export function bind() {
  $("emu-key-form").addEventListener("submit", guarded(async (ev) => {
    ev.preventDefault();
    sessionStorage.setItem("allot.adminKey", $("emu-key").value.trim());
    $("emu-key").value = "";
    await show();
  }));
  $("emu-mode-form").addEventListener("submit", guarded(async (ev) => {
    ev.preventDefault();
    const mode = $("emu-mode").value;
    await admin(`/tenants/${tenant()}/processing`, "PUT", { mode });
    await processing();
    status(`Processing mode: ${mode}.`);
  }));
  $("emu-run").addEventListener("click", guarded(async () => {
    const r = await admin(`/processing/run?tenant=${tenant()}`, "POST");
    await processing();
    status(`${r.jobsRun} job${r.jobsRun === 1 ? "" : "s"} run.`);
  }));
  $("emu-throttle-form").addEventListener("submit", guarded(async (ev) => {
    ev.preventDefault();
    await admin(`/tenants/${tenant()}/throttle`, "PUT", {
      requests: Number($("emu-throttle-requests").value), retryAfterSeconds: Number($("emu-throttle-seconds").value),
    });
    await throttling();
  }));
  $("emu-throttle-clear").addEventListener("click", guarded(async () => {
    await admin(`/tenants/${tenant()}/throttle`, "DELETE");
    await throttling();
  }));
  $("emu-reset").addEventListener("click", guarded(async () => {
    if (!confirm(`Reset ${session().tenant} to its seed? Every change made to it is lost.`)) return;
    await admin(`/tenants/${tenant()}/reset`, "POST");
    await unlocked();
    status(`${session().tenant} reset to its seed.`);
  }));
  $("emu-lock").addEventListener("click", () => {
    sessionStorage.removeItem("allot.adminKey");
    show();
  });
}

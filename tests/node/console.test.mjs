// The web console in a real browser: Debian's Chromium driven by playwright-core (pinned in
// package.json), against `allot serve` on the demo tenant. A person signs in through Allot's own
// sign-in page and sees the seat gauges; screenshots go to tests/node/artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const bin = process.env.ALLOT_BIN || join(here, "..", "..", "target", "debug", "allot");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const artifacts = join(here, "artifacts");

let server, dir, base, adminKey, browser;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (Debian: apt-get install chromium)`);
  mkdirSync(artifacts, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), "allot-console-"));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("ALLOT_")));
  server = spawn(bin, ["serve", "--data-dir", join(dir, "data"), "--listen", "127.0.0.1:0"], { env });
  let out = "";
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner: ${out}`)), 30000);
    server.stdout.on("data", (d) => {
      out += d;
      if (out.includes("Press Ctrl-C")) { clearTimeout(timer); resolve(); }
    });
    server.on("exit", (c) => reject(new Error(`allot exited ${c}: ${out}`)));
  });
  base = out.match(/Allot is listening on (http:\/\/\S+)/)[1].replace(/\/$/, "");
  adminKey = readFileSync(join(dir, "data", "admin-key"), "utf8").trim();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  server?.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A new tab signed in to the console as `upn` (a demo tenant user) through Allot's sign-in page. */
async function signedIn(upn, tenant = "contoso.example") {
  const page = await browser.newPage();
  await page.goto(`${base}/console`);
  await page.getByLabel("Tenant (domain or id)").fill(tenant);
  await page.getByRole("button", { name: "Sign in" }).click();
  // Allot's own sign-in page.
  await page.getByLabel("Email or user name").fill(upn);
  await page.getByLabel("Password").fill("allot-demo-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Products" }).waitFor();
  return page;
}

async function pbiUsed(page) {
  await page.getByRole("button", { name: "Products" }).click();
  const meter = page.locator('li[data-sku="POWER_BI_PRO"] [role="meter"]');
  await meter.waitFor();
  return Number(await meter.getAttribute("aria-valuenow"));
}

/** Opens Products and waits until the POWER_BI_PRO gauge reads `n` seats used. */
async function pbiReads(page, n) {
  await page.getByRole("button", { name: "Products" }).click();
  await page.locator(`li[data-sku="POWER_BI_PRO"] [role="meter"][aria-valuenow="${n}"]`).waitFor({ timeout: 5000 });
}

/** Graph with the demo tenant's app (client credentials). */
async function appApi() {
  const tokenRes = await fetch(`${base}/contoso.example/oauth2/v2.0/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: "5a1d0000-c0de-4a99-a000-00000000a001",
      client_secret: "allot-demo-secret", scope: "https://graph.microsoft.com/.default" }),
  });
  const app = (await tokenRes.json()).access_token;
  return async (path, method = "GET", body) => {
    const r = await fetch(`${base}/v1.0${path}`, { method, headers: { authorization: `Bearer ${app}`, "content-type": "application/json" },
      body: body && JSON.stringify(body) });
    return r.status === 204 ? null : r.json();
  };
}

/** The admin API on the demo tenant. */
const adminApi = (path, method = "GET", body) => fetch(`${base}/_allot/tenants/contoso.example${path}`, {
  method, headers: { "x-allot-admin-key": adminKey }, body: body && JSON.stringify(body) }).then((r) => (r.status === 204 ? null : r.json()));

test("a person signs in through Allot's page and sees every product's seat gauge", async () => {
  const page = await signedIn("admin@contoso.example");
  assert.match(await page.locator("#who").innerText(), /admin@contoso\.example/);
  const e3 = page.locator('li[data-sku="ENTERPRISEPACK"]');
  await e3.waitFor();
  const meter = e3.getByRole("meter");
  assert.equal(await meter.getAttribute("aria-valuemax"), "25");
  const consumed = Number(await meter.getAttribute("aria-valuenow"));
  // The gauge says what subscribedSkus says.
  const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem("allot.session")).token);
  const skus = await (await fetch(`${base}/v1.0/subscribedSkus`, { headers: { authorization: `Bearer ${token}` } })).json();
  const sku = skus.value.find((s) => s.skuPartNumber === "ENTERPRISEPACK");
  assert.equal(consumed, sku.consumedUnits);
  assert.match(await e3.innerText(), new RegExp(`${consumed} of 25 seats used`));
  assert.equal(await page.locator("li.card").count(), skus.value.length);
  await page.screenshot({ path: join(artifacts, "console-products.png"), fullPage: true });

  // Units raised through the admin API show on the next load.
  const subs = await (await fetch(`${base}/_allot/tenants/contoso.example/subscriptions`, { headers: { "x-allot-admin-key": adminKey } })).json();
  const e3sub = subs.value.find((s) => s.skuId === sku.skuId);
  const r = await fetch(`${base}/_allot/tenants/contoso.example/subscriptions/${e3sub.id}`, {
    method: "PATCH", body: JSON.stringify({ enabled: 30 }), headers: { "x-allot-admin-key": adminKey },
  });
  assert.equal(r.status, 200, await r.text());
  await page.reload();
  await page.locator('li[data-sku="ENTERPRISEPACK"] [aria-valuemax="30"]').waitFor();

  // Signing out leaves the sign-in form; a wrong password stays on Allot's page.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("Tenant (domain or id)").waitFor();
  await page.close();
});

test("a License Administrator assigns and removes a license; a refusal says why", async () => {
  const page = await signedIn("licenses@contoso.example");
  const before = await pbiUsed(page);
  await page.getByRole("button", { name: "Users" }).click();
  await page.getByLabel("Search users by name or user principal name").fill("Adele");
  await page.getByRole("button", { name: "Search" }).click();
  const row = page.locator('tr[data-upn="adelev@contoso.example"]');
  await row.waitFor();
  await row.getByLabel("Product to assign to Adele Vance").selectOption({ label: "POWER_BI_PRO" });
  await row.getByRole("button", { name: "Assign the chosen product to Adele Vance" }).click();
  await page.locator('tr[data-upn="adelev@contoso.example"] .lic', { hasText: "POWER_BI_PRO" }).waitFor();
  await page.screenshot({ path: join(artifacts, "console-users.png"), fullPage: true });
  await pbiReads(page, before + 1);
  // A refused change (Office 365 E1 beside the E3 Adele holds) shows the API's reason on the
  // row and changes nothing.
  await page.getByRole("button", { name: "Users" }).click();
  const again = page.locator('tr[data-upn="adelev@contoso.example"]');
  await again.locator(".lic", { hasText: "ENTERPRISEPACK" }).waitFor();
  await again.getByLabel("Product to assign to Adele Vance").selectOption({ label: "STANDARDPACK" });
  await again.getByRole("button", { name: "Assign the chosen product to Adele Vance" }).click();
  const refusal = again.locator(".row-status");
  await refusal.filter({ hasText: /\S/ }).waitFor();
  assert.doesNotMatch(await refusal.innerText(), /^Request_BadRequest/);
  assert.equal(await again.locator(".lic", { hasText: "STANDARDPACK" }).count(), 0);
  // Remove what was assigned.
  await page.getByRole("button", { name: "Remove POWER_BI_PRO from Adele Vance" }).click();
  await page.locator('tr[data-upn="adelev@contoso.example"] .lic', { hasText: "POWER_BI_PRO" }).waitFor({ state: "detached" });
  await pbiReads(page, before);
  await page.close();
});

test("a Global Reader reads users and licenses but finds no control that changes them", async () => {
  const page = await signedIn("reader@contoso.example");
  await page.getByRole("button", { name: "Users" }).click();
  await page.getByLabel("Search users by name or user principal name").fill("Adele");
  await page.getByRole("button", { name: "Search" }).click();
  await page.locator('tr[data-upn="adelev@contoso.example"]').waitFor();
  assert.equal(await page.getByRole("button", { name: /^Assign|^Remove/ }).count(), 0);
  assert.equal(await page.locator("#user-table").getByRole("combobox").count(), 0);
  assert.equal(await page.locator("#user-table").getByRole("checkbox").count(), 0);
  assert.ok(await page.locator("#bulk").isHidden());
  await page.close();
});

test("members a group cannot license are listed with the reason and wait for a unit; reprocessing clears them", async () => {
  // A group license with no free unit: its two new members are in error (CountViolation) and
  // wait in the product's waiting room. Manual processing keeps them waiting once units come.
  const api = await appApi();
  const skus = await api("/subscribedSkus");
  const pbi = skus.value.find((s) => s.skuPartNumber === "POWER_BI_PRO");
  const sub = (await adminApi("/subscriptions")).value.find((s) => s.skuId === pbi.skuId);
  await adminApi(`/subscriptions/${sub.id}`, "PATCH", { enabled: pbi.consumedUnits });
  const ids = [];
  for (const nick of ["waitone", "waittwo"]) {
    const u = await api("/users", "POST", { accountEnabled: true, displayName: `Waiting ${nick}`, mailNickname: nick,
      userPrincipalName: `${nick}@contoso.example`, usageLocation: "US", passwordProfile: { password: "Pw-waiting-1" } });
    ids.push(u.id);
  }
  const g = await api("/groups", "POST", { displayName: "Overflow", mailEnabled: false, mailNickname: "overflow",
    securityEnabled: true, "members@odata.bind": ids.map((i) => `https://graph.microsoft.com/v1.0/directoryObjects/${i}`) });
  await api(`/groups/${g.id}/assignLicense`, "POST", { addLicenses: [{ skuId: pbi.skuId, disabledPlans: [] }], removeLicenses: [] });
  for (let i = 0; i < 200; i++) {
    const st = await api(`/groups/${g.id}?$select=licenseProcessingState`);
    if (st.licenseProcessingState.state === "ProcessingComplete") break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await adminApi("/processing", "PUT", { mode: "manual" });
  try {
    await overflowInTheConsole(api, pbi, sub, ids, g);
  } finally {
    await adminApi("/processing", "PUT", { mode: null });
  }
});

async function overflowInTheConsole(api, pbi, sub, ids, g) {
  const page = await signedIn("admin@contoso.example");
  // The product's card counts who waits.
  await page.locator('li[data-sku="POWER_BI_PRO"] .waiting', { hasText: "2 waiting for a seat" }).waitFor();
  await page.getByRole("button", { name: "Errors" }).click();
  const block = page.locator('.group-errors[data-group="Overflow"]');
  await block.waitFor();
  const one = block.locator('li[data-upn="waitone@contoso.example"]');
  assert.match(await one.innerText(), /cannot get POWER_BI_PRO: there are not enough free licenses/);
  assert.match(await one.innerText(), /Fix: add units/);
  assert.equal(await block.locator("li").count(), 2);
  // The waiting room, in the order the members will be seated.
  const room = page.locator('.waiting-room[data-sku="POWER_BI_PRO"]');
  await room.waitFor();
  // Both joined in one fan-out, so membership order decides: the same order as the API's.
  const betaGet = async (path) => (await fetch(`${base}/beta${path}`, { headers: { authorization: `Bearer ${await page.evaluate(() => JSON.parse(sessionStorage.getItem("allot.session")).token)}` } })).json();
  const allotment = (await betaGet("/admin/cloudLicensing/allotments")).value.find((a) => a.skuId === pbi.skuId);
  const queue = await betaGet(`/admin/cloudLicensing/allotments/${allotment.id}/waitingMembers?$expand=assignedTo`);
  assert.deepEqual(await room.locator("li").evaluateAll((ls) => ls.map((l) => l.dataset.upn)),
    queue.value.map((w) => w.assignedTo.userPrincipalName));
  assert.deepEqual(queue.value.map((w) => w.assignedTo.userPrincipalName).sort(), ["waitone@contoso.example", "waittwo@contoso.example"]);
  assert.match(await room.innerText(), /POWER_BI_PRO: 2 waiting/);
  await page.screenshot({ path: join(artifacts, "console-errors.png"), fullPage: true });
  // Units added; the member reprocessed is licensed and leaves the list.
  await adminApi(`/subscriptions/${sub.id}`, "PATCH", { enabled: pbi.consumedUnits + 2 });
  await one.getByRole("button", { name: "Reprocess Waiting waitone" }).click();
  await one.waitFor({ state: "detached" });
  const held = await api(`/users/${ids[0]}/licenseDetails`);
  assert.deepEqual(held.value.map((d) => d.skuPartNumber), ["POWER_BI_PRO"]);
  // The group's page lists the other member in error and reprocesses it.
  await page.getByRole("button", { name: "Groups" }).click();
  await page.getByLabel("Search groups by name").fill("Overflow");
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByRole("button", { name: "Open Overflow" }).click();
  const detail = page.locator("#group-detail");
  const two = detail.locator('tr[data-upn="waittwo@contoso.example"] .state');
  assert.equal(await two.innerText(), "POWER_BI_PRO: there are not enough free licenses");
  assert.equal(await detail.locator('tr[data-upn="waitone@contoso.example"] .state').innerText(), "POWER_BI_PRO active");
  await detail.getByRole("button", { name: "Reprocess the members of Overflow in error" }).click();
  await page.locator("#status", { hasText: "1 member of Overflow reprocessed." }).waitFor();
  await detail.locator('tr[data-upn="waittwo@contoso.example"] .state', { hasText: "POWER_BI_PRO active" }).waitFor();
  assert.equal(await detail.getByRole("button", { name: /^Reprocess/ }).isHidden(), true);
  const after = await api(`/groups/${g.id}/membersWithLicenseErrors`);
  assert.equal(after.value.length, 0);
  await page.close();
}

test("groups show their licenses, processing state and member count", async () => {
  // Marketing gets EMS through the API (the demo tenant's groups license nothing at first).
  const tokenRes = await fetch(`${base}/contoso.example/oauth2/v2.0/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: "5a1d0000-c0de-4a99-a000-00000000a001",
      client_secret: "allot-demo-secret", scope: "https://graph.microsoft.com/.default" }),
  });
  const app = (await tokenRes.json()).access_token;
  const get = async (path, headers = {}) => fetch(`${base}/v1.0${path}`, { headers: { authorization: `Bearer ${app}`, ...headers } });
  const marketing = (await (await get("/groups?$filter=displayName eq 'Marketing'")).json()).value[0];
  const skus = (await (await get("/subscribedSkus")).json()).value;
  const ems = skus.find((k) => k.skuPartNumber === "EMS");
  const r = await fetch(`${base}/v1.0/groups/${marketing.id}/assignLicense`, {
    method: "POST", headers: { authorization: `Bearer ${app}`, "content-type": "application/json" },
    body: JSON.stringify({ addLicenses: [{ skuId: ems.skuId, disabledPlans: [] }], removeLicenses: [] }),
  });
  assert.equal(r.status, 202, await r.text());
  for (let i = 0; i < 200; i++) {
    const g = await (await get(`/groups/${marketing.id}?$select=licenseProcessingState`)).json();
    if (g.licenseProcessingState.state === "ProcessingComplete") break;
    await new Promise((res) => setTimeout(res, 50));
  }
  const count = await (await get(`/groups/${marketing.id}/members/$count`, { consistencylevel: "eventual" })).text();

  const page = await signedIn("reader@contoso.example");
  await page.getByRole("button", { name: "Groups" }).click();
  await page.getByLabel("Search groups by name").fill("Mark");
  await page.getByRole("button", { name: "Search" }).click();
  const row = page.locator('tr[data-group="Marketing"]');
  await row.waitFor();
  assert.equal(await row.locator(".lic").innerText(), "EMS");
  assert.equal(await row.locator(".processing").innerText(), "ProcessingComplete");
  assert.equal(await row.locator(".members").innerText(), count);
  // Opened: its timeline (newest first) and its members with their state for its licenses.
  await page.getByRole("button", { name: "Open Marketing" }).click();
  const timeline = page.getByRole("list", { name: "Processing timeline of Marketing" });
  await timeline.waitFor();
  const activities = await timeline.locator("li").evaluateAll((ls) => ls.map((l) => l.dataset.activity));
  assert.deepEqual(activities.slice(0, 2), ["Group license processing completed", "Change group license"]);
  assert.match(await timeline.locator("li").first().innerText(), new RegExp(`licensed ${count} · in error 0`));
  const members = page.locator("#group-detail .members-table tbody tr");
  assert.equal(await members.count(), Number(count));
  for (const state of await members.locator(".state").allInnerTexts()) assert.equal(state, "EMS active");
  // A reader gets no reprocess control.
  assert.equal(await page.locator("#group-detail").getByRole("button", { name: /^Reprocess/ }).count(), 0);
  await page.screenshot({ path: join(artifacts, "console-groups.png"), fullPage: true });
  await page.close();
});

test("the history lists the audit log's license changes, by who and on whom", async () => {
  const page = await signedIn("admin@contoso.example");
  // A change made in the console shows in the history with its initiator and target.
  await page.getByRole("button", { name: "Users" }).click();
  await page.getByLabel("Search users by name or user principal name").fill("Adele");
  await page.getByRole("button", { name: "Search" }).click();
  const row = page.locator('tr[data-upn="adelev@contoso.example"]');
  await row.waitFor();
  await row.getByLabel("Product to assign to Adele Vance").selectOption({ label: "FLOW_FREE" });
  await row.getByRole("button", { name: "Assign the chosen product to Adele Vance" }).click();
  await page.locator('tr[data-upn="adelev@contoso.example"] .lic', { hasText: "FLOW_FREE" }).waitFor();
  await page.getByRole("button", { name: "History" }).click();
  await page.getByLabel("Activity").selectOption("Change user license");
  await page.getByRole("button", { name: "Show" }).click();
  await page.locator('#history-table[data-activity="Change user license"]').waitFor();
  const newest = page.locator("#history-table tbody tr").first();
  assert.match(await newest.innerText(), /Change user license\s+admin@contoso\.example\s+adelev@contoso\.example/);
  assert.equal(await page.locator('#history-table tr[data-activity="Update user"]').count(), 0);
  await page.screenshot({ path: join(artifacts, "console-history.png"), fullPage: true });
  // A License Administrator holds no audit reader role: the API's refusal is shown.
  const other = await signedIn("licenses@contoso.example");
  await other.getByRole("button", { name: "History" }).click();
  await other.locator("#status").filter({ hasText: /Authorization_RequestDenied/ }).waitFor();
  await other.close();
  await page.close();
});

test("a product's details list its plans and who holds it, directly or through which group", async () => {
  const api = await appApi();
  const ems = (await api("/subscribedSkus")).value.find((k) => k.skuPartNumber === "EMS");
  const holders = await api(`/users?$filter=assignedLicenses/any(x:x/skuId eq ${ems.skuId})&$select=userPrincipalName,licenseAssignmentStates&$top=20`);
  const page = await signedIn("reader@contoso.example");
  const card = page.locator('li[data-sku="EMS"]');
  await card.getByRole("button", { name: "Details of EMS" }).click();
  const plans = card.getByRole("list", { name: "Service plans of EMS" });
  await plans.waitFor();
  assert.equal(await plans.locator("li").count(), ems.servicePlans.length);
  await card.locator(".holders[data-rows]").waitFor();
  const rows = card.locator(".holders tbody tr");
  assert.equal(await rows.count(), holders.value.length);
  for (const u of holders.value) {
    const expected = u.licenseAssignmentStates.filter((x) => x.skuId === ems.skuId && x.state === "Active")
      .map((x) => (x.assignedByGroup ? "group" : "direct"));
    const through = await card.locator(`tr[data-upn="${u.userPrincipalName}"] .through`).innerText();
    assert.deepEqual(through.split(", ").map((t) => t.split(" ")[0]), expected, u.userPrincipalName);
  }
  // Marketing's members hold EMS through the group (the groups test gave it to them).
  assert.match(await card.locator(".holders").innerText(), /group Marketing/);
  await page.screenshot({ path: join(artifacts, "console-products.png"), fullPage: true });
  await page.close();
});

test("a License Administrator assigns with chosen plans, finds users by product, and assigns to a selection", async () => {
  const api = await appApi();
  const skus = (await api("/subscribedSkus")).value;
  const ems = skus.find((k) => k.skuPartNumber === "EMS");
  const flow = skus.find((k) => k.skuPartNumber === "FLOW_FREE");
  const page = await signedIn("licenses@contoso.example");
  await page.getByRole("button", { name: "Users" }).click();
  await page.getByLabel("Search users by name or user principal name").fill("Diego");
  await page.getByRole("button", { name: "Search" }).click();
  const diego = page.locator('tr[data-upn="diegos@contoso.example"]');
  await diego.waitFor();
  const name = (await diego.locator("strong").innerText()).trim();
  // EMS with its last user plan turned off.
  await diego.getByLabel(`Product to assign to ${name}`).selectOption({ label: "EMS" });
  await diego.locator("summary").click();
  const userPlans = ems.servicePlans.filter((p) => p.appliesTo === "User");
  const off = userPlans[userPlans.length - 1];
  await diego.getByLabel(`${off.servicePlanName} for ${name}`).uncheck();
  await diego.getByRole("button", { name: `Assign the chosen product to ${name}` }).click();
  await page.locator('tr[data-upn="diegos@contoso.example"] .lic', { hasText: "EMS" }).waitFor();
  assert.match(await page.locator('tr[data-upn="diegos@contoso.example"] .lic', { hasText: "EMS" }).textContent(), /EMS direct · 1 plan off/);
  const diegoId = (await api("/users?$filter=userPrincipalName eq 'diegos@contoso.example'&$select=id")).value[0].id;
  const states = (await api(`/users/${diegoId}?$select=licenseAssignmentStates`)).licenseAssignmentStates;
  assert.deepEqual(states.find((x) => x.skuId === ems.skuId).disabledPlans, [off.servicePlanId]);

  // Two users selected, FLOW_FREE for both through one $batch.
  const before = (await api("/subscribedSkus")).value.find((k) => k.skuId === flow.skuId).consumedUnits;
  await page.getByLabel("Search users by name or user principal name").fill("");
  await page.getByRole("button", { name: "Search" }).click();
  await page.locator('tr[data-upn="alland@contoso.example"]').waitFor();
  for (const upn of ["alland@contoso.example", "christiec@contoso.example"]) {
    await page.locator(`tr[data-upn="${upn}"] input.select`).check();
  }
  await page.getByLabel("Product to assign to the selected users").selectOption({ label: "FLOW_FREE" });
  await page.getByRole("button", { name: "Assign the chosen product to the selected users" }).click();
  await page.locator("#status", { hasText: "FLOW_FREE assigned to 2 of 2 selected users." }).waitFor();
  const after = (await api("/subscribedSkus")).value.find((k) => k.skuId === flow.skuId).consumedUnits;
  assert.equal(after, before + 2);
  // Finding users by the product: the two and nobody without it.
  await page.getByLabel("Holding").selectOption({ label: "FLOW_FREE" });
  await page.getByRole("button", { name: "Search" }).click();
  await page.locator('tr[data-upn="christiec@contoso.example"]').waitFor();
  const listed = await page.locator("#user-table tbody tr").evaluateAll((rs) => rs.map((r) => r.dataset.upn));
  const holders = (await api(`/users?$filter=assignedLicenses/any(x:x/skuId eq ${flow.skuId})&$select=userPrincipalName&$top=50`)).value.map((u) => u.userPrincipalName);
  assert.deepEqual(listed.sort(), holders.sort());
  assert.ok(listed.includes("alland@contoso.example"));
  await page.screenshot({ path: join(artifacts, "console-users.png"), fullPage: true });

  // The history's chart steps FLOW_FREE up by the two.
  const reader = await signedIn("admin@contoso.example");
  await reader.getByRole("button", { name: "History" }).click();
  const series = reader.locator('#consumption path[data-sku="FLOW_FREE"]');
  await series.waitFor();
  const values = (await series.getAttribute("data-points")).split(" ").map((p) => Number(p.split(":")[1]));
  assert.equal(values[values.length - 1], after);
  assert.ok(values.includes(before), `${values} should pass through ${before}`);
  assert.match(await reader.locator('#consumption li[data-sku="FLOW_FREE"]').textContent(), new RegExp(`FLOW_FREE ${after} of ${flow.prepaidUnits.enabled} now`));
  assert.equal(await reader.locator("#consumption svg[role=img]").count(), (await api("/subscribedSkus")).value.length);
  await reader.screenshot({ path: join(artifacts, "console-history.png"), fullPage: true });
  await reader.close();
  await page.close();
});

test("a partner's user sees its customers, their products and their users' licenses", async () => {
  const api = await appApi();
  const skus = (await api("/subscribedSkus")).value;
  const page = await signedIn("admin@partner.example", "partner.example");
  await page.getByRole("button", { name: "Partner" }).click();
  const row = page.locator('#customer-table tr[data-customer="contoso.example"]');
  await row.waitFor();
  await row.getByRole("button", { name: /^Open/ }).click();
  const pbi = page.locator('.partner-skus tr[data-sku="POWER_BI_PRO"]');
  await pbi.waitFor();
  const consumed = skus.find((k) => k.skuPartNumber === "POWER_BI_PRO").consumedUnits;
  assert.equal(await pbi.locator("td").nth(1).innerText(), String(consumed));
  const alex = page.locator('.partner-users tr[data-upn="alexw@contoso.example"]');
  await alex.waitFor();
  assert.deepEqual((await alex.locator(".lic").allInnerTexts()).sort(), ["ENTERPRISEPACK", "POWER_BI_PRO"]);
  await page.screenshot({ path: join(artifacts, "console-partner.png"), fullPage: true });
  // A user of a tenant that is no partner gets no Partner view.
  const other = await signedIn("reader@contoso.example");
  assert.equal(await other.getByRole("button", { name: "Partner" }).isHidden(), true);
  await other.close();
  await page.close();
});

test("the emulator controls change processing, throttling and units, and reset the tenant", async () => {
  const api = await appApi();
  const page = await signedIn("admin@contoso.example");
  await page.getByRole("button", { name: "Emulator" }).click();
  await page.getByLabel("Admin key").fill("not-the-key");
  await page.getByRole("button", { name: "Unlock" }).click();
  await page.locator("#status", { hasText: "The admin key is not valid." }).waitFor();
  await page.getByLabel("Admin key").fill(adminKey);
  await page.getByRole("button", { name: "Unlock" }).click();
  // Manual processing: a group change waits until the jobs are run.
  await page.getByLabel("Processing mode").selectOption("manual");
  await page.getByRole("button", { name: "Set mode" }).click();
  await page.locator("#status", { hasText: "Processing mode: manual." }).waitFor();
  const ems = (await api("/subscribedSkus")).value.find((k) => k.skuPartNumber === "EMS");
  const g = await api("/groups", "POST", { displayName: "Queued", mailEnabled: false, mailNickname: "queued", securityEnabled: true });
  await api(`/groups/${g.id}/assignLicense`, "POST", { addLicenses: [{ skuId: ems.skuId, disabledPlans: [] }], removeLicenses: [] });
  await page.getByRole("button", { name: "Emulator" }).click();
  await page.locator("#emu-pending", { hasText: /^1 pending licensing job$/ }).waitFor();
  await page.getByRole("button", { name: "Run pending jobs" }).click();
  await page.locator("#status", { hasText: "1 job run." }).waitFor();
  await page.locator("#emu-pending", { hasText: "0 pending licensing jobs" }).waitFor();
  assert.equal((await api(`/groups/${g.id}?$select=licenseProcessingState`)).licenseProcessingState.state, "ProcessingComplete");
  await page.getByLabel("Processing mode").selectOption("async");
  await page.getByRole("button", { name: "Set mode" }).click();
  await page.locator("#status", { hasText: "Processing mode: async." }).waitFor();
  // Throttling: the next two Graph requests answer 429.
  await page.getByLabel("Requests to refuse").fill("2");
  await page.getByLabel("Retry-After (seconds)").fill("3");
  await page.getByRole("button", { name: "Throttle", exact: true }).click();
  await page.locator("#emu-throttle-state", { hasText: "The next 2 requests answer 429 (Retry-After 3 s)." }).waitFor();
  const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem("allot.session")).token);
  const throttled = await fetch(`${base}/v1.0/subscribedSkus`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(throttled.status, 429);
  assert.equal(throttled.headers.get("retry-after"), "3");
  await page.getByRole("button", { name: "Stop throttling" }).click();
  await page.locator("#emu-throttle-state", { hasText: "Not throttled." }).waitFor();
  // Units: EMS enabled units set from the page show in subscribedSkus.
  await page.getByLabel("EMS enabled units").fill("40");
  await page.getByRole("button", { name: "Save the units of EMS" }).click();
  await page.locator("#status", { hasText: "Units of EMS saved." }).waitFor();
  assert.equal((await api("/subscribedSkus")).value.find((k) => k.skuId === ems.skuId).prepaidUnits.enabled, 40);
  await page.screenshot({ path: join(artifacts, "console-emulator.png"), fullPage: true });
  // Reset: after confirming, the tenant is its seed again (the group made here is gone).
  page.once("dialog", (d) => d.accept());
  await page.getByRole("button", { name: "Reset tenant" }).click();
  await page.locator("#status", { hasText: "contoso.example reset to its seed." }).waitFor();
  const api2 = await appApi();
  assert.equal((await api2("/groups?$filter=displayName eq 'Queued'")).value.length, 0);
  assert.equal((await api2("/subscribedSkus")).value.find((k) => k.skuId === ems.skuId).prepaidUnits.enabled, ems.prepaidUnits.enabled);
  await page.close();
});

test("every control has a name, and a person signs in and changes a license with the keyboard alone", async () => {
  const page = await browser.newPage();
  await page.goto(`${base}/console/`);
  // Sign in: the tenant field, then Enter; Allot's page: Tab between fields, Enter to submit.
  await page.getByLabel("Tenant (domain or id)").focus();
  await page.keyboard.press("Control+A");
  await page.keyboard.type("contoso.example");
  await page.keyboard.press("Enter");
  await page.getByLabel("Email or user name").waitFor();
  await page.getByLabel("Email or user name").focus();
  await page.keyboard.type("licenses@contoso.example");
  await page.keyboard.press("Tab");
  await page.keyboard.type("allot-demo-password");
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Products" }).waitFor();
  // Every page: each button, field and picker has an accessible name.
  for (const tab of ["Products", "Users", "Groups", "Errors", "History", "Emulator"]) {
    await page.getByRole("button", { name: tab, exact: true }).focus();
    await page.keyboard.press("Enter");
    await page.locator(`#tabs button[aria-current="page"]`, { hasText: tab }).waitFor();
    const unnamed = await page.evaluate(() => [...document.querySelectorAll("main button, main input, main select, main summary")]
      .filter((e) => e.offsetParent !== null)
      .filter((e) => {
        const labelled = e.labels && [...e.labels].some((l) => l.textContent.trim());
        return !(e.getAttribute("aria-label") || labelled || e.textContent.trim());
      })
      .map((e) => e.outerHTML.slice(0, 80)));
    assert.deepEqual(unnamed, [], tab);
  }
  // Users with the keyboard: search, pick a product, assign, all without the mouse.
  await page.getByRole("button", { name: "Users", exact: true }).focus();
  await page.keyboard.press("Enter");
  await page.getByLabel("Search users by name or user principal name").focus();
  await page.keyboard.type("Allan");
  await page.keyboard.press("Enter");
  const row = page.locator('tr[data-upn="alland@contoso.example"]');
  await row.waitFor();
  const name = (await row.locator("strong").innerText()).trim();
  await row.getByLabel(`Product to assign to ${name}`).focus();
  // Type-ahead on the focused picker chooses the product.
  await page.keyboard.type("POWER_BI");
  const picked = await row.getByLabel(`Product to assign to ${name}`).evaluate((s) => s.selectedOptions[0].textContent);
  assert.equal(picked, "POWER_BI_PRO");
  await row.getByRole("button", { name: `Assign the chosen product to ${name}` }).focus();
  await page.keyboard.press("Enter");
  await page.locator('tr[data-upn="alland@contoso.example"] .lic', { hasText: "POWER_BI_PRO" }).waitFor();
  // And off again with the keyboard.
  await page.getByRole("button", { name: `Remove POWER_BI_PRO from ${name}` }).focus();
  await page.keyboard.press("Space");
  await page.locator('tr[data-upn="alland@contoso.example"] .lic', { hasText: "POWER_BI_PRO" }).waitFor({ state: "detached" });
  await page.close();
});

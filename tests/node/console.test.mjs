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
async function signedIn(upn) {
  const page = await browser.newPage();
  await page.goto(`${base}/console`);
  await page.getByLabel("Tenant (domain or id)").fill("contoso.example");
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
  assert.equal(await page.getByRole("combobox").count(), 0);
  await page.close();
});

test("members a group cannot license are listed with the reason, and clear once units are added", async () => {
  // A group license with no free unit: its two new members are in error (CountViolation).
  const tokenRes = await fetch(`${base}/contoso.example/oauth2/v2.0/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: "5a1d0000-c0de-4a99-a000-00000000a001",
      client_secret: "allot-demo-secret", scope: "https://graph.microsoft.com/.default" }),
  });
  const app = (await tokenRes.json()).access_token;
  const api = async (path, method = "GET", body) => {
    const r = await fetch(`${base}/v1.0${path}`, { method, headers: { authorization: `Bearer ${app}`, "content-type": "application/json" },
      body: body && JSON.stringify(body) });
    return r.status === 204 ? null : r.json();
  };
  const admin = (path, method = "GET", body) => fetch(`${base}/_allot/tenants/contoso.example${path}`, {
    method, headers: { "x-allot-admin-key": adminKey }, body: body && JSON.stringify(body) }).then((r) => r.json());
  const skus = await api("/subscribedSkus");
  const pbi = skus.value.find((s) => s.skuPartNumber === "POWER_BI_PRO");
  const sub = (await admin("/subscriptions")).value.find((s) => s.skuId === pbi.skuId);
  await admin(`/subscriptions/${sub.id}`, "PATCH", { enabled: pbi.consumedUnits });
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
    const s = await api(`/groups/${g.id}?$select=licenseProcessingState`);
    if (s.licenseProcessingState.state === "ProcessingComplete") break;
    await new Promise((r) => setTimeout(r, 50));
  }

  const page = await signedIn("admin@contoso.example");
  await page.getByRole("button", { name: "Errors" }).click();
  const block = page.locator('.group-errors[data-group="Overflow"]');
  await block.waitFor();
  const one = block.locator('li[data-upn="waitone@contoso.example"]');
  assert.match(await one.innerText(), /cannot get POWER_BI_PRO: there are not enough free licenses/);
  assert.match(await one.innerText(), /Fix: add units/);
  assert.equal(await block.locator("li").count(), 2);
  await page.screenshot({ path: join(artifacts, "console-errors.png"), fullPage: true });
  // Units added; the member reprocessed is licensed and leaves the list.
  await admin(`/subscriptions/${sub.id}`, "PATCH", { enabled: pbi.consumedUnits + 2 });
  await one.getByRole("button", { name: "Reprocess Waiting waitone" }).click();
  await one.waitFor({ state: "detached" });
  const held = await api(`/users/${ids[0]}/licenseDetails`);
  assert.deepEqual(held.value.map((d) => d.skuPartNumber), ["POWER_BI_PRO"]);
  await page.close();
});

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

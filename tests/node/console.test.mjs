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

test("a person signs in through Allot's page and sees every product's seat gauge", async () => {
  const page = await browser.newPage();
  await page.goto(`${base}/console`);
  await page.getByLabel("Tenant (domain or id)").fill("contoso.example");
  await page.getByRole("button", { name: "Sign in" }).click();
  // Allot's own sign-in page.
  await page.getByLabel("Email or user name").fill("admin@contoso.example");
  await page.getByLabel("Password").fill("allot-demo-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Products" }).waitFor();
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

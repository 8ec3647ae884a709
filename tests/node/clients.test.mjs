// Microsoft's JavaScript libraries against `allot serve --tls`, unmodified and pinned
// (package.json, package-lock.json). Each client runs as its own Node process with
// NODE_EXTRA_CA_CERTS pointing at the CA file the server prints, as a user would run it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const bin = process.env.ALLOT_BIN || join(here, "..", "..", "target", "debug", "allot");
const DEMO_TENANT = "5a1d0000-c0de-4c0e-a000-000000000001";
const DEMO_APP = "5a1d0000-c0de-4a99-a000-00000000a001";
const PKCE_TENANT = "5a1d0000-c0de-4c0e-a000-0000000000e1";
const PKCE_APP = "5a1d0000-c0de-4a99-a000-0000000000e1";
const REDIRECT = "http://localhost:8765/auth/redirect";

let server, dir, https, http, ca, adminKey;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "allot-node-"));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("ALLOT_")));
  server = spawn(bin, ["serve", "--data-dir", join(dir, "data"), "--listen", "127.0.0.1:0", "--tls", "--tls-listen", "127.0.0.1:0"], { env });
  let out = "";
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner: ${out}`)), 30000);
    server.stdout.on("data", (d) => {
      out += d;
      if (out.includes("Press Ctrl-C")) { clearTimeout(timer); resolve(); }
    });
    server.on("exit", (c) => reject(new Error(`allot exited ${c}: ${out}`)));
  });
  https = out.match(/HTTPS:\s+(https:\/\/\S+)/)[1];
  ca = out.match(/CA file:\s+(\S+)/)[1];
  http = out.match(/Allot is listening on (http:\/\/\S+)/)[1];
  adminKey = readFileSync(join(dir, "data", "admin-key"), "utf8").trim();
  const tenant = { tenants: [{
    displayName: "PKCE Co", defaultDomain: "pkce.example", id: PKCE_TENANT,
    subscriptions: [{ sku: "ENTERPRISEPACK", enabled: 5 }],
    apps: [{ clientId: PKCE_APP, displayName: "Node web tool", clientSecret: "unused",
             delegatedScopes: ["User.Read"], redirectUris: [REDIRECT], publicClient: true }],
    users: [{ userPrincipalName: "lee@pkce.example", displayName: "Lee", password: "lee-pw-1" }],
  }] };
  const r = await fetch(`${http}/_allot/tenants`, { method: "POST", body: JSON.stringify(tenant), headers: { "x-allot-admin-key": adminKey } });
  assert.equal(r.status, 201, await r.text());
});

after(() => {
  server?.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs a client script with the CA trusted; returns its JSON line. */
async function client(script, args) {
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: ca };
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [join(here, script), ...args], { env, timeout: 60000 });
    return JSON.parse(stdout.trim().split("\n").pop());
  } catch (e) {
    assert.fail(`${script}: ${e.stdout || ""}${e.stderr || ""}${e.message}`);
  }
}

test("@azure/identity ClientSecretCredential feeds the Graph client: a license round trip", async () => {
  const v = await client("graph-client.cjs", [https, DEMO_TENANT, DEMO_APP, "allot-demo-secret"]);
  assert.deepEqual(v, { skus: ["6fd2c87f-b296-42f0-b197-1e91e994b900"] });
});

test("@azure/msal-node authorization code with PKCE, completed through the sign-in page", async () => {
  const v = await client("msal-auth-code.cjs", [https, PKCE_TENANT, PKCE_APP, REDIRECT, "lee@pkce.example", "lee-pw-1"]);
  assert.equal(v.username, "lee@pkce.example");
  assert.equal(v.me, "lee@pkce.example");
  assert.equal(v.reused.errorCode, "invalid_grant");
  assert.match(v.reused.message, /AADSTS54005/);
});

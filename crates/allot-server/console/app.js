// The Allot console: signs a tenant's user in through Allot's own authorization-code flow with
// PKCE (the "Allot console" public client the tenant registers), then reads the same APIs every
// client reads, with the user's token: what the user sees follows their roles. A user of a partner
// tenant also gets a Partner Center token (the same refresh token, Partner Center's scope).
import { $, REDIRECT, status, session, graph } from "./kit.js";
import * as products from "./products.js";
import * as users from "./users.js";
import * as groups from "./groups.js";
import * as errors from "./errors.js";
import * as historyPage from "./history.js";
import * as partnerView from "./partner.js";
import * as emulator from "./emulator.js";

const SCOPES = "openid profile offline_access User.Read User.Read.All Group.Read.All Directory.Read.All LicenseAssignment.ReadWrite.All Organization.Read.All AuditLog.Read.All";
const PARTNER_SCOPE = "https://api.partnercenter.microsoft.com/user_impersonation offline_access";
const PAGES = { products, users, groups, errors, history: historyPage, partner: partnerView, emulator };

function b64url(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The client id under which `tenant` registered the console. */
async function consoleApp(tenant) {
  const r = await fetch(`/console/app?tenant=${encodeURIComponent(tenant)}`);
  const v = await r.json();
  if (!r.ok) throw new Error(v.error.message);
  return v.clientId;
}

async function signIn(tenant) {
  const clientId = await consoleApp(tenant);
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const state = b64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem("allot.pkce", JSON.stringify({ verifier, state, tenant, clientId }));
  const q = new URLSearchParams({
    client_id: clientId, response_type: "code", redirect_uri: REDIRECT, scope: SCOPES,
    code_challenge: challenge, code_challenge_method: "S256", state,
  });
  location.assign(`/${encodeURIComponent(tenant)}/oauth2/v2.0/authorize?${q}`);
}

async function token(tenant, clientId, params) {
  const r = await fetch(`/${encodeURIComponent(tenant)}/oauth2/v2.0/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: clientId, ...params }),
  });
  const v = await r.json();
  if (!r.ok) throw new Error(v.error_description || v.error || `token endpoint: ${r.status}`);
  return v;
}

async function redeem(code, state) {
  const saved = JSON.parse(sessionStorage.getItem("allot.pkce") || "null");
  sessionStorage.removeItem("allot.pkce");
  window.history.replaceState(null, "", REDIRECT);
  if (!saved || saved.state !== state) throw new Error("The sign-in answer does not match this browser's request.");
  const v = await token(saved.tenant, saved.clientId, {
    grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: saved.verifier, scope: SCOPES,
  });
  // A partner tenant's user: the refresh token also buys a Partner Center token (an app the
  // tenant has not granted that scope is refused, and the Partner view stays hidden).
  let partnerToken = null;
  if (v.refresh_token) {
    partnerToken = await token(saved.tenant, saved.clientId, { grant_type: "refresh_token", refresh_token: v.refresh_token, scope: PARTNER_SCOPE })
      .then((p) => p.access_token, () => null);
  }
  sessionStorage.setItem("allot.session", JSON.stringify({ token: v.access_token, tenant: saved.tenant, partnerToken }));
}

function show(page) {
  for (const p of Object.keys(PAGES)) $(p).hidden = p !== page;
  for (const b of document.querySelectorAll("#tabs button")) {
    if (b.dataset.page === page) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  }
  // A failure is shown only while its page is still the one open.
  const mine = ++navigation;
  PAGES[page].show().catch((e) => { if (mine === navigation) status(e.message); });
}

let navigation = 0;

async function main() {
  const params = new URLSearchParams(location.search);
  try {
    if (params.get("error")) throw new Error(params.get("error_description") || params.get("error"));
    if (params.get("code")) await redeem(params.get("code"), params.get("state"));
    if (!session()) {
      $("tenant").value = localStorage.getItem("allot.tenant") || "contoso.example";
      $("sign-in").hidden = false;
      return;
    }
    const me = await graph("/me?$select=displayName,userPrincipalName");
    $("who").textContent = `${me.displayName} (${me.userPrincipalName})`;
    $("sign-out").hidden = false;
    $("partner-tab").hidden = !session().partnerToken;
    $("products").hidden = false;
    await products.show().catch((e) => status(e.message));
    $("tabs").hidden = false;
  } catch (e) {
    $("sign-in").hidden = false;
    status(e.message);
  }
}

$("sign-in-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const tenant = $("tenant").value.trim();
  localStorage.setItem("allot.tenant", tenant);
  signIn(tenant).catch((e) => status(e.message));
});
for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => show(b.dataset.page));
for (const p of Object.values(PAGES)) p.bind?.();
$("sign-out").addEventListener("click", () => {
  sessionStorage.removeItem("allot.session");
  sessionStorage.removeItem("allot.adminKey");
  location.assign(REDIRECT);
});
main();

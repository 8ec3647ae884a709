// The Allot console: signs a tenant's user in through Allot's own authorization-code flow with
// PKCE (the "Allot console" public client the tenant registers), then reads the same Graph API
// every client reads, with the user's token: what the user sees follows their roles.
"use strict";

const CLIENT_ID = "5a1d0000-c0de-4a99-a000-00000000c0c0";
const SCOPES = "openid profile offline_access User.Read User.Read.All Group.Read.All Directory.Read.All LicenseAssignment.ReadWrite.All Organization.Read.All AuditLog.Read.All";
const REDIRECT = `${location.origin}/console/`;
const $ = (id) => document.getElementById(id);

function b64url(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function status(text) {
  $("status").textContent = text;
}

async function signIn(tenant) {
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const state = b64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem("allot.pkce", JSON.stringify({ verifier, state, tenant }));
  const q = new URLSearchParams({
    client_id: CLIENT_ID, response_type: "code", redirect_uri: REDIRECT, scope: SCOPES,
    code_challenge: challenge, code_challenge_method: "S256", state,
  });
  location.assign(`/${encodeURIComponent(tenant)}/oauth2/v2.0/authorize?${q}`);
}

async function redeem(code, state) {
  const saved = JSON.parse(sessionStorage.getItem("allot.pkce") || "null");
  sessionStorage.removeItem("allot.pkce");
  history.replaceState(null, "", REDIRECT);
  if (!saved || saved.state !== state) throw new Error("The sign-in answer does not match this browser's request.");
  const r = await fetch(`/${encodeURIComponent(saved.tenant)}/oauth2/v2.0/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      client_id: CLIENT_ID, grant_type: "authorization_code", code, redirect_uri: REDIRECT,
      code_verifier: saved.verifier, scope: SCOPES,
    }),
  });
  const v = await r.json();
  if (!r.ok) throw new Error(v.error_description || v.error || `token endpoint: ${r.status}`);
  sessionStorage.setItem("allot.session", JSON.stringify({ token: v.access_token, tenant: saved.tenant }));
}

async function graph(path) {
  const s = JSON.parse(sessionStorage.getItem("allot.session"));
  const r = await fetch(`/v1.0${path}`, { headers: { authorization: `Bearer ${s.token}` } });
  const v = await r.json();
  if (r.status === 401) {
    sessionStorage.removeItem("allot.session");
    throw new Error("Your session ended: sign in again.");
  }
  if (!r.ok) throw new Error(v.error ? `${v.error.code}: ${v.error.message}` : `HTTP ${r.status}`);
  return v;
}

function card(sku) {
  const li = document.createElement("li");
  li.className = "card";
  const enabled = sku.prepaidUnits.enabled;
  const used = sku.consumedUnits;
  const share = enabled > 0 ? Math.min(100, Math.round((used / enabled) * 100)) : 100;
  const gauge = used > enabled ? "gauge over" : used === enabled ? "gauge full" : "gauge";
  li.innerHTML = `
    <h3></h3><div class="id"></div>
    <div class="${gauge}" role="meter" aria-valuemin="0" aria-valuemax="${enabled}" aria-valuenow="${used}">
      <div style="width:${share}%"></div></div>
    <div class="numbers"><span class="used"></span><span class="status"></span></div>
    <div class="numbers extra"></div>`;
  li.querySelector("h3").textContent = sku.skuPartNumber;
  li.querySelector(".id").textContent = sku.skuId;
  li.querySelector("[role=meter]").setAttribute("aria-label", `${sku.skuPartNumber}: ${used} of ${enabled} seats used`);
  li.querySelector(".used").textContent = `${used} of ${enabled} seats used`;
  const st = li.querySelector(".status");
  st.textContent = sku.capabilityStatus;
  st.classList.add(sku.capabilityStatus);
  const p = sku.prepaidUnits;
  li.querySelector(".extra").textContent = `warning ${p.warning} · suspended ${p.suspended} · locked out ${p.lockedOut}`;
  li.dataset.sku = sku.skuPartNumber;
  return li;
}

async function showProducts() {
  status("Loading products…");
  const v = await graph("/subscribedSkus");
  const list = $("sku-list");
  list.replaceChildren(...v.value.map(card));
  $("products").hidden = false;
  status("");
}

async function main() {
  const params = new URLSearchParams(location.search);
  try {
    if (params.get("error")) throw new Error(params.get("error_description") || params.get("error"));
    if (params.get("code")) await redeem(params.get("code"), params.get("state"));
    const session = JSON.parse(sessionStorage.getItem("allot.session") || "null");
    if (!session) {
      $("tenant").value = localStorage.getItem("allot.tenant") || "contoso.example";
      $("sign-in").hidden = false;
      return;
    }
    const me = await graph("/me?$select=displayName,userPrincipalName");
    $("who").textContent = `${me.displayName} (${me.userPrincipalName})`;
    $("sign-out").hidden = false;
    await showProducts();
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
$("sign-out").addEventListener("click", () => {
  sessionStorage.removeItem("allot.session");
  location.assign(REDIRECT);
});
main();

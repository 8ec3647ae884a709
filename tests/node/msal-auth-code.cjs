// @azure/msal-node's authorization code flow with PKCE, as its samples write it: the test plays
// the browser (opens the authorize URL, submits the sign-in form, reads the redirect). Run with
// NODE_EXTRA_CA_CERTS set; prints one JSON line.
const { PublicClientApplication, CryptoProvider } = require("@azure/msal-node");

const [https, tenantId, clientId, redirectUri, username, password] = process.argv.slice(2);

async function main() {
  const pca = new PublicClientApplication({
    auth: {
      clientId,
      authority: `${https}/${tenantId}`,
      knownAuthorities: [new URL(https).host],
    },
  });
  const { verifier, challenge } = await new CryptoProvider().generatePkceCodes();
  const scopes = ["User.Read"];
  const url = await pca.getAuthCodeUrl({
    scopes,
    redirectUri,
    codeChallenge: challenge,
    codeChallengeMethod: "S256",
    state: "node-state",
  });
  // The browser: the sign-in page, then the form it shows, posted with the person's password.
  const page = await fetch(url);
  if (!page.ok || !(await page.text()).includes("<form")) throw new Error(`sign-in page: ${page.status}`);
  const form = new URLSearchParams(new URL(url).searchParams);
  form.set("username", username);
  form.set("password", password);
  const signedIn = await fetch(url.split("?")[0], { method: "POST", body: form, redirect: "manual" });
  const location = new URL(signedIn.headers.get("location"));
  if (location.searchParams.get("state") !== "node-state") throw new Error(`state: ${location}`);
  const result = await pca.acquireTokenByCode({
    code: location.searchParams.get("code"),
    scopes,
    redirectUri,
    codeVerifier: verifier,
  });
  // The same code twice: Entra's AADSTS54005.
  let reused = null;
  try {
    await pca.acquireTokenByCode({ code: location.searchParams.get("code"), scopes, redirectUri, codeVerifier: verifier });
  } catch (e) {
    reused = e.errorCode || String(e);
    reused = { errorCode: e.errorCode, codes: e.errorNo || null, message: String(e.errorMessage || e.message) };
  }
  const me = await fetch(`${https}/v1.0/me`, { headers: { authorization: `Bearer ${result.accessToken}` } });
  console.log(JSON.stringify({
    username: result.account && result.account.username,
    me: (await me.json()).userPrincipalName,
    reused,
  }));
}

main().catch((e) => {
  console.log(JSON.stringify({ error: String(e && (e.stack || e.message || e)) }));
  process.exit(1);
});

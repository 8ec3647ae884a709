// Microsoft's Node sample, with only the authority, the base URL and the trusted CA changed:
// @azure/identity's ClientSecretCredential feeding @microsoft/microsoft-graph-client through its
// TokenCredentialAuthenticationProvider. Run by clients.test.mjs with NODE_EXTRA_CA_CERTS set;
// prints one JSON line with what it saw.
const { ClientSecretCredential } = require("@azure/identity");
const { Client } = require("@microsoft/microsoft-graph-client");
const { TokenCredentialAuthenticationProvider } = require("@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials");

const [https, tenantId, clientId, clientSecret] = process.argv.slice(2);
const E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900";

async function main() {
  const credential = new ClientSecretCredential(tenantId, clientId, clientSecret, {
    authorityHost: https,
    disableInstanceDiscovery: true,
  });
  const authProvider = new TokenCredentialAuthenticationProvider(credential, {
    scopes: ["https://graph.microsoft.com/.default"],
  });
  const client = Client.initWithMiddleware({
    authProvider,
    baseUrl: `${https}/`,
    customHosts: new Set([new URL(https).hostname]),
  });
  const nick = `node-${Date.now().toString(36)}`;
  const user = await client.api("/users").post({
    accountEnabled: true,
    displayName: nick,
    mailNickname: nick,
    userPrincipalName: `${nick}@contoso.example`,
    usageLocation: "US",
    passwordProfile: { forceChangePasswordNextSignIn: false, password: "Passw0rd!node" },
  });
  await client.api(`/users/${user.id}/assignLicense`).post({
    addLicenses: [{ skuId: E3, disabledPlans: [] }],
    removeLicenses: [],
  });
  const details = await client.api(`/users/${user.id}/licenseDetails`).get();
  await client.api(`/users/${user.id}`).delete();
  console.log(JSON.stringify({ skus: details.value.map((d) => d.skuId) }));
}

main().catch((e) => {
  console.log(JSON.stringify({ error: String(e && (e.stack || e.message || e)) }));
  process.exit(1);
});

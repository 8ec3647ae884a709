"""The standard credential libraries against `allot serve --tls`, used as Microsoft's samples use
them: azure-identity's ``ClientSecretCredential`` feeding msgraph-sdk through kiota's
``AzureIdentityAuthenticationProvider``, and MSAL's ``ConfidentialClientApplication``.

What differs from a sample pointed at Entra and Graph, and nothing else:

* the authority is Allot's HTTPS base (``https://localhost:PORT``), with instance discovery
  turned off (MSAL asks Microsoft's host which authorities exist);
* the Graph base URL is ``https://localhost:PORT/v1.0``, and the authentication provider lists
  ``localhost`` among its allowed hosts (kiota attaches tokens to Microsoft's hosts only);
* the process trusts Allot's CA file (``SSL_CERT_FILE`` and ``REQUESTS_CA_BUNDLE``, as the
  server's banner says).
"""

from __future__ import annotations

import datetime
import os
import re
import ssl
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import httpx
import msal
import pytest
from azure.identity import CertificateCredential
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from azure.identity import ClientSecretCredential
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.assigned_license import AssignedLicense
from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.user import User
from msgraph.generated.users.item.assign_license.assign_license_post_request_body import (
    AssignLicensePostRequestBody,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
TENANT_ID = "5a1d0000-c0de-4c0e-a000-000000000001"
CLIENT_ID = "5a1d0000-c0de-4a99-a000-00000000a001"
CLIENT_SECRET = "allot-demo-secret"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
ENTERPRISEPACK = UUID("6fd2c87f-b296-42f0-b197-1e91e994b900")
HTTPS_RE = re.compile(r"HTTPS:\s+(https://\S+)")
HTTP_RE = re.compile(r"Allot is listening on (http://\S+)")
CA_RE = re.compile(r"CA file:\s+(\S+)")


@dataclass(frozen=True)
class TlsServer:
    https: str  # https://localhost:PORT
    ca_file: str
    http: str  # the plain listener, where the admin API answers loopback clients
    admin_key: str


@pytest.fixture(scope="module")
def tls_server() -> Iterator[TlsServer]:
    """`allot serve --tls` on free ports, its CA trusted by this process while the tests run."""
    binary = Path(os.environ.get("ALLOT_BIN", REPO_ROOT / "target" / "debug" / "allot"))
    with tempfile.TemporaryDirectory(prefix="allot-tls-") as tmp:
        log_path = Path(tmp) / "server.log"
        cmd = [
            str(binary), "serve", "--data-dir", str(Path(tmp) / "data"),
            "--listen", "127.0.0.1:0", "--tls", "--tls-listen", "127.0.0.1:0",
        ]
        database_url = os.environ.get("ALLOT_SDK_DATABASE_URL")
        if database_url:
            cmd += ["--database-url", database_url]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALLOT_")}
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        saved = {k: os.environ.get(k) for k in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")}
        text = ""
        try:
            deadline = time.monotonic() + 30
            while True:
                text = log_path.read_text(errors="replace")
                https, ca = HTTPS_RE.search(text), CA_RE.search(text)
                if https and ca and "Press Ctrl-C" in text:
                    break
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"allot serve --tls did not start:\n{text}")
                time.sleep(0.05)
            # What the banner tells a Python user to set.
            os.environ["SSL_CERT_FILE"] = ca.group(1)
            os.environ["REQUESTS_CA_BUNDLE"] = ca.group(1)
            admin_key = (Path(tmp) / "data" / "admin-key").read_text().strip()
            yield TlsServer(
                https=https.group(1).rstrip("/"),
                ca_file=ca.group(1),
                http=HTTP_RE.search(text).group(1).rstrip("/"),
                admin_key=admin_key,
            )
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def graph_client(server: TlsServer, credential) -> GraphServiceClient:
    """msgraph-sdk with kiota's azure-identity provider: Allot's host allowed, Allot's base URL."""
    auth = AzureIdentityAuthenticationProvider(
        credential, scopes=[GRAPH_SCOPE], allowed_hosts=["localhost"]
    )
    adapter = GraphRequestAdapter(auth)
    adapter.base_url = f"{server.https}/v1.0"
    return GraphServiceClient(request_adapter=adapter)


@pytest.mark.asyncio
async def test_client_secret_credential_feeds_msgraph_through_its_own_provider(tls_server: TlsServer) -> None:
    credential = ClientSecretCredential(
        TENANT_ID,
        CLIENT_ID,
        CLIENT_SECRET,
        authority=tls_server.https,
        disable_instance_discovery=True,
    )
    token = credential.get_token(GRAPH_SCOPE)
    assert token.token.count(".") == 2 and token.expires_on > time.time()
    await license_round_trip(graph_client(tls_server, credential), "contoso.example")


async def license_round_trip(client: GraphServiceClient, domain: str) -> None:
    """Creates a user, assigns E3, reads licenseDetails, deletes the user."""
    nick = f"cred-{uuid.uuid4().hex[:8]}"
    user = await client.users.post(
        User(
            account_enabled=True,
            display_name=nick,
            mail_nickname=nick,
            user_principal_name=f"{nick}@{domain}",
            usage_location="US",
            password_profile=PasswordProfile(force_change_password_next_sign_in=False, password="Passw0rd!x"),
        )
    )
    assert user is not None and user.id
    try:
        body = AssignLicensePostRequestBody(
            add_licenses=[AssignedLicense(sku_id=ENTERPRISEPACK, disabled_plans=[])], remove_licenses=[]
        )
        await client.users.by_user_id(user.id).assign_license.post(body)
        details = await client.users.by_user_id(user.id).license_details.get()
        assert details is not None and [d.sku_id for d in details.value] == [ENTERPRISEPACK]
    finally:
        await client.users.by_user_id(user.id).delete()


def test_msal_confidential_client_with_a_secret(tls_server: TlsServer) -> None:
    app = msal.ConfidentialClientApplication(
        CLIENT_ID,
        client_credential=CLIENT_SECRET,
        authority=f"{tls_server.https}/{TENANT_ID}",
        instance_discovery=False,
    )
    result = app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert "access_token" in result, result
    assert result["token_type"] == "Bearer"

    wrong = msal.ConfidentialClientApplication(
        CLIENT_ID,
        client_credential="not-the-secret",
        authority=f"{tls_server.https}/{TENANT_ID}",
        instance_discovery=False,
    )
    refused = wrong.acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert refused.get("error") == "invalid_client", refused
    assert 7000215 in refused.get("error_codes", []), refused


# --------------------------------------------------------------------------- certificate credentials

CERT_TENANT = "5a1d0000-c0de-4c0e-a000-0000000000c9"
CERT_APP = "5a1d0000-c0de-4a99-a000-0000000000c9"


@dataclass(frozen=True)
class AppCertificate:
    key_pem: bytes
    cert_pem: bytes
    sha1_hex: str


@pytest.fixture(scope="module")
def cert_app(tls_server: TlsServer) -> AppCertificate:
    """A self-signed certificate registered on a new app of a new tenant (admin API, tenant file)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "allot-cert-app")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tenant = {"tenants": [{
        "displayName": "Cert Co", "defaultDomain": "cert.example", "id": CERT_TENANT,
        "subscriptions": [{"sku": "ENTERPRISEPACK", "enabled": 5}],
        "apps": [{"clientId": CERT_APP, "displayName": "Cert app", "clientSecret": "not-used-here",
                  "applicationPermissions": ["Organization.Read.All", "User.ReadWrite.All",
                                             "LicenseAssignment.ReadWrite.All"],
                  "certificates": [cert_pem.decode()]}],
    }]}
    r = httpx.post(
        f"{tls_server.http}/_allot/tenants",
        json=tenant,
        headers={"x-allot-admin-key": tls_server.admin_key},
    )
    assert r.status_code == 201, r.text
    return AppCertificate(
        key_pem=key_pem,
        cert_pem=cert_pem,
        sha1_hex=cert.fingerprint(hashes.SHA1()).hex().upper(),
    )


@pytest.mark.asyncio
async def test_certificate_credential_feeds_msgraph(tls_server: TlsServer, cert_app: AppCertificate) -> None:
    credential = CertificateCredential(
        CERT_TENANT,
        CERT_APP,
        certificate_data=cert_app.key_pem + cert_app.cert_pem,
        authority=tls_server.https,
        disable_instance_discovery=True,
    )
    client = graph_client(tls_server, credential)
    skus = await client.subscribed_skus.get()
    assert skus is not None and [s.sku_part_number for s in skus.value] == ["ENTERPRISEPACK"]
    await license_round_trip(client, "cert.example")


def test_msal_confidential_client_with_a_certificate(tls_server: TlsServer, cert_app: AppCertificate) -> None:
    app = msal.ConfidentialClientApplication(
        CERT_APP,
        client_credential={"private_key": cert_app.key_pem.decode(), "thumbprint": cert_app.sha1_hex},
        authority=f"{tls_server.https}/{CERT_TENANT}",
        instance_discovery=False,
    )
    result = app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert "access_token" in result, result
    # A key whose certificate the app does not hold: Entra's AADSTS700027.
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = msal.ConfidentialClientApplication(
        CERT_APP,
        client_credential={
            "private_key": stranger.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode(),
            "thumbprint": "00" * 20,
        },
        authority=f"{tls_server.https}/{CERT_TENANT}",
        instance_discovery=False,
    )
    refused = other.acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert refused.get("error") == "invalid_client", refused
    assert 700027 in refused.get("error_codes", []), refused


# --------------------------------------------------------------------------- interactive sign-in

DEVICE_TENANT = "5a1d0000-c0de-4c0e-a000-0000000000dc"
DEVICE_APP = "5a1d0000-c0de-4a99-a000-0000000000dc"


@pytest.fixture(scope="module")
def public_app(tls_server: TlsServer) -> str:
    """A public client (a command-line tool) and a user who signs in with it."""
    tenant = {"tenants": [{
        "displayName": "Device Co", "defaultDomain": "device.example", "id": DEVICE_TENANT,
        "subscriptions": [{"sku": "ENTERPRISEPACK", "enabled": 5}],
        "apps": [{"clientId": DEVICE_APP, "displayName": "License CLI", "clientSecret": "unused",
                  "delegatedScopes": ["User.Read", "User.Read.All"], "publicClient": True}],
        "users": [{"userPrincipalName": "dana@device.example", "displayName": "Dana",
                   "password": "dana-pw-1", "usageLocation": "US"}],
    }]}
    r = httpx.post(
        f"{tls_server.http}/_allot/tenants", json=tenant, headers={"x-allot-admin-key": tls_server.admin_key}
    )
    assert r.status_code == 201, r.text
    return DEVICE_APP


def test_msal_device_code_flow_completed_on_the_device_page(tls_server: TlsServer, public_app: str) -> None:
    app = msal.PublicClientApplication(
        public_app, authority=f"{tls_server.https}/{DEVICE_TENANT}", instance_discovery=False
    )
    flow = app.initiate_device_flow(scopes=["User.Read"])
    assert "user_code" in flow, flow
    assert flow["verification_uri"] == f"{tls_server.https}/devicelogin"
    # The person: opens the page the message names and signs in with the code.
    page = httpx.post(
        flow["verification_uri"],
        data={"user_code": flow["user_code"], "username": "dana@device.example", "password": "dana-pw-1"},
        verify=ssl.create_default_context(cafile=tls_server.ca_file),
    )
    assert "You have signed in" in page.text, page.text
    result = app.acquire_token_by_device_flow(flow)
    assert "access_token" in result, result
    assert result["id_token_claims"]["preferred_username"] == "dana@device.example"
    accounts = app.get_accounts()
    assert [a["username"] for a in accounts] == ["dana@device.example"]

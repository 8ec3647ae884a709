"""Zero-change mode: Microsoft's samples, not changed at all (no authority, no base URL, no
allowed hosts), reach Allot once Microsoft's host names resolve to it and its CA is trusted.

The test gives Allot those names without touching the machine: it runs in private user, mount
and network namespaces (`unshare -rmn`), where a bind-mounted /etc/hosts sends
graph.microsoft.com and login.microsoftonline.com to the namespace's own loopback and Allot
listens on its port 443 (`allot serve --tls-microsoft-hosts --tls-listen 127.0.0.1:443`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

CLIENT = '''
import asyncio, json
import msal
from azure.identity import ClientSecretCredential
from msgraph import GraphServiceClient

TENANT = "5a1d0000-c0de-4c0e-a000-000000000001"
APP = "5a1d0000-c0de-4a99-a000-00000000a001"
SECRET = "allot-demo-secret"

async def main():
    # Microsoft's quickstart, verbatim but for the ids.
    credential = ClientSecretCredential(TENANT, APP, SECRET)
    client = GraphServiceClient(credentials=credential, scopes=["https://graph.microsoft.com/.default"])
    skus = await client.subscribed_skus.get()
    app = msal.ConfidentialClientApplication(
        APP, client_credential=SECRET, authority=f"https://login.microsoftonline.com/{TENANT}")
    token = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
    print(json.dumps({
        "skus": sorted(s.sku_part_number for s in skus.value),
        "msal": "access_token" in token,
        "next": skus.odata_next_link,
    }))

asyncio.run(main())
'''


def test_unchanged_samples_reach_allot_under_microsofts_names(tmp_path: Path) -> None:
    if subprocess.run(["unshare", "-rmn", "true"], capture_output=True).returncode != 0:
        pytest.skip("this machine does not allow user namespaces (unshare -rmn)")
    binary = Path(os.environ.get("ALLOT_BIN", REPO_ROOT / "target" / "debug" / "allot"))
    hosts = tmp_path / "hosts"
    hosts.write_text(
        "127.0.0.1 localhost graph.microsoft.com login.microsoftonline.com api.partnercenter.microsoft.com\n"
    )
    client = tmp_path / "client.py"
    client.write_text(CLIENT)
    data, log = tmp_path / "data", tmp_path / "server.log"
    script = f"""
set -e
ip link set lo up
mount --bind {hosts} /etc/hosts
{binary} serve --data-dir {data} --listen 127.0.0.1:5066 --tls-microsoft-hosts --tls-listen 127.0.0.1:443 >{log} 2>&1 &
server=$!
trap 'kill $server' EXIT
for _ in $(seq 1 300); do grep -q 'Press Ctrl-C' {log} && break; sleep 0.1; done
export SSL_CERT_FILE={data}/tls/ca.pem REQUESTS_CA_BUNDLE={data}/tls/ca.pem
{sys.executable} {client}
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALLOT_", "SSL_CERT", "REQUESTS_CA"))}
    r = subprocess.run(["unshare", "-rmn", "bash", "-c", script], capture_output=True, text=True, timeout=120, env=env)
    server_log = log.read_text(errors="replace") if log.exists() else ""
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}\n{server_log}"
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["msal"] is True
    assert "ENTERPRISEPACK" in result["skus"], result

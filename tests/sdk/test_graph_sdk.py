"""End-to-end test: Microsoft's Python Graph SDK (msgraph-sdk) against a real `allot` server.

The SDK is used exactly as shipped. Only two things differ from pointing it at
graph.microsoft.com:

* the request adapter's base URL is the local server's ``/v1.0``;
* the bearer token comes from a small custom ``AccessTokenProvider`` that calls the
  server's own OAuth2 client-credentials endpoint (see ``AllotTokenProvider``).

Run it with ``scripts/sdk-test.sh``. Environment variables:

``ALLOT_BIN``
    The ``allot`` binary to start (default: ``target/debug/allot`` in the repository).
``ALLOT_SDK_DATABASE_URL``
    If set (e.g. ``postgres://allot@127.0.0.1/allot_sdk``), the server is started with
    ``--database-url`` on that database instead of SQLite in a fresh temporary data
    directory. The database must either be empty (the demo tenant is then seeded) or
    already hold the demo tenant. The tests create users with unique names, measure
    unit counts relative to what they read first, and delete their users afterwards, so
    a database can be reused between runs.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
import pytest_asyncio
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_http.middleware.options import HeadersInspectionHandlerOption
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.groups.item.assign_license.assign_license_post_request_body import (
    AssignLicensePostRequestBody as GroupAssignLicensePostRequestBody,
)
from msgraph.generated.groups.item.group_item_request_builder import GroupItemRequestBuilder
from msgraph.generated.models.assigned_license import AssignedLicense
from msgraph.generated.models.group import Group
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.reference_create import ReferenceCreate
from msgraph.generated.models.subscribed_sku import SubscribedSku
from msgraph.generated.models.user import User
from msgraph.generated.users.item.assign_license.assign_license_post_request_body import (
    AssignLicensePostRequestBody,
)
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder

REPO_ROOT = Path(__file__).resolve().parents[2]

# The demo tenant that `allot serve` seeds on a fresh database.
TENANT_ID = "5a1d0000-c0de-4c0e-a000-000000000001"
TENANT_DOMAIN = "contoso.example"
CLIENT_ID = "5a1d0000-c0de-4a99-a000-00000000a001"
CLIENT_SECRET = "allot-demo-secret"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
ADMIN_KEY = "allot-sdk-test-admin-key"

ENTERPRISEPACK = UUID("6fd2c87f-b296-42f0-b197-1e91e994b900")  # Office 365 E3, 25 units
POWER_BI_PRO = UUID("f8a1db68-be16-40ed-86d5-cb42ce701560")  # 5 units
EMS = UUID("efccb6f7-5641-4e0e-bd10-b4976e1bf68e")  # Enterprise Mobility + Security E3, 100 units
# The E3 service plan the scenario disables. Its id is looked up in subscribedSkus, not
# hard-coded; Sway is chosen because no other plan of the SKU depends on it.
DISABLED_PLAN_NAME = "SWAY"

STARTUP_TIMEOUT_S = 30.0
# Group licensing is processed in the background; how long to poll for ProcessingComplete.
GROUP_PROCESSING_TIMEOUT_S = 20.0
GROUP_PROCESSING_POLL_S = 0.1
LISTENING_RE = re.compile(r"Allot is listening on (http://\S+)")


# --------------------------------------------------------------------------- server


@dataclass(frozen=True)
class AllotServer:
    base_url: str  # e.g. http://127.0.0.1:40123, no trailing slash

    @property
    def graph_url(self) -> str:
        return f"{self.base_url}/v1.0"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/{TENANT_ID}/oauth2/v2.0/token"


@pytest.fixture(scope="session")
def allot_server() -> Iterator[AllotServer]:
    """Starts `allot serve` on a free loopback port and stops it after the session."""
    binary = Path(os.environ.get("ALLOT_BIN", REPO_ROOT / "target" / "debug" / "allot"))
    if not binary.is_file():
        pytest.fail(f"allot binary not found at {binary}; run `cargo build -p allot-server`")

    with tempfile.TemporaryDirectory(prefix="allot-sdk-") as tmp:
        data_dir = Path(tmp) / "data"
        log_path = Path(tmp) / "server.log"
        # Port 0: the OS picks a free port and the server prints the one it got, so
        # there is no race between choosing a port and binding it.
        cmd = [str(binary), "serve", "--data-dir", str(data_dir), "--listen", "127.0.0.1:0"]
        database_url = os.environ.get("ALLOT_SDK_DATABASE_URL")
        if database_url:
            cmd += ["--database-url", database_url]
        # Keep the caller's ALLOT_* settings (seed file, admin key, ...) out of the server.
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALLOT_")}
        env.setdefault("RUST_LOG", "warn")
        # A known admin key, so that tests can arm throttling through the admin API.
        env["ALLOT_ADMIN_KEY"] = ADMIN_KEY

        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
        try:
            base_url = _wait_until_listening(proc, log_path)
            yield AllotServer(base_url=base_url)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_until_listening(proc: subprocess.Popen[bytes], log_path: Path) -> str:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        match = LISTENING_RE.search(text)
        if match:
            base_url = match.group(1).rstrip("/")
            # The banner is printed once the socket is bound; confirm that it answers.
            discovery = f"{base_url}/{TENANT_ID}/v2.0/.well-known/openid-configuration"
            httpx.get(discovery).raise_for_status()
            return base_url
        if proc.poll() is not None:
            pytest.fail(f"allot exited with status {proc.returncode} before listening:\n{text}")
        time.sleep(0.05)
    pytest.fail(
        f"allot did not print its listening banner within {STARTUP_TIMEOUT_S}s:\n"
        f"{log_path.read_text(errors='replace')}"
    )


# --------------------------------------------------------------------------- SDK client


class AllotTokenProvider(AccessTokenProvider):
    """Supplies app-only tokens from the allot server's client-credentials endpoint.

    Why not the SDK's default `GraphServiceClient(credentials=ClientSecretCredential(...))`:
    that goes through kiota's `AzureIdentityAuthenticationProvider`, which (a) gets its
    token from azure-identity/MSAL, i.e. from a real Entra ID authority over https with
    instance discovery, and (b) unless given scopes, derives the scope from the request's
    host, so a request to http://127.0.0.1 would ask for "http://127.0.0.1/.default". A plain `AccessTokenProvider` plugged into kiota's
    `BaseBearerTokenAuthenticationProvider` is the SDK's documented extension point for
    custom token sources.
    """

    # Tokens go to loopback hosts only, so sending them over plain http is harmless; any
    # other host gets no token, as kiota's own providers treat hosts they don't allow.
    LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

    def __init__(self, token_url: str) -> None:
        self._token_url = token_url
        self._token: str | None = None
        self._expires_at = 0.0
        self._validator = AllowedHostsValidator(list(self.LOOPBACK_HOSTS))

    async def get_authorization_token(
        self, uri: str, additional_authentication_context: dict[str, Any] | None = None
    ) -> str:
        if not self._validator.is_url_host_valid(uri):
            return ""
        if self._token is None or time.monotonic() > self._expires_at - 60:
            async with httpx.AsyncClient() as http:
                response = await http.post(
                    self._token_url,
                    data={
                        "grant_type": "client_credentials",
                        "client_id": CLIENT_ID,
                        "client_secret": CLIENT_SECRET,
                        "scope": GRAPH_SCOPE,
                    },
                )
            response.raise_for_status()
            body = response.json()
            self._token = body["access_token"]
            self._expires_at = time.monotonic() + float(body.get("expires_in", 3600))
        return self._token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self._validator


@dataclass
class Graph:
    client: GraphServiceClient
    created_user_ids: list[str]
    created_group_ids: list[str] = field(default_factory=list)


@pytest_asyncio.fixture
async def graph(allot_server: AllotServer) -> AsyncIterator[Graph]:
    """A GraphServiceClient bound to the server; deletes the users and groups it created
    afterwards (those a test has not deleted itself).

    Function-scoped on purpose: the SDK's httpx client belongs to the event loop it was
    first used on, and pytest-asyncio gives each test its own loop.
    """
    auth = BaseBearerTokenAuthenticationProvider(AllotTokenProvider(allot_server.token_url))
    # GraphRequestAdapter builds the SDK's standard httpx client and middleware pipeline
    # (retry, redirect, telemetry, ...); only the base URL is changed. It must be set
    # before GraphServiceClient is built, which copies it into its path parameters.
    adapter = GraphRequestAdapter(auth)
    adapter.base_url = allot_server.graph_url
    graph = Graph(client=GraphServiceClient(request_adapter=adapter), created_user_ids=[])
    try:
        yield graph
    finally:
        try:
            # Graph refuses to delete a group that still has licenses (400), so a group
            # left licensed by a failed test loses them first.
            for group_id in graph.created_group_ids:
                await remove_group_licenses(graph, group_id)
                await graph.client.groups.by_group_id(group_id).delete()
        finally:
            for user_id in graph.created_user_ids:
                await graph.client.users.by_user_id(user_id).delete()


# --------------------------------------------------------------------------- helpers

NO_FREE_UNITS_MESSAGE = "Subscription with SKU {sku} does not have any available licenses."
NO_USAGE_LOCATION_MESSAGE = (
    "License assignment cannot be done for user with invalid usage location."
)
INHERITED_LICENSE_MESSAGE = (
    "User license is inherited from a group membership and it cannot be removed directly"
    " from the user."
)
LICENSE_PROCESSING_STATES = {"QueuedForProcessing", "ProcessingInProgress", "ProcessingComplete"}


async def create_user(graph: Graph, label: str, usage_location: str | None = None) -> User:
    nickname = f"sdk-{label}-{uuid.uuid4().hex[:10]}"
    body = User(
        account_enabled=True,
        display_name=f"SDK test {label}",
        mail_nickname=nickname,
        user_principal_name=f"{nickname}@{TENANT_DOMAIN}",
        password_profile=PasswordProfile(
            password="Sdk-test-password-1", force_change_password_next_sign_in=False
        ),
        usage_location=usage_location,
    )
    created = await graph.client.users.post(body)
    assert created is not None and created.id
    graph.created_user_ids.append(created.id)
    assert created.user_principal_name == body.user_principal_name
    assert created.display_name == body.display_name
    return created


async def create_security_group(graph: Graph, label: str) -> Group:
    nickname = f"sdk-{label}-{uuid.uuid4().hex[:10]}"
    body = Group(
        display_name=f"SDK test {label}",
        mail_enabled=False,
        mail_nickname=nickname,
        security_enabled=True,
    )
    created = await graph.client.groups.post(body)
    assert created is not None and created.id
    graph.created_group_ids.append(created.id)
    assert created.display_name == body.display_name
    assert created.mail_nickname == nickname
    assert created.security_enabled is True and created.mail_enabled is False
    return created


async def add_member(graph: Graph, group_id: str, user_id: str) -> None:
    ref = ReferenceCreate(odata_id=f"https://graph.microsoft.com/v1.0/directoryObjects/{user_id}")
    # Graph answers 204 No Content, which the SDK returns as None.
    assert await graph.client.groups.by_group_id(group_id).members.ref.post(ref) is None


async def assign_to_group(
    graph: Graph, group_id: str, add: list[AssignedLicense], remove: list[UUID]
) -> Group:
    body = GroupAssignLicensePostRequestBody(add_licenses=add, remove_licenses=remove)
    # The SDK's own headers-inspection middleware captures the response headers.
    inspect = HeadersInspectionHandlerOption(inspect_request_headers=False)
    group = await graph.client.groups.by_group_id(group_id).assign_license.post(
        body, request_configuration=RequestConfiguration(options=[inspect])
    )
    # Graph answers a group's assignLicense with 202 Accepted, the group object and a
    # Location header naming the group (the SDK does not follow it: it is no redirect).
    assert group is not None and group.id == group_id
    [location] = inspect.response_headers.get("location")
    assert location.endswith(
        f"/v2/{TENANT_ID}/directoryObjects/{group_id}/Microsoft.DirectoryServices.Group"
    ), location
    return group


async def wait_for_group_processing(graph: Graph, group_id: str) -> Group:
    """Polls the group until its licenseProcessingState is ProcessingComplete."""
    select = RequestConfiguration(
        query_parameters=GroupItemRequestBuilder.GroupItemRequestBuilderGetQueryParameters(
            select=["id", "licenseProcessingState", "assignedLicenses"]
        )
    )
    group_item = graph.client.groups.by_group_id(group_id)
    deadline = time.monotonic() + GROUP_PROCESSING_TIMEOUT_S
    seen: list[str | None] = []
    while True:
        group = await group_item.get(request_configuration=select)
        assert group is not None and group.id == group_id
        assert group.license_processing_state is not None, "licenseProcessingState not returned"
        state = group.license_processing_state.state
        assert state in LICENSE_PROCESSING_STATES, f"unexpected licenseProcessingState {state!r}"
        if not seen or seen[-1] != state:
            seen.append(state)
        if state == "ProcessingComplete":
            return group
        if time.monotonic() > deadline:
            pytest.fail(
                f"group {group_id} not ProcessingComplete after {GROUP_PROCESSING_TIMEOUT_S}s;"
                f" states seen: {seen}"
            )
        await asyncio.sleep(GROUP_PROCESSING_POLL_S)


async def remove_group_licenses(graph: Graph, group_id: str) -> None:
    select = RequestConfiguration(
        query_parameters=GroupItemRequestBuilder.GroupItemRequestBuilderGetQueryParameters(
            select=["id", "assignedLicenses"]
        )
    )
    group = await graph.client.groups.by_group_id(group_id).get(request_configuration=select)
    assert group is not None
    skus = [lic.sku_id for lic in group.assigned_licenses or [] if lic.sku_id is not None]
    if skus:
        await assign_to_group(graph, group_id, add=[], remove=skus)
        await wait_for_group_processing(graph, group_id)


async def subscribed_sku(graph: Graph, sku_id: UUID) -> SubscribedSku:
    response = await graph.client.subscribed_skus.get()
    assert response is not None and response.value is not None
    matches = [sku for sku in response.value if sku.sku_id == sku_id]
    assert len(matches) == 1, f"expected exactly one subscribedSku {sku_id}, got {len(matches)}"
    return matches[0]


async def consumed_units(graph: Graph, sku_id: UUID) -> int:
    sku = await subscribed_sku(graph, sku_id)
    assert isinstance(sku.consumed_units, int)
    return sku.consumed_units


async def assign(
    graph: Graph, user_id: str, add: list[AssignedLicense], remove: list[UUID]
) -> User:
    body = AssignLicensePostRequestBody(add_licenses=add, remove_licenses=remove)
    user = await graph.client.users.by_user_id(user_id).assign_license.post(body)
    # Graph answers assignLicense with the user object.
    assert user is not None and user.id == user_id
    return user


# --------------------------------------------------------------------------- tests


@pytest.mark.asyncio
async def test_license_lifecycle_with_disabled_plan(graph: Graph) -> None:
    """Create a user, set usageLocation, assign E3 with one plan off, read, then remove it."""
    e3 = await subscribed_sku(graph, ENTERPRISEPACK)
    assert e3.sku_part_number == "ENTERPRISEPACK"
    assert e3.service_plans
    sku_plan_ids = {plan.service_plan_id for plan in e3.service_plans}
    disabled = [p for p in e3.service_plans if p.service_plan_name == DISABLED_PLAN_NAME]
    assert len(disabled) == 1, f"{DISABLED_PLAN_NAME} not listed in ENTERPRISEPACK's servicePlans"
    disabled_plan_id = disabled[0].service_plan_id
    assert isinstance(disabled_plan_id, UUID)
    baseline = e3.consumed_units
    assert isinstance(baseline, int)
    assert e3.prepaid_units is not None and e3.prepaid_units.enabled is not None
    assert baseline < e3.prepaid_units.enabled, "ENTERPRISEPACK has no free unit to start with"

    user = await create_user(graph, "lifecycle")
    assert user.id is not None
    user_item = graph.client.users.by_user_id(user.id)

    # Graph refuses to license a user without a usage location...
    plain_e3 = AssignedLicense(sku_id=ENTERPRISEPACK, disabled_plans=[])
    with pytest.raises(ODataError) as raised:
        await assign(graph, user.id, add=[plain_e3], remove=[])
    assert raised.value.response_status_code == 400
    assert raised.value.error is not None
    assert raised.value.error.code == "Request_BadRequest"
    assert raised.value.error.message == NO_USAGE_LOCATION_MESSAGE
    assert await consumed_units(graph, ENTERPRISEPACK) == baseline

    # ...so set one with PATCH (Graph answers 204, which the SDK returns as None).
    assert await user_item.patch(User(usage_location="NO")) is None
    select = RequestConfiguration(
        query_parameters=UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
            select=["id", "usageLocation"]
        )
    )
    fetched = await user_item.get(request_configuration=select)
    assert fetched is not None
    assert fetched.id == user.id
    assert fetched.usage_location == "NO"

    await assign(
        graph,
        user.id,
        add=[AssignedLicense(sku_id=ENTERPRISEPACK, disabled_plans=[disabled_plan_id])],
        remove=[],
    )

    details = await user_item.license_details.get()
    assert details is not None and details.value is not None
    assert [d.sku_id for d in details.value] == [ENTERPRISEPACK]
    detail = details.value[0]
    assert detail.sku_part_number == "ENTERPRISEPACK"
    assert detail.service_plans is not None
    # licenseDetails lists every plan of the SKU, the disabled one included.
    assert {p.service_plan_id for p in detail.service_plans} == sku_plan_ids
    status = {p.service_plan_id: p.provisioning_status for p in detail.service_plans}
    assert status[disabled_plan_id] == "Disabled"
    assert [pid for pid, s in status.items() if s == "Disabled"] == [disabled_plan_id]

    assert await consumed_units(graph, ENTERPRISEPACK) == baseline + 1

    await assign(graph, user.id, add=[], remove=[ENTERPRISEPACK])

    details = await user_item.license_details.get()
    assert details is not None
    assert details.value == []
    assert await consumed_units(graph, ENTERPRISEPACK) == baseline


@pytest.mark.asyncio
async def test_assigning_beyond_free_units_raises_odata_error(graph: Graph) -> None:
    """Use up POWER_BI_PRO's free units; one more assignment is Graph's 400 error."""
    sku = await subscribed_sku(graph, POWER_BI_PRO)
    assert sku.prepaid_units is not None
    enabled = sku.prepaid_units.enabled
    consumed = sku.consumed_units
    assert isinstance(enabled, int) and isinstance(consumed, int)
    free = enabled - consumed
    assert 0 <= free <= 10, f"unexpected POWER_BI_PRO free units: {free}"

    users = [await create_user(graph, f"pbi{i}", usage_location="US") for i in range(free + 1)]
    license = [AssignedLicense(sku_id=POWER_BI_PRO, disabled_plans=[])]
    for user in users[:free]:
        assert user.id is not None
        await assign(graph, user.id, add=license, remove=[])
    assert await consumed_units(graph, POWER_BI_PRO) == enabled

    last = users[free]
    assert last.id is not None
    with pytest.raises(ODataError) as raised:
        await assign(graph, last.id, add=license, remove=[])
    err = raised.value
    assert err.response_status_code == 400
    assert err.error is not None
    assert err.error.code == "Request_BadRequest"
    assert err.error.message == NO_FREE_UNITS_MESSAGE.format(sku=POWER_BI_PRO)
    # Graph's innerError repeats the response's correlation headers (the SDK's telemetry
    # middleware sends a client-request-id, which the server echoes).
    inner = err.error.inner_error
    assert inner is not None and inner.date is not None
    assert err.response_headers is not None
    assert inner.request_id == err.response_headers["request-id"]
    assert inner.client_request_id == err.response_headers["client-request-id"]

    # The refused assignment changed nothing.
    assert await consumed_units(graph, POWER_BI_PRO) == enabled
    details = await graph.client.users.by_user_id(last.id).license_details.get()
    assert details is not None
    assert details.value == []


@pytest.mark.asyncio
async def test_group_based_licensing(graph: Graph) -> None:
    """License a security group with EMS; its members inherit it, including one without a
    usageLocation (group licensing falls back to the tenant's country). An inherited
    license cannot be removed from the user directly; removing it from the group does."""
    ems = await subscribed_sku(graph, EMS)
    assert ems.prepaid_units is not None and ems.prepaid_units.enabled is not None
    baseline = ems.consumed_units
    assert isinstance(baseline, int)

    group = await create_security_group(graph, "ems-group")
    assert group.id is not None
    gid = group.id
    members = [
        await create_user(graph, "grp-us", usage_location="US"),
        await create_user(graph, "grp-no", usage_location="NO"),
        await create_user(graph, "grp-nowhere"),  # no usageLocation
    ]
    member_ids = [m.id for m in members if m.id is not None]
    assert len(member_ids) == len(members)
    assert baseline + len(members) <= ems.prepaid_units.enabled, "EMS has too few free units"
    for uid in member_ids:
        await add_member(graph, gid, uid)

    accepted = await assign_to_group(
        graph, gid, add=[AssignedLicense(sku_id=EMS, disabled_plans=[])], remove=[]
    )
    # The 202 body is the group in its default representation, which (as on Graph) has
    # no assignedLicenses or licenseProcessingState: those come only with $select.
    assert accepted.display_name == group.display_name
    assert accepted.assigned_licenses is None

    processed = await wait_for_group_processing(graph, gid)
    assert processed.assigned_licenses is not None
    assert [lic.sku_id for lic in processed.assigned_licenses] == [EMS]
    assert processed.assigned_licenses[0].disabled_plans == []

    user_select = RequestConfiguration(
        query_parameters=UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
            select=["id", "licenseAssignmentStates", "assignedLicenses"]
        )
    )
    for uid in member_ids:
        user = await graph.client.users.by_user_id(uid).get(request_configuration=user_select)
        assert user is not None and user.id == uid
        assert user.assigned_licenses is not None
        assert [lic.sku_id for lic in user.assigned_licenses] == [EMS]
        states = user.license_assignment_states
        assert states is not None and len(states) == 1, f"user {uid}: {states}"
        state = states[0]
        assert state.assigned_by_group == gid
        assert state.sku_id == EMS
        assert state.state == "Active"
        assert state.error == "None"
        assert state.disabled_plans == []
        assert state.last_updated_date_time is not None
    assert await consumed_units(graph, EMS) == baseline + len(members)

    # An inherited license can only go away with the membership or the group's license.
    with pytest.raises(ODataError) as raised:
        await assign(graph, member_ids[0], add=[], remove=[EMS])
    err = raised.value
    assert err.response_status_code == 400
    assert err.error is not None
    assert err.error.code == "Request_BadRequest"
    assert err.error.message == INHERITED_LICENSE_MESSAGE
    assert await consumed_units(graph, EMS) == baseline + len(members)

    # Remove the license from the group; the members lose it once processing completes.
    await assign_to_group(graph, gid, add=[], remove=[EMS])
    processed = await wait_for_group_processing(graph, gid)
    assert processed.assigned_licenses == []
    for uid in member_ids:
        user = await graph.client.users.by_user_id(uid).get(request_configuration=user_select)
        assert user is not None
        assert user.assigned_licenses == []
        assert user.license_assignment_states == []
    assert await consumed_units(graph, EMS) == baseline

    for uid in member_ids:
        await graph.client.users.by_user_id(uid).delete()
        graph.created_user_ids.remove(uid)
    await graph.client.groups.by_group_id(gid).delete()
    graph.created_group_ids.remove(gid)

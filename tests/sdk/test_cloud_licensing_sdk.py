"""End-to-end test: Microsoft's Python Graph **beta** SDK (msgraph-beta-sdk) against a real
`allot` server, on the beta ``cloudLicensing`` API: the three examples of the "List
assignments" page (seed 003).

The SDK is used as shipped; as in ``test_graph_sdk.py`` only the base URL (``/beta``) and the
token source (the server's own client-credentials endpoint) differ from graph.microsoft.com.
The server fixture and the token provider are shared with that module.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID

import pytest
import pytest_asyncio
from kiota_abstractions.authentication import BaseBearerTokenAuthenticationProvider
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph_beta import GraphRequestAdapter, GraphServiceClient
from msgraph_beta.generated.admin.cloud_licensing.assignments.assignments_request_builder import (
    AssignmentsRequestBuilder,
)
from msgraph_beta.generated.models.cloud_licensing.assignment import Assignment
from msgraph_beta.generated.models.user import User

from test_graph_sdk import TENANT_DOMAIN, AllotServer, AllotTokenProvider, allot_server  # noqa: F401

ENTERPRISEPACK = UUID("6fd2c87f-b296-42f0-b197-1e91e994b900")
EMS = UUID("efccb6f7-5641-4e0e-bd10-b4976e1bf68e")
POWER_BI_PRO = UUID("f8a1db68-be16-40ed-86d5-cb42ce701560")
SWAY = UUID("a23b959c-7ce8-4e57-9140-b90eb88a9e97")


@pytest_asyncio.fixture
async def beta(allot_server: AllotServer) -> AsyncIterator[GraphServiceClient]:  # noqa: F811
    auth = BaseBearerTokenAuthenticationProvider(AllotTokenProvider(allot_server.token_url))
    adapter = GraphRequestAdapter(auth)
    adapter.base_url = f"{allot_server.base_url}/beta"
    yield GraphServiceClient(request_adapter=adapter)


async def fresh_user(client: GraphServiceClient, label: str) -> User:
    import uuid

    nick = f"cl-{label}-{uuid.uuid4().hex[:8]}"
    from msgraph_beta.generated.models.password_profile import PasswordProfile

    user = await client.users.post(
        User(
            account_enabled=True,
            display_name=f"Cloud {label}",
            mail_nickname=nick,
            user_principal_name=f"{nick}@{TENANT_DOMAIN}",
            usage_location="US",
            password_profile=PasswordProfile(
                force_change_password_next_sign_in=False, password="Sdk-Passw0rd!"
            ),
        )
    )
    assert user is not None and user.id
    return user


async def allotment_id(client: GraphServiceClient, sku: UUID) -> str:
    page = await client.admin.cloud_licensing.allotments.get()
    assert page is not None and page.value
    found = [a for a in page.value if a.sku_id == sku]
    assert len(found) == 1, [a.sku_id for a in page.value]
    assert found[0].id
    return found[0].id


async def assign(
    client: GraphServiceClient, base: str, user: User, sku: UUID, disabled: list[UUID]
) -> Assignment:
    aid = await allotment_id(client, sku)
    body = Assignment(
        disabled_service_plan_ids=disabled,
        additional_data={
            "allotment@odata.bind": f"{base}/beta/admin/cloudLicensing/allotments/{aid}",
            "assignedTo@odata.bind": f"{base}/beta/users/{user.id}",
        },
    )
    created = await client.admin.cloud_licensing.assignments.post(body)
    assert created is not None and created.id
    assert created.disabled_service_plan_ids == disabled
    return created


def query(**kwargs: object) -> RequestConfiguration:
    params = AssignmentsRequestBuilder.AssignmentsRequestBuilderGetQueryParameters(**kwargs)
    return RequestConfiguration(query_parameters=params)


@pytest.mark.asyncio
async def test_seed_003_examples(beta: GraphServiceClient, allot_server: AllotServer) -> None:  # noqa: F811
    base = allot_server.base_url
    steve = await fresh_user(beta, "steve")
    ann = await fresh_user(beta, "ann")
    created: list[str] = []
    try:
        mine = await assign(beta, base, steve, ENTERPRISEPACK, [SWAY])
        other = await assign(beta, base, ann, EMS, [])
        created += [mine.id, other.id]

        # Example 1: list assignments; ours carries its disabled plan.
        page = await beta.admin.cloud_licensing.assignments.get()
        assert page is not None and page.value is not None
        by_id = {a.id: a for a in page.value}
        assert by_id[mine.id].disabled_service_plan_ids == [SWAY]
        assert by_id[other.id].disabled_service_plan_ids == []

        # Example 2: with their assignee and allotment.
        page = await beta.admin.cloud_licensing.assignments.get(
            query(expand=["assignedTo", "allotment"])
        )
        assert page is not None and page.value is not None
        got = {a.id: a for a in page.value}[mine.id]
        assert isinstance(got.assigned_to, User)
        assert got.assigned_to.id == steve.id
        assert got.assigned_to.display_name == "Cloud steve"
        assert got.allotment is not None
        assert got.allotment.sku_id == ENTERPRISEPACK
        assert got.allotment.sku_part_number == "ENTERPRISEPACK"
        assert got.allotment.allotted_units == 25
        assert got.allotment.consumed_units is not None and got.allotment.consumed_units >= 1
        assert got.allotment.services and any(s.plan_id == SWAY for s in got.allotment.services)

        # Example 3: filtered by the allotment's skuId.
        page = await beta.admin.cloud_licensing.assignments.get(
            query(expand=[f"allotment($filter=skuId in ({EMS}, {POWER_BI_PRO}))"])
        )
        assert page is not None and page.value is not None
        ids = {a.id for a in page.value}
        assert other.id in ids and mine.id not in ids
        assert all(a.allotment and a.allotment.sku_id in (EMS, POWER_BI_PRO) for a in page.value)

        # One state: the v1.0-visible licenses of the user (through the beta client's users).
        details = await beta.users.by_user_id(steve.id).license_details.get()
        assert details is not None and details.value is not None
        assert [d.sku_id for d in details.value] == [ENTERPRISEPACK]
    finally:
        for aid in created:
            await beta.admin.cloud_licensing.assignments.by_assignment_id(aid).delete()
        for u in (steve, ann):
            await beta.users.by_user_id(u.id).delete()


@pytest.mark.asyncio
async def test_errors_are_odata_errors(beta: GraphServiceClient, allot_server: AllotServer) -> None:  # noqa: F811
    from msgraph_beta.generated.models.o_data_errors.o_data_error import ODataError

    with pytest.raises(ODataError) as err:
        await beta.admin.cloud_licensing.allotments.by_allotment_id("nope").get()
    assert err.value.response_status_code == 404
    assert err.value.error is not None and err.value.error.code == "notFound"

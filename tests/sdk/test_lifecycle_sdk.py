"""msgraph-sdk against Allot for offboarding, sync and report automation: delete a licensed user,
find it in `directory/deletedItems`, restore it with its licenses (also when the SKU has no free
unit left, which Entra allows and which leaves the SKU over-consumed); follow `users/delta` rounds;
walk users sorted by display name with the SDK's PageIterator while users are added.

The server fixture, the token provider and the helpers are shared with test_graph_sdk.py.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.audit_logs.directory_audits.directory_audits_request_builder import (
    DirectoryAuditsRequestBuilder,
)
from msgraph.generated.models.assigned_license import AssignedLicense
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.user import User
from msgraph.generated.users.delta.delta_request_builder import DeltaRequestBuilder
from msgraph.generated.users.users_request_builder import UsersRequestBuilder
from msgraph_core import PageIterator

from test_graph_sdk import (  # noqa: F401
    CLIENT_ID,
    CLIENT_SECRET,
    EMS,
    GRAPH_SCOPE,
    TENANT_DOMAIN,
    POWER_BI_PRO,
    AllotServer,
    Graph,
    allot_server,
    assign,
    create_user,
    graph,
    subscribed_sku,
)


@pytest.mark.asyncio
async def test_a_deleted_user_comes_back_with_its_license_even_over_the_free_units(
    graph: Graph,
) -> None:
    user = await create_user(graph, "offboard", usage_location="US")
    assert user.id is not None
    pbi = AssignedLicense(sku_id=POWER_BI_PRO, disabled_plans=[])
    await assign(graph, user.id, add=[pbi], remove=[])
    await graph.client.users.by_user_id(user.id).delete()

    deleted = await graph.client.directory.deleted_items.graph_user.get()
    assert deleted is not None and deleted.value is not None
    mine = [u for u in deleted.value if u.id == user.id]
    assert len(mine) == 1
    assert mine[0].user_principal_name == user.user_principal_name
    assert mine[0].deleted_date_time is not None

    # Every unit is taken while the user is away.
    sku = await subscribed_sku(graph, POWER_BI_PRO)
    assert sku.prepaid_units is not None
    enabled, consumed = sku.prepaid_units.enabled, sku.consumed_units
    assert isinstance(enabled, int) and isinstance(consumed, int)
    for i in range(enabled - consumed):
        other = await create_user(graph, f"filler{i}", usage_location="US")
        assert other.id is not None
        await assign(graph, other.id, add=[pbi], remove=[])

    restored = await graph.client.directory.deleted_items.by_directory_object_id(
        user.id
    ).restore.post()
    assert isinstance(restored, User), type(restored)
    assert restored.id == user.id

    details = await graph.client.users.by_user_id(user.id).license_details.get()
    assert details is not None and details.value is not None
    assert [d.sku_id for d in details.value] == [POWER_BI_PRO]
    sku = await subscribed_sku(graph, POWER_BI_PRO)
    assert sku.consumed_units == enabled + 1

    # Over-consumed: no new assignment passes.
    late = await create_user(graph, "late", usage_location="US")
    assert late.id is not None
    with pytest.raises(ODataError) as raised:
        await assign(graph, late.id, add=[pbi], remove=[])
    assert raised.value.response_status_code == 400
    # The restored user is gone from the deleted items.
    deleted = await graph.client.directory.deleted_items.graph_user.get()
    assert deleted is not None and deleted.value is not None
    assert user.id not in [u.id for u in deleted.value]


@pytest.mark.asyncio
async def test_users_delta_round_sees_a_license_change_and_a_delete(graph: Graph) -> None:
    changed = await create_user(graph, "delta-changed", usage_location="US")
    removed = await create_user(graph, "delta-removed", usage_location="US")
    assert changed.id is not None and removed.id is not None
    query = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
        select=["displayName", "assignedLicenses"]
    )
    # Initial sync: every page up to the deltaLink.
    page = await graph.client.users.delta.get(RequestConfiguration(query_parameters=query))
    seen: set[str] = set()
    while True:
        assert page is not None and page.value is not None
        seen.update(u.id for u in page.value if u.id)
        if page.odata_next_link:
            page = await graph.client.users.delta.with_url(page.odata_next_link).get()
            continue
        delta_link = page.odata_delta_link
        break
    assert delta_link, "no deltaLink at the end of the first round"
    assert {changed.id, removed.id} <= seen

    await assign(
        graph, changed.id, add=[AssignedLicense(sku_id=EMS, disabled_plans=[])], remove=[]
    )
    await graph.client.users.by_user_id(removed.id).delete()
    graph.created_user_ids.remove(removed.id)

    page = await graph.client.users.delta.with_url(delta_link).get()
    assert page is not None and page.value is not None
    by_id = {u.id: u for u in page.value}
    assert set(by_id) == {changed.id, removed.id}, list(by_id)
    assert [lic.sku_id for lic in by_id[changed.id].assigned_licenses or []] == [EMS]
    assert by_id[removed.id].additional_data.get("@removed") == {"reason": "changed"}
    assert page.odata_delta_link


def app_token(server: AllotServer) -> str:
    r = httpx.post(
        server.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "scope": GRAPH_SCOPE,
        },
    )
    r.raise_for_status()
    return r.json()["access_token"]


@pytest.mark.asyncio
async def test_page_iterator_over_orderby_display_name_while_users_are_added(
    graph: Graph, allot_server: AllotServer
) -> None:
    before = [await create_user(graph, f"order{i:02}") for i in range(12)]
    query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
        orderby=["displayName"], select=["id", "displayName"], top=5
    )
    first = await graph.client.users.get(RequestConfiguration(query_parameters=query))
    assert first is not None
    seen: list[str] = []
    names: list[str] = []
    added: list[str] = []
    token = app_token(allot_server)

    def on_user(user: User) -> bool:
        seen.append(user.id or "")
        names.append(user.display_name or "")
        # While the walk is under way another client adds users, sorting before and after the
        # current position (PageIterator's callback is synchronous, hence plain httpx).
        if len(seen) % 5 == 0 and len(added) < 6:
            nick = f"sdk-added-{uuid.uuid4().hex[:10]}"
            name = ("A " if len(added) % 2 == 0 else "Z ") + nick
            r = httpx.post(
                f"{allot_server.graph_url}/users",
                headers={"Authorization": f"Bearer {token}"},
                json={
                    "accountEnabled": True,
                    "displayName": name,
                    "mailNickname": nick,
                    "userPrincipalName": f"{nick}@{TENANT_DOMAIN}",
                    "passwordProfile": {"password": "Sdk-test-password-1"},
                },
            )
            assert r.status_code == 201, r.text
            added.append(r.json()["id"])
            graph.created_user_ids.append(r.json()["id"])
        return True

    iterator = PageIterator(first, graph.client.request_adapter)
    await iterator.iterate(on_user)
    assert len(seen) == len(set(seen)), "a user was returned twice"
    assert {u.id for u in before} <= set(seen), "a user present from the start was skipped"
    assert names == sorted(names, key=lambda n: (n.casefold(), n)) or names == sorted(names)
    assert len(added) == 6


@pytest.mark.asyncio
async def test_audit_log_filtered_to_one_user(graph: Graph) -> None:
    """The audit records of one user's license change, read with the SDK's filter."""
    user = await create_user(graph, "audit", usage_location="US")
    assert user.id is not None
    await assign(graph, user.id, add=[AssignedLicense(sku_id=EMS, disabled_plans=[])], remove=[])
    query = DirectoryAuditsRequestBuilder.DirectoryAuditsRequestBuilderGetQueryParameters(
        filter=f"targetResources/any(t:t/id eq '{user.id}')"
    )
    page = await graph.client.audit_logs.directory_audits.get(
        RequestConfiguration(query_parameters=query)
    )
    assert page is not None and page.value is not None
    names = sorted(r.activity_display_name or "" for r in page.value)
    assert names == ["Add user", "Change user license", "Update user"], names
    update = next(r for r in page.value if r.activity_display_name == "Update user")
    assert update.initiated_by is not None and update.initiated_by.app is not None
    assert update.initiated_by.app.app_id == CLIENT_ID
    assert update.target_resources is not None
    props = {
        p.display_name: p for p in update.target_resources[0].modified_properties or []
    }
    assert props["AssignedLicense"].old_value == "[]"
    assert str(EMS) in (props["AssignedLicense"].new_value or "")

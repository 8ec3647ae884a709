"""msgraph-sdk's JSON batching (msgraph-core's BatchRequestContent and the client's batch
request builder) against Allot: twenty assignLicense calls in one round trip, one of them
throttled and one failing a dependency.

The server fixture, the token provider and the helpers are shared with test_graph_sdk.py.
"""

from __future__ import annotations

import httpx
import pytest
from msgraph.generated.models.assigned_license import AssignedLicense
from msgraph.generated.users.item.assign_license.assign_license_post_request_body import (
    AssignLicensePostRequestBody,
)
from msgraph_core.requests.batch_request_content import BatchRequestContent
from msgraph_core.requests.batch_request_item import BatchRequestItem

from test_graph_sdk import (  # noqa: F401
    ADMIN_KEY,
    EMS,
    ENTERPRISEPACK,
    TENANT_DOMAIN,
    AllotServer,
    Graph,
    allot_server,
    consumed_units,
    create_user,
    graph,
)

MISSING_USER = "00000000-0000-0000-0000-0000000000ff"


def arm_throttle(server: AllotServer, requests: int, retry_after: int) -> None:
    """The admin API's injected 429s: the tenant's next `requests` Graph requests."""
    r = httpx.put(
        f"{server.base_url}/_allot/tenants/{TENANT_DOMAIN}/throttle",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        json={"requests": requests, "retryAfterSeconds": retry_after},
    )
    r.raise_for_status()


def assign_item(graph: Graph, request_id: str, user_id: str, sku) -> BatchRequestItem:
    body = AssignLicensePostRequestBody(
        add_licenses=[AssignedLicense(sku_id=sku, disabled_plans=[])], remove_licenses=[]
    )
    info = graph.client.users.by_user_id(user_id).assign_license.to_post_request_information(body)
    return BatchRequestItem(request_information=info, id=request_id)


@pytest.mark.asyncio
async def test_twenty_assignments_in_one_batch(graph: Graph, allot_server: AllotServer) -> None:
    users = [await create_user(graph, f"batch{i}", usage_location="US") for i in range(18)]
    before = await consumed_units(graph, EMS)

    content = BatchRequestContent()
    for i, user in enumerate(users, start=1):
        assert user.id is not None
        content.add_request(None, assign_item(graph, str(i), user.id, EMS))
    content.add_request(None, assign_item(graph, "19", MISSING_USER, EMS))
    dependent = assign_item(graph, "20", users[0].id or "", ENTERPRISEPACK)
    dependent.set_depends_on(["19"])
    content.add_request(None, dependent)
    assert len(content.requests) == 20

    arm_throttle(allot_server, requests=1, retry_after=7)
    response = await graph.client.batch.post(batch_request_content=content)
    statuses = response.get_response_status_codes()
    assert len(statuses) == 20, statuses

    throttled = [rid for rid, status in statuses.items() if status == 429]
    assert len(throttled) == 1, statuses
    item = response.get_response_by_id(throttled[0])
    assert item is not None and item.headers is not None
    assert item.headers.get("Retry-After") == "7"

    assert statuses["20"] == 424, statuses
    if throttled[0] != "19":
        assert statuses["19"] == 404, statuses
    succeeded = [rid for rid, status in statuses.items() if status == 200]
    assert len(succeeded) == (18 if throttled[0] == "19" else 17), statuses

    # Each success holds its license. (msgraph-core 1.5.2 reads an inner body only when it is a
    # base64 string, while Graph answers JSON bodies as JSON objects, so the user each
    # assignLicense returned is checked by reading the users back instead.)
    for rid in succeeded:
        user_id = users[int(rid) - 1].id or ""
        details = await graph.client.users.by_user_id(user_id).license_details.get()
        assert details is not None and [d.sku_id for d in details.value or []] == [EMS]
    assert await consumed_units(graph, EMS) == before + len(succeeded)
    # The dependent request never ran.
    details = await graph.client.users.by_user_id(users[0].id or "").license_details.get()
    assert details is not None and details.value is not None
    assert ENTERPRISEPACK not in [d.sku_id for d in details.value]

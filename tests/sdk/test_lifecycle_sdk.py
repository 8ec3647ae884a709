"""msgraph-sdk against Allot for offboarding and sync automation: delete a licensed user, find it
in `directory/deletedItems`, restore it with its licenses (also when the SKU has no free unit
left, which Entra allows and which leaves the SKU over-consumed).

The server fixture, the token provider and the helpers are shared with test_graph_sdk.py.
"""

from __future__ import annotations

import pytest
from msgraph.generated.models.assigned_license import AssignedLicense
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.user import User

from test_graph_sdk import (  # noqa: F401
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

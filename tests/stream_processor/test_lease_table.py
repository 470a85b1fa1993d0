"""The lease table as the KCL writes it: read and released (``lease_table``) (DynamoDB in
moto; the ``tables`` fixture is in ``conftest.py``)."""

from __future__ import annotations

import pytest

from stream_processor import lease_table

pytestmark = pytest.mark.stack


def test_list_shows_each_shards_checkpoint_and_owner(tables):
    ddb, leases_table, _ = tables
    assert lease_table.leases(ddb, leases_table) == [
        lease_table.Lease("shardId-000000000000", "42", None, 5),
        lease_table.Lease("shardId-000000000001", "77", "worker-a", 5),
    ]


def put_lease(
    ddb: object, table: str, shard: str, *, counter: int, owner: str, handing_over: str = ""
) -> None:
    """A lease item as the KCL writes it (``handing_over``: its checkpointOwner)."""
    item = {
        "leaseKey": {"S": shard},
        "checkpoint": {"S": "9"},
        "leaseCounter": {"N": str(counter)},
        "leaseOwner": {"S": owner},
    }
    if handing_over:
        item["checkpointOwner"] = {"S": handing_over}
    ddb.put_item(TableName=table, Item=item)


def test_release_takes_the_stopped_workers_name_off_its_leases_only(tables):
    ddb, leases_table, _ = tables
    put_lease(ddb, leases_table, "shardId-000000000002", counter=3, owner="worker-b")
    assert lease_table.release(ddb, leases_table, "worker-a") == ["shardId-000000000001"]
    after = {lease.shard_id: lease for lease in lease_table.leases(ddb, leases_table)}
    assert after["shardId-000000000001"].owner is None
    assert after["shardId-000000000001"].counter == 6  # bumped: the old owner's view is stale
    assert after["shardId-000000000001"].checkpoint == "77"  # the checkpoint stays
    assert after["shardId-000000000002"].owner == "worker-b"
    assert lease_table.release(ddb, leases_table, "worker-a") == []


def test_release_ends_a_hand_over_the_stopped_worker_had_started(tables):
    """KCL 3's graceful handoff: the new owner waits for the old one (checkpointOwner)."""
    ddb, leases_table, _ = tables
    put_lease(
        ddb,
        leases_table,
        "shardId-000000000003",
        counter=8,
        owner="worker-b",
        handing_over="worker-a",
    )
    assert "shardId-000000000003" in lease_table.release(ddb, leases_table, "worker-a")
    lease = {lease.shard_id: lease for lease in lease_table.leases(ddb, leases_table)}[
        "shardId-000000000003"
    ]
    assert (lease.owner, lease.checkpoint_owner, lease.counter) == ("worker-b", None, 8)

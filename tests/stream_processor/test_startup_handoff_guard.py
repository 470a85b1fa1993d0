"""The lease watch's guard for a graceful hand-over the KCL (3.1.3) leaves unfinished: which
leases it names (no stack needed) and what it writes (DynamoDB in moto)."""

from __future__ import annotations

import pytest

from stream_processor import lease_table, startup
from stream_processor.daemon import FAILOVER_TIME_MS, GRACEFUL_HANDOFF_TIMEOUT_MS
from tests.fixtures import unique_name

SHARD = "shardId-000000000003"


def lease(owner: str | None, checkpoint_owner: str | None, shard: str = SHARD) -> lease_table.Lease:
    return lease_table.Lease(shard, "9", owner, 8, checkpoint_owner)


def test_the_bound_is_the_kcls_own_handoff_timeout_plus_the_lease_duration():
    assert startup.HANDOFF_STUCK_S == (GRACEFUL_HANDOFF_TIMEOUT_MS + FAILOVER_TIME_MS) / 1000


def test_only_a_hand_over_this_worker_started_and_left_pending_that_long_is_named():
    watch = startup.Handoffs("worker-a")
    bound = startup.HANDOFF_STUCK_S
    leases = [
        lease("worker-b", "worker-a"),  # ours, pending
        lease("worker-a", "worker-c", "shardId-000000000004"),  # handed to us: not ours to end
        lease("worker-a", None, "shardId-000000000005"),  # no hand-over
    ]
    assert watch.stuck(leases, 100.0) == []
    assert watch.stuck(leases, 100.0 + bound - 1) == []
    assert watch.stuck(leases, 100.0 + bound) == [(leases[0], bound)]
    assert watch.stuck(None, 100.0 + bound) == []  # a failed read changes nothing


def test_a_hand_over_that_ends_or_changes_starts_its_count_again():
    watch = startup.Handoffs("worker-a")
    bound = startup.HANDOFF_STUCK_S
    watch.stuck([lease("worker-b", "worker-a")], 0.0)
    assert watch.stuck([lease("worker-b", None)], bound / 2) == []  # it ended
    assert watch.stuck([lease("worker-b", "worker-a")], bound) == []  # a new one: count again
    assert watch.stuck([lease("worker-c", "worker-a")], bound * 2) == []  # to another worker
    assert len(watch.stuck([lease("worker-c", "worker-a")], bound * 3)) == 1


@pytest.mark.stack
def test_ending_a_hand_over_gives_the_lease_to_its_new_owner_as_the_kcl_would(aws_client):
    ddb, table = aws_client("dynamodb"), unique_name("leases")
    ddb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "leaseKey", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "leaseKey", "AttributeType": "S"}],
    )
    ddb.put_item(
        TableName=table,
        Item={
            "leaseKey": {"S": SHARD},
            "checkpoint": {"S": "9"},
            "leaseCounter": {"N": "8"},
            "leaseOwner": {"S": "worker-b"},
            "checkpointOwner": {"S": "worker-a"},
        },
    )
    try:
        (pending,) = lease_table.leases(ddb, table)
        # Not this worker's hand-over: left alone.
        assert not lease_table.complete_handoff(ddb, table, "worker-c", pending)
        assert lease_table.complete_handoff(ddb, table, "worker-a", pending)
        (after,) = lease_table.leases(ddb, table)
        # The new owner keeps it, free to start it; the old owner's next renewal (expecting
        # counter 8) fails, so it lets go; the checkpoint stays.
        assert (after.owner, after.checkpoint_owner, after.counter) == ("worker-b", None, 9)
        assert after.checkpoint == "9"
        # Done once: a second call finds the hand-over over.
        assert not lease_table.complete_handoff(ddb, table, "worker-a", pending)
    finally:
        ddb.delete_table(TableName=table)

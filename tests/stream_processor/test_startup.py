"""Start-up steps seen in the lease table (the pure part of stream_processor.startup), and
the owner-since records against the emulated DynamoDB."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stream_processor.join_state.dynamodb import ensure_table
from stream_processor.lease_table import Lease
from stream_processor.startup import Watch, owners_since, record_owner
from tests.fixtures import unique_name


def lease(shard: str, owner: str | None, checkpoint: str = "TRIM_HORIZON") -> Lease:
    return Lease(shard, checkpoint, owner, 1)


def steps(watch: Watch, leases: list[Lease] | None) -> list[tuple]:
    return [(s["step"], s.get("shard")) for s in watch.step(leases)]


def test_each_step_is_reported_once_in_the_order_the_kcl_takes_them():
    w = Watch("me")
    assert steps(w, None) == []  # the daemon has not created its lease table yet
    assert steps(w, []) == [("lease_table_present", None)]
    assert not w.settled([])
    unowned = [lease("shard-0", None), lease("shard-1", None)]
    assert steps(w, unowned) == [("leases_created", None)]
    assert steps(w, unowned) == []
    assert not w.settled(unowned)
    taken = [lease("shard-0", "me"), lease("shard-1", "other")]
    assert steps(w, taken) == [("lease_taken", "shard-0")]
    assert steps(w, taken) == []
    assert not w.settled(taken), "ours has not been checkpointed yet"
    moved = [lease("shard-0", "me", "49"), lease("shard-1", "other")]
    assert steps(w, moved) == [("first_checkpoint", "shard-0")]
    assert steps(w, [lease("shard-0", "me", "50"), lease("shard-1", "other")]) == []
    assert w.settled(moved)


def test_a_lease_lost_and_taken_again_is_reported_each_time():
    w = Watch("me")
    assert steps(w, [lease("shard-0", "me")]) == [
        ("lease_table_present", None),
        ("leases_created", None),
        ("lease_taken", "shard-0"),
    ]
    steps(w, [lease("shard-0", "me", "7")])
    assert steps(w, [lease("shard-0", "other", "7")]) == [("lease_gone", "shard-0")]
    assert steps(w, [lease("shard-0", "me", "9")]) == [("lease_taken", "shard-0")]
    assert steps(w, [lease("shard-0", "me", "12")]) == [("first_checkpoint", "shard-0")]


@pytest.mark.stack
def test_owner_since_is_shown_only_while_the_recorded_owner_holds_the_lease(aws_client):
    """Against the emulated DynamoDB: what ``replay list`` shows in "owner since"."""
    dynamodb, table = aws_client("dynamodb"), unique_name("owners")
    leases = [lease("shardId-0", "w1"), lease("shardId-1", "w2"), lease("shardId-2", None)]
    assert owners_since(dynamodb, table, "app", leases) == {}  # no state table yet
    ensure_table(dynamodb, table)
    at = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)
    record_owner(dynamodb, table, "app", "shardId-0", "w1", at)
    record_owner(dynamodb, table, "app", "shardId-1", "w1", at)  # w2 has taken it since
    assert owners_since(dynamodb, table, "app", leases) == {"shardId-0": at}

"""Replay: checkpoints saved and reset (``replay``) in the lease table as the KCL honours them
(DynamoDB in moto; the ``tables`` fixture is in ``conftest.py``)."""

from __future__ import annotations

import pytest

from stream_processor import replay
from tests.fixtures import unique_name

pytestmark = pytest.mark.stack


def item(ddb, table, shard):
    return ddb.get_item(TableName=table, Key={"leaseKey": {"S": shard}}, ConsistentRead=True)[
        "Item"
    ]


def test_a_saved_name_gives_back_the_checkpoints_of_the_moment_it_was_saved(tables):
    ddb, leases_table, state_table = tables
    replay.save(ddb, state_table, leases_table, "before-fix")
    replay.reset(ddb, leases_table, {"shardId-000000000000": "99"})
    assert replay.saved(ddb, state_table, leases_table, "before-fix") == {
        "shardId-000000000000": "42",
        "shardId-000000000001": "77",
    }
    with pytest.raises(replay.ReplayError, match="no saved checkpoints named 'nope'"):
        replay.saved(ddb, state_table, leases_table, "nope")


def test_reset_sets_the_checkpoint_and_clears_the_pending_one_as_the_kcl_expects(tables):
    ddb, leases_table, _ = tables
    [change] = replay.reset(ddb, leases_table, {"shardId-000000000000": "TRIM_HORIZON"})
    assert change == replay.CheckpointMove("shardId-000000000000", "42", "TRIM_HORIZON", None)
    lease = item(ddb, leases_table, "shardId-000000000000")
    assert (
        lease["checkpoint"]["S"] == "TRIM_HORIZON"
        and lease["checkpointSubSequenceNumber"]["N"] == "0"
    )
    assert "pendingCheckpoint" not in lease and lease["leaseCounter"]["N"] == "5"


def test_a_lease_a_live_worker_renews_is_refused_unless_forced(tables):
    ddb, leases_table, _ = tables

    def worker_renews(_seconds: float) -> None:
        ddb.update_item(
            TableName=leases_table,
            Key={"leaseKey": {"S": "shardId-000000000001"}},
            UpdateExpression="SET leaseCounter = leaseCounter + :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )

    with pytest.raises(replay.ReplayError, match="live workers hold shardId-000000000001"):
        replay.reset(ddb, leases_table, {"shardId-000000000001": "LATEST"}, sleep=worker_renews)
    assert item(ddb, leases_table, "shardId-000000000001")["checkpoint"]["S"] == "77"

    [change] = replay.reset(ddb, leases_table, {"shardId-000000000001": "LATEST"}, force=True)
    assert change.took_lease_from == "worker-a"
    lease = item(ddb, leases_table, "shardId-000000000001")
    assert (
        lease["checkpoint"]["S"] == "LATEST"
        and "leaseOwner" not in lease
        and lease["leaseCounter"]["N"] == "7"
    )


def test_an_owned_lease_whose_worker_is_gone_can_be_reset_after_watching_it(tables):
    ddb, leases_table, _ = tables
    [change] = replay.reset(
        ddb, leases_table, {"shardId-000000000001": "12"}, sleep=lambda _s: None
    )
    assert (change.before, change.after) == ("77", "12")


def test_unknown_shards_are_refused_and_nothing_changes(tables):
    ddb, leases_table, _ = tables
    with pytest.raises(replay.ReplayError, match="no lease for shard"):
        replay.reset(ddb, leases_table, {"shardId-000000000000": "1", "shardId-000000000009": "1"})
    assert item(ddb, leases_table, "shardId-000000000000")["checkpoint"]["S"] == "42"


def test_reset_to_a_time_resumes_at_the_first_record_at_or_after_it(aws_client):
    from datetime import UTC, datetime, timedelta

    kinesis = aws_client("kinesis")
    stream = unique_name("replay-ts")
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.2})
    first = kinesis.put_record(StreamName=stream, Data=b"a", PartitionKey="k")["SequenceNumber"]
    shard = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    assert (
        replay.sequence_before(kinesis, stream, shard, datetime.now(UTC) - timedelta(hours=1))
        == "TRIM_HORIZON"
    )
    assert (
        replay.sequence_before(kinesis, stream, shard, datetime.now(UTC) + timedelta(hours=1))
        == first
    )

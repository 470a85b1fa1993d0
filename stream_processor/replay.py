"""Replay from checkpoints, the operator tool: save and reset the shards' checkpoints in the
KCL's lease table (one item per shard; reading it is ``lease_table.py``).

A reset edits a lease the way the KCL honours it: ``checkpoint`` and its sub-sequence number
set, any pending checkpoint cleared, conditioned on the lease counter it read (so a worker
renewing at the same moment makes the edit fail instead of being overwritten). The next
worker to take the lease starts after the new checkpoint. A lease a live worker holds (its
counter moves while we watch) is refused unless forced; forcing also takes the lease from its
owner (owner removed, counter bumped), so the owner drops it and the new owner starts from the
reset position.

Checkpoint semantics are the KCL's: a sequence number means "resume *after* this record";
``TRIM_HORIZON`` and ``LATEST`` are the KCL's sentinels.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from stream_processor.lease_table import LeaseTableError, leases


class ReplayError(LeaseTableError):
    """The reset cannot be done safely as asked; the message says why."""


@dataclass(frozen=True)
class CheckpointMove:
    shard_id: str
    before: str | None
    after: str
    took_lease_from: str | None


def save(dynamodb: Any, state_table: str, lease_table: str, name: str) -> dict[str, str | None]:  # noqa: ANN401
    """Record every shard's current checkpoint under ``name`` (in the processor's state table)."""
    checkpoints = {lease.shard_id: lease.checkpoint for lease in leases(dynamodb, lease_table)}
    dynamodb.put_item(
        TableName=state_table,
        Item={
            "pk": {"S": f"saved-checkpoints#{lease_table}#{name}"},
            "checkpoints": {"S": json.dumps(checkpoints)},
            "saved_at": {"S": datetime.now(UTC).isoformat()},
        },
    )
    return checkpoints


def saved(dynamodb: Any, state_table: str, lease_table: str, name: str) -> dict[str, str | None]:  # noqa: ANN401
    item = dynamodb.get_item(
        TableName=state_table,
        Key={"pk": {"S": f"saved-checkpoints#{lease_table}#{name}"}},
        ConsistentRead=True,
    ).get("Item")
    if item is None:
        raise ReplayError(f"no saved checkpoints named '{name}'")
    return json.loads(item["checkpoints"]["S"])


def sequence_before(kinesis: Any, stream: str, shard_id: str, moment: datetime) -> str:  # noqa: ANN401
    """The checkpoint from which the next record read is the first at or after ``moment``:
    the last record before it, or TRIM_HORIZON. Reads the shard from its start."""
    iterator = kinesis.get_shard_iterator(
        StreamName=stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    last = "TRIM_HORIZON"
    while iterator:
        page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
        for record in page["Records"]:
            if record["ApproximateArrivalTimestamp"] >= moment:
                return last
            last = record["SequenceNumber"]
        if not page["Records"] or page.get("MillisBehindLatest") == 0:
            return last
        iterator = page.get("NextShardIterator")
    return last


def reset(
    dynamodb: Any,  # noqa: ANN401
    lease_table: str,
    targets: dict[str, str],
    *,
    force: bool = False,
    liveness_wait_s: float = 6.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[CheckpointMove]:
    """Set each shard in ``targets`` (shard → checkpoint) to its new checkpoint."""
    current = {lease.shard_id: lease for lease in leases(dynamodb, lease_table)}
    unknown = sorted(set(targets) - set(current))
    if unknown:
        raise ReplayError(f"no lease for shard(s) {', '.join(unknown)}")
    owned = [current[s] for s in targets if current[s].owner]
    if owned and not force:
        sleep(liveness_wait_s)
        again = {lease.shard_id: lease for lease in leases(dynamodb, lease_table)}
        live = [lease.shard_id for lease in owned if again[lease.shard_id].counter != lease.counter]
        if live:
            raise ReplayError(
                f"live workers hold {', '.join(live)} (their leases are being renewed): stop the "
                "processor first, or pass --force to take the leases"
            )
        current = again
    changes = []
    for shard_id, checkpoint in sorted(targets.items()):
        lease = current[shard_id]
        update = (
            "SET checkpoint = :c, checkpointSubSequenceNumber = :zero "
            "REMOVE pendingCheckpoint, pendingCheckpointSubSequenceNumber, pendingCheckpointState"
        )
        values: dict[str, Any] = {
            ":c": {"S": checkpoint},
            ":zero": {"N": "0"},
            ":counter": {"N": str(lease.counter)},
        }
        if force and lease.owner:
            update = (
                "SET checkpoint = :c, checkpointSubSequenceNumber = :zero, leaseCounter = :next "
                "REMOVE pendingCheckpoint, pendingCheckpointSubSequenceNumber, "
                "pendingCheckpointState, leaseOwner"
            )
            values[":next"] = {"N": str(lease.counter + 1)}
        try:
            dynamodb.update_item(
                TableName=lease_table,
                Key={"leaseKey": {"S": shard_id}},
                UpdateExpression=update,
                ConditionExpression="leaseCounter = :counter",
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ReplayError(
                    f"{shard_id}: its lease changed while resetting (a worker renewed it); "
                    f"nothing changed for it; changed so far: {changes}"
                ) from None
            raise
        changes.append(
            CheckpointMove(shard_id, lease.checkpoint, checkpoint, lease.owner if force else None)
        )
    return changes

"""The KCL's lease table (one item per shard): read the leases, and the two writes a worker's
supervisor makes to them.

``release`` is what a worker's supervisor does once the daemon has exited: the leases still
owned by that worker lose their owner, so the leader hands them to a live worker at its next
assignment run instead of after they expire (KCL 3.1 does not give leases up at shutdown).
``complete_handoff`` ends a graceful hand-over the KCL left unfinished (``startup.py``'s lease
watch). Saving and resetting checkpoints, the operator tool, is ``replay.py``.

Checkpoint semantics are the KCL's: a sequence number means "resume *after* this record";
``TRIM_HORIZON`` and ``LATEST`` are the KCL's sentinels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

SENTINELS = ("TRIM_HORIZON", "LATEST")


class LeaseTableError(RuntimeError):
    """The lease table cannot be read as asked (it does not exist); the message says why."""


@dataclass(frozen=True)
class Lease:
    shard_id: str
    checkpoint: str | None
    owner: str | None
    counter: int
    # KCL 3's graceful lease handoff: the worker handing the lease over, until it has
    # checkpointed (the new owner, ``owner``, waits for it)
    checkpoint_owner: str | None = None


def leases(dynamodb: Any, lease_table: str) -> list[Lease]:  # noqa: ANN401 - boto3 client
    try:
        items = []
        for page in dynamodb.get_paginator("scan").paginate(
            TableName=lease_table, ConsistentRead=True
        ):
            items += page["Items"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            raise LeaseTableError(
                f"no lease table '{lease_table}': has the processor ever run?"
            ) from None
        raise
    found = [
        Lease(
            i["leaseKey"]["S"],
            i.get("checkpoint", {}).get("S"),
            i.get("leaseOwner", {}).get("S"),
            int(i.get("leaseCounter", {}).get("N", "0")),
            i.get("checkpointOwner", {}).get("S"),
        )
        for i in items
        if i["leaseKey"]["S"].startswith("shardId-")
    ]
    return sorted(found, key=lambda lease: lease.shard_id)


def lag_ms(kinesis: Any, stream: str, lease: Lease) -> int | None:  # noqa: ANN401
    """How far behind the newest record the checkpoint is (Kinesis's MillisBehindLatest)."""
    if lease.checkpoint is None or lease.checkpoint == "SHARD_END":
        return None
    if lease.checkpoint in SENTINELS:
        kind = {"TRIM_HORIZON": "TRIM_HORIZON", "LATEST": "LATEST"}[lease.checkpoint]
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=lease.shard_id, ShardIteratorType=kind
        )
    else:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream,
            ShardId=lease.shard_id,
            ShardIteratorType="AFTER_SEQUENCE_NUMBER",
            StartingSequenceNumber=lease.checkpoint,
        )
    return kinesis.get_records(ShardIterator=iterator["ShardIterator"], Limit=1).get(
        "MillisBehindLatest"
    )


def release(dynamodb: Any, lease_table: str, worker_id: str) -> list[str]:  # noqa: ANN401
    """Take ``worker_id``'s name off the leases it still owns (its daemon has exited), each
    conditioned on what was read, the lease counter bumped as a taken lease's is; and end the
    hand-overs it had started (KCL 3's graceful lease handoff: the new owner waits until the
    old one, named in ``checkpointOwner``, lets go). A lease another worker took meanwhile is
    left alone. Returns the shards released."""
    released = []
    for lease in leases(dynamodb, lease_table):
        if lease.owner == worker_id and lease.checkpoint_owner in (None, worker_id):
            update = "SET leaseCounter = :next REMOVE leaseOwner, checkpointOwner"
            condition = "leaseOwner = :me AND leaseCounter = :counter"
            values = {":next": {"N": str(lease.counter + 1)}, ":counter": {"N": str(lease.counter)}}
        elif lease.checkpoint_owner == worker_id:
            update, condition, values = "REMOVE checkpointOwner", "checkpointOwner = :me", {}
        else:
            continue
        try:
            dynamodb.update_item(
                TableName=lease_table,
                Key={"leaseKey": {"S": lease.shard_id}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeValues={":me": {"S": worker_id}, **values},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            continue
        released.append(lease.shard_id)
    return released


def complete_handoff(dynamodb: Any, lease_table: str, worker_id: str, lease: Lease) -> bool:  # noqa: ANN401
    """End a graceful hand-over ``worker_id`` (the old owner, ``checkpointOwner``) was asked
    for and has not finished: the lease goes to its new owner, ``lease.owner``, exactly as the
    KCL's own timeout path writes it (``LeaseGracefulShutdownHandler.transferLeaseIfOwner``
    calls ``assignLease(lease, lease.leaseOwner())``: owner kept, ``checkpointOwner`` removed,
    ``leaseCounter`` incremented, conditioned on both owners; ``DynamoDBLeaseRefresher``,
    ``DynamoDBLeaseSerializer.getDynamoAssignLeaseUpdate``, KCL 3.1.3). The counter's
    increment makes the old owner's next renewal fail, so it stops renewing the lease. A lease
    whose hand-over ended meanwhile is left alone (False)."""
    try:
        dynamodb.update_item(
            TableName=lease_table,
            Key={"leaseKey": {"S": lease.shard_id}},
            UpdateExpression="SET leaseOwner = :to ADD leaseCounter :one REMOVE checkpointOwner",
            ConditionExpression="leaseOwner = :to AND checkpointOwner = :me",
            ExpressionAttributeValues={
                ":to": {"S": str(lease.owner)},
                ":me": {"S": worker_id},
                ":one": {"N": "1"},
            },
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
    return True

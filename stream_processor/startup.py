"""Start-up made visible, and who owns each shard since when.

The KCL does not say what it is waiting on while it starts: it creates (or finds) its lease
table, its shard sync creates a lease per shard, the leader assigns leases, each lease's
record processor is initialized, and the first GetRecords calls bring records.
``stream-processor run`` watches the lease table while its daemon runs and logs each step it
can see there as a ``startup`` event with the seconds since ``run`` started (``step``:
``join_state_table_ready``, ``daemon_started``, ``lease_table_present``, ``leases_created``,
``lease_taken``, ``first_checkpoint``: the first batch of that shard committed and
checkpointed; then ``lease_gone`` when a lease moves to another worker). The record processor
adds ``first_records`` per shard (kcl_app).

The lease table has no time of ownership: a lease item holds ``leaseOwner`` and
``leaseCounter`` (bumped at every renewal and take) but no timestamp (KCL 3.1.3's
``DynamoDBLeaseSerializer`` writes none: leaseKey, leaseOwner, leaseCounter, checkpoint and
its pending and sub-sequence fields, ownerSwitchesSinceCheckpoint, parent and child shard ids,
hash range, throughputKBps, checkpointOwner; https://github.com/awslabs/amazon-kinesis-client,
amazon-kinesis-client/src/main/java/software/amazon/kinesis/leases/dynamodb/).
So when this worker is seen taking a lease, the watch records
``lease-owner#<application>#<shard>`` = (owner, since) in the processor's state table, next to
the saved checkpoints; ``stream-processor replay list`` shows it while that owner still holds
the lease. "Since" is when the watch saw it (within its poll interval), not when the leader
assigned it.

The same watch ends a graceful lease hand-over its worker owes and KCL 3.1.3 has forgotten
(``Handoffs``, ``handoff_completed``).

``Watch.step`` and ``Handoffs.stuck`` are pure (lease snapshots in, events or leases out);
``watch`` is the loop.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from contracts.events import log, warning
from stream_processor import daemon
from stream_processor.batch_get import batch_get
from stream_processor.lease_table import Lease, LeaseTableError, complete_handoff
from stream_processor.lease_table import leases as read_leases

STARTUP_POLL_S = 1.0  # while start-up steps are still to come
STEADY_POLL_S = 10.0  # afterwards: leases move only on a failure, a rebalance or a reshard
# An idle shard is never checkpointed, so start-up may never "settle": after this long the
# watch slows to the steady pace anyway (one lease-table Scan per 10 s per worker, not per 1 s).
STARTUP_LIMIT_S = 300.0
# A graceful hand-over this worker was asked for (it is the lease's checkpointOwner) and has
# not ended after this long, counted from when the watch first saw it, is ended by the watch
# (``Handoffs``): by then the KCL's own timeout transfer has had its time
# (gracefulLeaseHandoffTimeoutMillis), and the leader its bound (that plus the lease
# duration, failoverTimeMillis: LeaseAssignmentManager.getCheckpointOwnerTimeoutTimestampMillis,
# KCL 3.1.3).
HANDOFF_STUCK_S = (daemon.GRACEFUL_HANDOFF_TIMEOUT_MS + daemon.FAILOVER_TIME_MS) / 1000


@dataclass
class Watch:
    """What one worker has seen of the lease table so far."""

    worker_id: str
    lease_table_seen: bool = False
    leases_seen: bool = False
    owned: dict[str, str | None] = field(default_factory=dict)  # shard -> checkpoint when taken
    committed: set[str] = field(default_factory=set)  # shards with a first checkpoint since

    def step(self, leases: list[Lease] | None) -> list[dict[str, Any]]:
        """The start-up steps a new lease-table snapshot shows (None: no table yet)."""
        if leases is None:
            return []
        steps: list[dict[str, Any]] = []
        if not self.lease_table_seen:
            self.lease_table_seen = True
            steps.append({"step": "lease_table_present", "leases": len(leases)})
        if leases and not self.leases_seen:  # the KCL's shard sync has made the leases
            self.leases_seen = True
            steps.append({"step": "leases_created", "leases": len(leases)})
        for lease in leases:
            shard, mine = lease.shard_id, lease.owner == self.worker_id
            if mine and shard not in self.owned:
                self.owned[shard] = lease.checkpoint
                self.committed.discard(shard)
                steps.append(
                    {"step": "lease_taken", "shard": shard, "checkpoint": lease.checkpoint}
                )
            elif not mine and shard in self.owned:
                del self.owned[shard]
                steps.append({"step": "lease_gone", "shard": shard, "owner": lease.owner})
            elif mine and shard not in self.committed and lease.checkpoint != self.owned[shard]:
                self.committed.add(shard)
                steps.append(
                    {"step": "first_checkpoint", "shard": shard, "checkpoint": lease.checkpoint}
                )
        return steps

    def settled(self, leases: list[Lease] | None) -> bool:
        """Every lease has an owner and every lease of ours has been checkpointed once (an
        idle shard never is: the watch then keeps its start-up pace until STARTUP_LIMIT_S)."""
        return (
            leases is not None
            and bool(leases)
            and all(lease.owner for lease in leases)
            and set(self.owned) <= self.committed
        )


@dataclass
class Handoffs:
    """The graceful hand-overs this worker is the old owner of (``checkpointOwner``), each
    with when the watch first saw it pending.

    KCL 3.1.3 can forget one: a lease asked to hand over while its shard consumer still waits
    on its parent shards goes straight to shutting down, skipping the task that transfers it
    (``ConsumerStates.BlockedOnParentState.shutdownTransition``); the graceful-shutdown
    handler then drops its entry because the consumer is shut down, before its timeout
    transfer (``LeaseGracefulShutdownHandler.monitorGracefulShutdownLeases``), and the lease
    renewer keeps renewing the lease. The new owner never starts it (``DynamoDBLeaseDiscoverer``
    skips a lease with ``checkpointOwner`` set) and it never expires: the shard stops until
    this worker does. Fixed in KCL 3.4.3 ("Ensure heartbeat is stopped for graceful handoff
    lease in shutting down state", awslabs/amazon-kinesis-client#1729); until the daemon's jars
    carry it, ``stuck`` names such leases so the watch ends the hand-over as the KCL's own
    timeout would (``lease_table.complete_handoff``)."""

    worker_id: str
    since: dict[tuple[str, str | None], float] = field(default_factory=dict)

    def stuck(self, leases: list[Lease] | None, now: float) -> list[tuple[Lease, float]]:
        """The hand-overs pending for HANDOFF_STUCK_S or more, each with its seconds."""
        if leases is None:
            return []
        pending = {
            (lease.shard_id, lease.owner): lease
            for lease in leases
            if lease.checkpoint_owner == self.worker_id and lease.owner != self.worker_id
        }
        self.since = {key: self.since.get(key, now) for key in pending}
        return [
            (pending[key], now - since)
            for key, since in self.since.items()
            if now - since >= HANDOFF_STUCK_S
        ]


def owner_key(lease_table: str, shard_id: str) -> str:
    return f"lease-owner#{lease_table}#{shard_id}"


def record_owner(
    dynamodb: Any,  # noqa: ANN401 - boto3 client
    state_table: str,
    lease_table: str,
    shard_id: str,
    owner: str,
    since: datetime,
) -> None:
    dynamodb.put_item(
        TableName=state_table,
        Item={
            "pk": {"S": owner_key(lease_table, shard_id)},
            "owner": {"S": owner},
            "since": {"S": since.isoformat()},
        },
    )


def owners_since(
    dynamodb: Any,  # noqa: ANN401
    state_table: str,
    lease_table: str,
    leases: list[Lease],
) -> dict[str, datetime]:
    """shard -> since when its current owner holds it, where that owner's watch recorded it."""
    keys = [{"pk": {"S": owner_key(lease_table, lease.shard_id)}} for lease in leases]
    found: dict[str, tuple[str, datetime]] = {}
    try:
        items = batch_get(dynamodb, state_table, keys)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return {}  # no state table: no worker has recorded anything
        raise
    for item in items:
        shard = item["pk"]["S"].rsplit("#", 1)[1]
        found[shard] = (item["owner"]["S"], datetime.fromisoformat(item["since"]["S"]))
    return {
        lease.shard_id: found[lease.shard_id][1]
        for lease in leases
        if lease.shard_id in found and found[lease.shard_id][0] == lease.owner
    }


def startup_event(started: float, **fields: Any) -> None:  # noqa: ANN401
    log("startup", elapsed_s=round(time.monotonic() - started, 1), **fields)


def watch(
    dynamodb: Any,  # noqa: ANN401
    lease_table: str,
    state_table: str,
    worker_id: str,
    started: float,
    stop: threading.Event,
) -> None:
    """Poll the lease table until ``stop`` is set: each start-up step as a ``startup`` event,
    each lease this worker takes recorded with its time. A failed read is skipped (the next
    poll reads again); its first failure is logged as a warning."""
    seen = Watch(worker_id)
    handoffs = Handoffs(worker_id)
    warned = False
    while not stop.is_set():
        try:
            try:
                leases: list[Lease] | None = read_leases(dynamodb, lease_table)
            except LeaseTableError:  # the daemon has not created its lease table yet
                leases = None
            for step in seen.step(leases):
                startup_event(started, **step)
                if step["step"] == "lease_taken":
                    record_owner(
                        dynamodb,
                        state_table,
                        lease_table,
                        step["shard"],
                        worker_id,
                        datetime.now(UTC),
                    )
            for lease, pending_s in handoffs.stuck(leases, time.monotonic()):
                if complete_handoff(dynamodb, lease_table, worker_id, lease):
                    warning(
                        "handoff_completed",
                        shard=lease.shard_id,
                        to=lease.owner,
                        pending_s=round(pending_s, 1),
                        reason="the KCL left the graceful hand-over unfinished",
                    )
        except (BotoCoreError, ClientError) as exc:
            if not warned:
                warning("lease_watch_failed", error=f"{type(exc).__name__}: {exc}")
                warned = True
            leases = None
        starting = time.monotonic() - started < STARTUP_LIMIT_S and not seen.settled(leases)
        stop.wait(STARTUP_POLL_S if starting else STEADY_POLL_S)

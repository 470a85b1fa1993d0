"""What each shard's record processor last did, kept where a restart does not lose it: one item
``shard-health#<application>#<shard>`` in the processor's state table, next to the lease
owners (``startup``), read by ``stream-processor status``.

A record processor writes it when it stops a shard (the reason, and how many stops since the
shard last committed) and after a commit (at most every ``COMMIT_EVERY_S`` per shard: the time
of the last commit, the stop count back to 0). A shard that keeps stopping without committing,
or that holds records and has not committed for minutes, is stalled: the status command says
so, with the last stop's reason on one line.

Writing health is best effort: the state table may be the very edge that failed, and a missed
health write never stops or undoes a commit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from contracts.events import warning
from stream_processor.batch_get import batch_get

COMMIT_EVERY_S = 30.0


def health_key(application: str, shard_id: str) -> str:
    """The shard's health item's key in the state table."""
    return f"shard-health#{application}#{shard_id}"


@dataclass(frozen=True)
class Health:
    shard_id: str
    last_commit_at: datetime | None
    stopped_at: datetime | None
    stop_reason: str | None
    stops_since_commit: int


class DynamoHealth:
    """Shard health items in the state table (a boto3 DynamoDB client)."""

    def __init__(self, client: Any, table_name: str, application: str) -> None:  # noqa: ANN401
        self.client = client
        self.table_name = table_name
        self.application = application
        self._last_commit_write: dict[str, float] = {}

    def _update(self, shard_id: str, expression: str, values: dict[str, Any]) -> None:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": health_key(self.application, shard_id)}},
                UpdateExpression=expression,
                ExpressionAttributeValues=values,
            )
        except (BotoCoreError, ClientError) as exc:
            warning(
                "shard_health_not_written", shard=shard_id, error=f"{type(exc).__name__}: {exc}"
            )

    def committed(self, shard_id: str) -> None:
        now = time.monotonic()
        if now - self._last_commit_write.get(shard_id, -COMMIT_EVERY_S) < COMMIT_EVERY_S:
            return
        self._last_commit_write[shard_id] = now
        self._update(
            shard_id,
            "SET last_commit_at = :t, stops_since_commit = :zero",
            {":t": {"S": datetime.now(UTC).isoformat()}, ":zero": {"N": "0"}},
        )

    def stopped(self, shard_id: str, reason: str) -> None:
        self._last_commit_write.pop(shard_id, None)  # the next commit after a stop is written
        self._update(
            shard_id,
            "SET stopped_at = :t, stop_reason = :r ADD stops_since_commit :one",
            {
                ":t": {"S": datetime.now(UTC).isoformat()},
                ":r": {"S": reason[:1000]},
                ":one": {"N": "1"},
            },
        )

    def stopped_by_breaker(self, shard_id: str) -> bool:
        """Whether the breaker stopped the shard last and it has not committed since (False
        when that cannot be read: the breaker then starts as usual)."""
        try:
            item = self.client.get_item(
                TableName=self.table_name,
                Key={"pk": {"S": health_key(self.application, shard_id)}},
                ConsistentRead=True,
            ).get("Item")
        except (BotoCoreError, ClientError) as exc:
            warning("shard_health_not_read", shard=shard_id, error=f"{type(exc).__name__}: {exc}")
            return False
        if item is None:
            return False
        health = _health(item)
        return health.stops_since_commit > 0 and (health.stop_reason or "").startswith("breaker")

    def read(self, shard_ids: list[str]) -> dict[str, Health]:
        """The health of each shard that has any (strongly consistent)."""
        found: dict[str, Health] = {}
        keys = [{"pk": {"S": health_key(self.application, s)}} for s in shard_ids]
        for item in batch_get(self.client, self.table_name, keys):
            health = _health(item)
            found[health.shard_id] = health
        return found


def _health(item: dict[str, Any]) -> Health:
    def when(name: str) -> datetime | None:
        return datetime.fromisoformat(item[name]["S"]) if name in item else None

    return Health(
        shard_id=item["pk"]["S"].split("#", 2)[2],
        last_commit_at=when("last_commit_at"),
        stopped_at=when("stopped_at"),
        stop_reason=item["stop_reason"]["S"] if "stop_reason" in item else None,
        stops_since_commit=int(item.get("stops_since_commit", {"N": "0"})["N"]),
    )


def state(health: Health | None, behind_ms: int | None, stall_after_s: float) -> str:
    """One word and why, for ``stream-processor status``: ``stalled`` when records wait behind
    the checkpoint and the shard has stopped since its last commit, or has not committed for
    ``stall_after_s``; ``behind`` when they have waited that long but it commits (catching up
    a backlog); ``ok`` otherwise."""
    if not behind_ms:
        return "ok"
    if health is not None and health.stops_since_commit > 0:
        return f"stalled: {health.stops_since_commit} stop(s) since its last commit"
    if health is not None and health.last_commit_at is not None:
        quiet_s = (datetime.now(UTC) - health.last_commit_at).total_seconds()
        if quiet_s > stall_after_s + COMMIT_EVERY_S:
            return f"stalled: no commit for {quiet_s:.0f}s"
    if behind_ms > stall_after_s * 1000:
        return "behind"
    return "ok"

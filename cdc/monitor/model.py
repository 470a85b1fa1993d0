"""The health of a CDC task, whichever engine runs it, and the checks made on it. Pure."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from contracts.schema_drift import Drift

HEALTHY_STATUSES = {"running", "starting", "full-load"}


@dataclass(frozen=True)
class TableHealth:
    name: str
    state: str
    inserts: int
    updates: int
    deletes: int
    ddls: int
    full_load_rows: int


@dataclass(frozen=True)
class TaskHealth:
    """What DescribeReplicationTasks, DescribeTableStatistics and the AWS/DMS metrics say
    (or the local engine's equivalent)."""

    engine: str  # "aws-dms" | "local"
    task_id: str
    status: str
    checked_at: str
    stop_reason: str | None = None
    last_failure_message: str | None = None
    full_load_progress_percent: int | None = None
    tables_loaded: int = 0
    tables_loading: int = 0
    tables_queued: int = 0
    tables_errored: int = 0
    cdc_latency_source_s: float | None = None
    cdc_latency_target_s: float | None = None
    cdc_incoming_changes: float | None = None
    throughput_records_per_s: float | None = None
    retained_wal_bytes: int | None = None
    # the target endpoint vs Contract A; table mappings that partition CDC by schema-table
    settings_problems: list[str] = field(default_factory=list)
    tables: list[TableHealth] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # the source's live catalogue against Contract A (cdc.monitor.drift); None: not read
    source_drift: list[Drift] | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Thresholds:
    max_latency_s: float = 60.0
    # WAL the task's replication slot may hold back before the source's disk is at risk
    max_retained_wal_mb: float = 10240.0  # as terraform's slot_lag_alarm_bytes (10 GiB)


def problems(health: TaskHealth, thresholds: Thresholds) -> list[str]:
    """Everything that makes the task unhealthy; empty when it is healthy."""
    found = []
    if health.status not in HEALTHY_STATUSES:
        reason = f" ({health.stop_reason})" if health.stop_reason else ""
        found.append(f"task is {health.status}{reason}")
    if health.last_failure_message and health.status == "failed":
        found.append(f"last failure: {health.last_failure_message}")
    if health.tables_errored:
        found.append(f"{health.tables_errored} table(s) errored")
    for name, value in (
        ("source", health.cdc_latency_source_s),
        ("target", health.cdc_latency_target_s),
    ):
        if value is not None and value > thresholds.max_latency_s:
            found.append(
                f"CDC latency ({name}) {value:.1f}s is above {thresholds.max_latency_s:g}s"
            )
    found += health.settings_problems
    found += [f"source {d}" for d in health.source_drift or () if d.breaking]
    retained = health.retained_wal_bytes
    if retained is not None and retained > thresholds.max_retained_wal_mb * 1024 * 1024:
        found.append(
            f"the replication slot holds back {retained / 1024 / 1024:,.0f} MB of WAL, above "
            f"{thresholds.max_retained_wal_mb:g} MB: the source's disk fills while it does"
        )
    return found

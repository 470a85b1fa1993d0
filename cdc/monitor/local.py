"""Health of the local capture engine, from the status file it publishes."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from cdc.capture.status import read_status
from cdc.monitor.model import TableHealth, TaskHealth

# The engine rewrites its status about once a second; a file this old means it is gone.
STALE_AFTER_S = 15.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read(state_dir: Path, task_id: str, *, now: datetime | None = None) -> TaskHealth:
    now = now or datetime.now(UTC)
    status = read_status(state_dir, task_id)
    if status is None:
        return TaskHealth(
            engine="local",
            task_id=task_id,
            status="not-started",
            checked_at=now.isoformat(),
            stop_reason=f"no status for task {task_id} in {state_dir}: has the engine ever run?",
        )
    age = (now - datetime.fromisoformat(status.updated_at)).total_seconds()
    state, reason = status.status, status.stop_reason
    if state not in ("stopped", "failed") and (not _alive(status.pid) or age > STALE_AFTER_S):
        state, reason = (
            "stopped",
            f"engine process {status.pid} is gone (last report {age:.0f}s ago)",
        )
    tables = [
        TableHealth(name, t.state, t.inserts, t.updates, t.deletes, t.ddls, t.full_load_rows)
        for name, t in status.tables.items()
    ]
    loaded = sum(t.state == "Table completed" for t in tables)
    loading = sum(t.state == "Table loading" for t in tables)
    return TaskHealth(
        engine="local",
        task_id=task_id,
        status=state,
        checked_at=now.isoformat(),
        stop_reason=reason,
        last_failure_message=status.last_failure_message,
        full_load_progress_percent=int(100 * loaded / len(tables)) if tables else None,
        tables_loaded=loaded,
        tables_loading=loading,
        tables_queued=len(tables) - loaded - loading,
        cdc_latency_source_s=status.cdc_latency_source_s,
        cdc_latency_target_s=status.cdc_latency_target_s,
        throughput_records_per_s=status.records_per_s,
        retained_wal_bytes=status.retained_wal_bytes,
        tables=tables,
        notes=[
            f"slot {status.slot_name} confirmed at {status.confirmed_lsn}",
            f"stream {status.stream_name}",
        ],
    )

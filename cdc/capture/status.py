"""What the local capture engine publishes about itself, for ``cdc monitor`` to read.

The engine keeps its task status, per-table statistics and latency figures in a JSON file
(``<state dir>/<task id>.status.json``), rewritten atomically about once a second; its
durable progress (full load done, known table columns) lives beside it in
``<task id>.state.json``. The shapes mirror what DMS's DescribeReplicationTasks,
DescribeTableStatistics and CloudWatch metrics report, so the monitor shows both alike.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class TableStats:
    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    ddls: int = 0
    full_load_rows: int = 0
    state: str = "Before load"


@dataclass
class EngineStatus:
    task_id: str
    stream_name: str
    status: str = "starting"  # starting | full-load | running | stopped | failed
    pid: int = field(default_factory=os.getpid)
    started_at: str = field(default_factory=lambda: utcnow().isoformat())
    updated_at: str = field(default_factory=lambda: utcnow().isoformat())
    stop_reason: str | None = None
    last_failure_message: str | None = None
    full_load_started_at: str | None = None
    full_load_finished_at: str | None = None
    tables: dict[str, TableStats] = field(default_factory=dict)
    cdc_latency_source_s: float = 0.0
    cdc_latency_target_s: float = 0.0
    records_per_s: float = 0.0
    records_sent: int = 0
    slot_name: str = ""
    confirmed_lsn: str = ""
    retained_wal_bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EngineStatus:
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in data.items() if k in known}  # a file from another version
        data["tables"] = {
            name: TableStats(**stats) for name, stats in data.get("tables", {}).items()
        }
        return cls(**data)


def status_path(state_dir: Path, task_id: str) -> Path:
    return state_dir / f"{task_id}.status.json"


def state_path(state_dir: Path, task_id: str) -> Path:
    return state_dir / f"{task_id}.state.json"


def write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    """Readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    os.replace(tmp, path)


def read_status(state_dir: Path, task_id: str) -> EngineStatus | None:
    try:
        return EngineStatus.from_json(json.loads(status_path(state_dir, task_id).read_text()))
    except FileNotFoundError:
        return None

"""Rendering a task's health as a rich table for people (`--json` output is written by
`cdc.monitor.cli` from `TaskHealth.to_json`)."""

from __future__ import annotations

from rich.console import Group
from rich.markup import escape
from rich.table import Table

from cdc.monitor import drift
from cdc.monitor.model import TaskHealth


def _num(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:,.1f}{unit}"


def render(health: TaskHealth, problems: list[str]) -> Group:
    summary = Table(title=f"CDC task {health.task_id} ({health.engine})", show_header=False)
    summary.add_column("what")
    summary.add_column("value")
    state = "[green]healthy[/]" if not problems else "[red]" + "; ".join(problems) + "[/]"
    rows = [
        ("status", health.status + (f" ({health.stop_reason})" if health.stop_reason else "")),
        ("health", state),
        (
            "CDC latency source / target",
            f"{_num(health.cdc_latency_source_s, 's')} / {_num(health.cdc_latency_target_s, 's')}",
        ),
        ("incoming changes", _num(health.cdc_incoming_changes)),
        ("throughput", _num(health.throughput_records_per_s, " records/s")),
        (
            "full load",
            f"{_num(health.full_load_progress_percent, '%')}: {health.tables_loaded} loaded, "
            f"{health.tables_loading} loading, {health.tables_queued} queued, "
            f"{health.tables_errored} errored",
        ),
    ]
    if health.source_drift is not None:
        drifted = any(d.breaking for d in health.source_drift)
        colour = "red" if drifted else "yellow" if health.source_drift else "green"
        rows.append(
            (
                "source schema vs Contract A",
                f"[{colour}]{escape(drift.summary(health.source_drift))}[/]",
            )
        )
    if health.retained_wal_bytes is not None:
        rows.append(("slot retained WAL", f"{health.retained_wal_bytes / 1024:,.0f} KiB"))
    if health.last_failure_message:
        rows.append(("last failure", health.last_failure_message))
    rows += [("note", n) for n in health.notes]
    for row in rows:
        summary.add_row(*row)
    tables = Table(title="tables")
    for column in ("table", "state", "full load rows", "inserts", "updates", "deletes", "DDLs"):
        left = column in ("table", "state")
        tables.add_column(column, justify="left" if left else "right", no_wrap=left)
    for t in health.tables:
        tables.add_row(
            t.name,
            t.state,
            *(str(v) for v in (t.full_load_rows, t.inserts, t.updates, t.deletes, t.ddls)),
        )
    return Group(summary, tables)

"""The table ``cdc monitor`` shows people (``cdc.monitor.report.render``), rendered to text:
the verdict, each figure or ``-`` when unknown, the lines shown only when there is something
to say, and the source's own words shown as text, never as markup."""

from __future__ import annotations

from rich.console import Console

from cdc.monitor.model import TableHealth
from cdc.monitor.report import render
from contracts.schema_drift import COLUMN_ADDED, COLUMN_GONE, Drift
from tests.cdc.monitor.fixtures import health


def text(task, problems: list[str]) -> str:
    console = Console(record=True, width=200, color_system=None)
    console.print(render(task, problems))
    return console.export_text()


def line(shown: str, label: str) -> str:
    """The summary's row for ``label``: its value."""
    [found] = [row for row in shown.splitlines() if row.startswith(f"│ {label} ")]
    return found.split("│")[2].strip()


def test_a_healthy_task_says_so_and_unknown_figures_are_dashes():
    shown = text(health(), [])
    assert "CDC task t (local)" in shown
    assert line(shown, "health") == "healthy"
    assert line(shown, "CDC latency source / target") == "- / -"
    assert line(shown, "throughput") == line(shown, "incoming changes") == "-"
    for label in ("source schema vs Contract A", "slot retained WAL", "last failure", "note"):
        assert label not in shown, label


def test_problems_are_the_verdict_and_each_figure_has_its_unit():
    task = health(
        status="stopped",
        stop_reason="user",
        cdc_latency_source_s=2.0,
        cdc_latency_target_s=1234.5,
        throughput_records_per_s=50.0,
        full_load_progress_percent=100,
        tables_loaded=11,
        retained_wal_bytes=3 * 1024 * 1024,
        last_failure_message="boom",
        notes=["first note", "second note"],
    )
    shown = text(task, ["task is stopped (user)", "last failure: boom"])
    assert line(shown, "health") == "task is stopped (user); last failure: boom"
    assert line(shown, "status") == "stopped (user)"
    assert line(shown, "CDC latency source / target") == "2.0s / 1,234.5s"
    assert line(shown, "throughput") == "50.0 records/s"
    assert line(shown, "full load") == "100.0%: 11 loaded, 0 loading, 0 queued, 0 errored"
    assert line(shown, "slot retained WAL") == "3,072 KiB"
    assert line(shown, "last failure") == "boom"
    assert "first note" in shown and "second note" in shown


def test_the_source_schema_line_names_each_drift_and_marks_the_breaking_ones():
    assert line(text(health(source_drift=[]), []), "source schema vs Contract A") == "as Contract A"
    drifted = health(
        source_drift=[
            Drift("design", COLUMN_ADDED, "[bold]licence[/]", "now NCLOB"),
            Drift("address", COLUMN_GONE, "city", "NOT NULL in Contract A", breaking=True),
        ]
    )
    shown = line(text(drifted, []), "source schema vs Contract A")
    assert "design.[bold]licence[/] column added" in shown  # a column's name, not markup
    assert "BREAKING address.city column gone" in shown


def test_each_table_is_a_row_of_its_figures():
    tables = [TableHealth("payment", "Table completed", 4, 5, 6, 1, 1000)]
    [row] = [r for r in text(health(tables=tables), []).splitlines() if "payment" in r]
    assert [cell.strip() for cell in row.split("│")[1:-1]] == [
        "payment",
        "Table completed",
        "1000",
        "4",
        "5",
        "6",
        "1",
    ]

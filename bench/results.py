"""One benchmark figure and the report of a run."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RESULTS_PATH = Path(__file__).resolve().parent / "results.json"
# What the last make bench was (full or one benchmark, quick or not), when, on what commit and
# machine: bench/snapshot.py refreshes the committed snapshot only from a full run.
RUN_PATH = RESULTS_PATH.with_name("run.json")


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    baseline: str
    baseline_value: float
    params: dict[str, Any] = field(default_factory=dict)
    lower_is_better: bool = False  # latencies: the ratio is then baseline / value

    @property
    def ratio(self) -> float:
        """How many times better than the baseline."""
        better, worse = (
            (self.baseline_value, self.value)
            if self.lower_is_better
            else (self.value, self.baseline_value)
        )
        return round(better / worse, 2) if worse else float("inf")

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def merged(figures: list[Figure], path: Path) -> list[Figure]:
    """The figures already in ``path`` that this run did not measure again (a run of one
    benchmark, ``--only``, keeps the others' figures), then this run's."""
    try:
        earlier = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        earlier = []
    measured = {f.name for f in figures}
    kept = [
        Figure(**{k: v for k, v in f.items() if k != "ratio"})
        for f in earlier
        if f.get("name") not in measured
    ]
    return kept + figures


def report(
    figures: list[Figure], path: Path = RESULTS_PATH, console: Console | None = None
) -> None:
    """Print this run's figures; write them, with the earlier figures this run did not
    measure, to ``path`` (JSON) and beside it as markdown."""
    everything = merged(figures, path)
    path.write_text(json.dumps([f.to_json() for f in everything], indent=2) + "\n")
    path.with_suffix(".md").write_text(markdown(everything))
    table = Table(title=f"benchmarks ({path})", expand=True)
    for column in ("figure", "value", "baseline", "baseline value", "ratio", "params"):
        table.add_column(
            column, justify="right" if "value" in column or column == "ratio" else "left"
        )
    for f in figures:
        table.add_row(
            f.name,
            f"{f.value:,.1f} {f.unit}",
            f.baseline,
            f"{f.baseline_value:,.1f} {f.unit}",
            f"{f.ratio:g}x",
            ", ".join(f"{k}={v}" for k, v in f.params.items()),
        )
    (console or Console()).print(table)


def markdown(figures: list[Figure]) -> str:
    """The same table as markdown (``bench/results.md``), for a README or a pull request."""
    lines = [
        "| figure | value | baseline (same run) | ratio | params |",
        "|---|---:|---|---:|---|",
    ]

    def number(v: float) -> str:
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"

    for f in figures:
        params = ", ".join(f"{k}={v}" for k, v in f.params.items())
        lines.append(
            f"| `{f.name}` | {number(f.value)} {f.unit} | {f.baseline}: "
            f"{number(f.baseline_value)} {f.unit} | {f.ratio:g}x | {params} |"
        )
    return "\n".join(lines) + "\n"


def _commit(root: Path) -> str:
    """The checkout's commit, ``-dirty`` when it has uncommitted changes; ``unknown`` outside
    a git checkout."""
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}-dirty" if dirty else head


def run_description(*, full: bool, quick: bool, started: datetime) -> dict[str, Any]:
    """The run's date, commit and machine, as run.json and the snapshot hold them."""
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return {
        "date": started.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ"),
        "full": full,
        "quick": quick,
        "commit": _commit(RESULTS_PATH.parents[1]),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, load average {load} at the end",
    }


def write_run(description: dict[str, Any], path: Path = RUN_PATH) -> None:
    path.write_text(json.dumps(description, indent=2) + "\n")

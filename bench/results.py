"""One benchmark figure and the report of a run."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RESULTS_PATH = Path(__file__).resolve().parent / "results.json"


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

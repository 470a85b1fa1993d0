"""The benchmark report: one benchmark's run keeps the other benchmarks' figures."""

from __future__ import annotations

import json

from rich.console import Console

from bench.results import Figure, report


def figure(name: str, value: float) -> Figure:
    return Figure(name, value, "rows/s", "baseline", 10.0, {"runners": 1})


def test_a_run_replaces_its_own_figures_and_keeps_the_others(tmp_path):
    path = tmp_path / "results.json"
    quiet = Console(file=open(tmp_path / "out.txt", "w"))  # noqa: SIM115 - closed with tmp_path
    report([figure("a", 1.0), figure("b", 2.0), figure("b", 3.0)], path, quiet)
    report([figure("b", 4.0)], path, quiet)

    written = json.loads(path.read_text())
    assert [(f["name"], f["value"]) for f in written] == [("a", 1.0), ("b", 4.0)]
    assert written[0]["ratio"] == 0.1 and written[0]["params"] == {"runners": 1}
    assert "| `a` |" in path.with_suffix(".md").read_text()

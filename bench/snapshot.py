"""The committed source of every benchmark figure: ``docs/benchmarks.json``.

``bench/results.json`` (git-ignored) is what this machine's ``make bench`` runs last wrote; a
run of one benchmark merges into it. The snapshot is the tracked copy the README and docs/
show: its runs (date, commit, machine), each figure under the run that measured it.

``python -m bench.snapshot refresh`` replaces the snapshot with the last full ``make bench``
(``bench/run.json`` says whether the last run was full) and rewrites the generated blocks;
``write`` rewrites the blocks from the snapshot; ``check`` exits 1 when a block is stale.
The blocks lie between ``<!-- benchmarks:NAME:begin -->`` and ``<!-- benchmarks:NAME:end -->``
markers (README.md, docs/benchmarks.md, docs/warehouse-loader.md), and docs/sizing.md's
generated part is the cost model's rendering of the snapshot (``cost_model.page``).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from bench.results import RESULTS_PATH, RUN_PATH, Figure
from cost_model import page as sizing_page

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT_PATH = ROOT / "docs" / "benchmarks.json"

# The README's few headline figures: a name, and the params that pick one of its figures. One
# that no run of the snapshot has measured yet gets a row that says so.
HEADLINE: tuple[tuple[str, Mapping[str, Any]], ...] = (
    ("capture_changes_per_s", {}),
    ("processor_records_per_s", {}),
    ("processor_ceiling_ratio", {}),
    ("loader_fact_rows_per_s", {}),
    ("loader_dim_rows_per_s", {}),
    ("loader_fact_ceiling_ratio", {}),
    ("loader_dim_ceiling_ratio", {}),
    ("loader_scaling_rows_per_s", {"runners": 4}),
    ("processor_scaling_records_per_s", {}),
    ("full_load_rows_per_s", {}),
    ("full_load_stage_ratio", {}),
    ("e2e_max_sustained_changes_per_s", {}),
    ("e2e_cpu_us_per_change", {"rate": 1000}),
    ("e2e_latency_p99_s", {"rate": 1000}),
)


class SnapshotError(ValueError):
    """The snapshot, a results file or a page is not what this module reads."""


def load(path: Path = SNAPSHOT_PATH) -> dict[str, Any]:
    try:
        snapshot = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"cannot read the snapshot {path}: {exc}") from exc
    runs, figures = snapshot.get("runs"), snapshot.get("figures")
    if not isinstance(runs, dict) or not isinstance(figures, list):
        raise SnapshotError(f"{path} has no 'runs' object and 'figures' list")
    for f in figures:
        if f.get("run") not in runs:
            raise SnapshotError(f"{path}: figure {f.get('name')!r} names no known run")
    return snapshot


def figures_of(snapshot: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The snapshot's figures in results.json's shape (with their run), oldest run first."""
    return [{**f, "ratio": _figure(f).ratio} for f in snapshot["figures"]]


def _figure(f: Mapping[str, Any]) -> Figure:
    return Figure(**{k: v for k, v in f.items() if k not in ("run", "ratio")})


def from_results(results: Sequence[Mapping[str, Any]], run: Mapping[str, Any]) -> dict[str, Any]:
    """A snapshot of one full run: its figures (results.json) under its run (run.json)."""
    if not run.get("full") or run.get("quick"):
        raise SnapshotError(
            "the last make bench was not a full run (BENCH= or BENCH_QUICK=1): "
            "run the whole make bench before refreshing the snapshot"
        )
    key = f"{run['date'][:10]}-full-run"
    described = {k: run[k] for k in ("date", "commit", "machine")}
    return {
        "about": "The last full make bench (make bench-snapshot), every figure of it.",
        "runs": {key: {**described, "what": "make bench, every benchmark"}},
        "figures": [
            {"run": key, **{k: v for k, v in f.items() if k not in ("ratio", "run")}}
            for f in results
        ],
    }


# --- the generated blocks ------------------------------------------------------------------------


def _number(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def _goal(goal: str, value: float) -> str:
    """``<= 2`` or ``>= 3000``, and whether the value meets it; a goal in other words (one set
    at another rate than the value's, say) as it is written."""
    found = re.fullmatch(r"(<=|>=) (\d+(?:\.\d+)?)", goal)
    if not found:
        return f"goal: {goal}"
    op, bound = found[1], float(found[2])
    met = value <= bound if op == "<=" else value >= bound
    return f"goal {op} {_number(bound)}: {'met' if met else 'not met'}"


def _value(f: Mapping[str, Any]) -> str:
    params = f.get("params") or {}
    unit = str(f["unit"])
    first_not_held = params.get("first_not_held") or {}
    if f["name"] == "e2e_max_sustained_changes_per_s" and not f["value"] and first_not_held:
        text = (
            f"none held: the first step, {_number(first_not_held['rate'])} {unit}, "
            f"had p99 {first_not_held['p99_s']} s"
        )
    elif unit.startswith("x "):  # a ratio: "5.48x the floor's time"
        text = f"{_number(f['value'])}{unit}"
    else:
        text = f"{_number(f['value'])} {unit}"
    if "goal" in params:
        text += f" ({_goal(str(params['goal']), float(f['value']))})"
    return text


def _scope(f: Mapping[str, Any]) -> str:
    """What tells a figure from the others of its name in a run (its loader count, rate...)."""
    params = f.get("params") or {}
    if "setting" in params:
        return f"{params['setting']}"
    for key in ("runners", "workers", "rate"):
        if key in params:
            return f"{key} {_number(params[key])}"
    return ""


def _baseline(f: Mapping[str, Any]) -> str:
    if str(f["unit"]).startswith("x "):  # the baseline is the ratio's 1x
        return f"{f['baseline']}"
    if not f["value"]:
        return f"{f['baseline']}: {_number(f['baseline_value'])}"
    return f"{f['baseline']}: {_number(f['baseline_value'])} ({_figure(f).ratio:g}x)"


def _run_label(snapshot: Mapping[str, Any], key: str) -> str:
    run = snapshot["runs"][key]
    return f"{run['date']}, `{run['commit']}`"


def headline(snapshot: Mapping[str, Any]) -> str:
    """The README's table: each headline figure from the newest run that has it."""
    figures = figures_of(snapshot)
    lines = ["| figure | value | beside it, same run | run |", "|---|---|---|---|"]
    for name, pick in HEADLINE:
        found = [
            f
            for f in figures
            if f["name"] == name and all(f["params"].get(k) == v for k, v in pick.items())
        ]
        if not found:
            scope = "".join(f", {k} {_number(v)}" for k, v in pick.items())
            lines.append(f"| `{name}`{scope} | no run of the snapshot has measured it yet | | |")
            continue
        f = found[-1]
        scope = f", {_scope(f)}" if pick else ""
        lines.append(
            f"| `{name}`{scope} | {_value(f)} | {_baseline(f)} | {_run_label(snapshot, f['run'])} |"
        )
    return "\n".join(lines) + "\n"


def runs_table(snapshot: Mapping[str, Any]) -> str:
    lines = ["| run | date | commit | machine | what |", "|---|---|---|---|---|"]
    for key, run in snapshot["runs"].items():
        lines.append(
            f"| {key} | {run['date']} | `{run['commit']}` | {run['machine']} | {run['what']} |"
        )
    return "\n".join(lines) + "\n"


def figures_table(snapshot: Mapping[str, Any]) -> str:
    """Every figure of the snapshot, grouped by run, with its params."""
    lines = [
        "| run | figure | value | baseline, same run | params |",
        "|---|---|---|---|---|",
    ]
    for f in figures_of(snapshot):
        params = ", ".join(f"{k}={v}" for k, v in (f.get("params") or {}).items() if k != "goal")
        scope = f", {_scope(f)}" if _scope(f) else ""
        lines.append(
            f"| {f['run']} | `{f['name']}`{scope} | {_value(f)} | {_baseline(f)} | {params} |"
        )
    return "\n".join(lines) + "\n"


def disagreements(snapshot: Mapping[str, Any]) -> str:
    """Every figure measured in more than one run, with its value in each."""
    by_name: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for f in figures_of(snapshot):
        by_name.setdefault((f["name"], _scope(f)), []).append(f)
    lines = []
    for (name, scope), found in by_name.items():
        if len({f["run"] for f in found}) < 2:
            continue
        values = "; ".join(f"{_value(f)} in {f['run']}" for f in found)
        lines.append(f"- `{name}`{f', {scope}' if scope else ''}: {values}.")
    return "\n".join(lines) + "\n"


def loader_scaling(snapshot: Mapping[str, Any]) -> str:
    """docs/warehouse-loader.md's table of the concurrent loaders' run."""
    lines = [
        "| loaders | rows/s (range of the runs) | 1 loader, same run | ratio | loader CPU s / 10k "
        "rows | backend CPU s / 10k rows | cores used by the load | machine cores busy |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for f in figures_of(snapshot):
        if f["name"] != "loader_scaling_rows_per_s":
            continue
        p = f["params"]
        spread = f" ({p['runs_range_rows_per_s']})" if "runs_range_rows_per_s" in p else ""
        lines.append(
            f"| {p['runners']} | {_number(f['value'])}{spread} | {_number(f['baseline_value'])} "
            f"| {f['ratio']:.2f}x | {p['loader_cpu_s_per_10k_rows']} "
            f"| {p['postgres_backend_cpu_s_per_10k_rows']} | {p['load_cores']} "
            f"| {p['machine_cores_busy']} |"
        )
    return "\n".join(lines) + "\n"


def tuning_latency(snapshot: Mapping[str, Any]) -> str:
    """docs/benchmarks.md's "Tuning latency" table: p50, p95 and p99 per setting."""
    rows: dict[str, dict[str, Any]] = {}
    for f in figures_of(snapshot):
        setting = (f.get("params") or {}).get("setting")
        if setting and f["name"].startswith("e2e_latency_p"):
            row = rows.setdefault(setting, {"manifests": f["params"]["manifests_loaded"]})
            row[f["name"]] = f["value"]
    lines = [
        "| setting | p50 | p95 | p99 | manifests loaded in the run |",
        "|---|---|---|---|---|",
    ]
    for setting, r in rows.items():
        shown = setting if " " in setting else f"`{setting}`"
        lines.append(
            f"| {shown} | {r['e2e_latency_p50_s']:.2f} s | {r['e2e_latency_p95_s']:.2f} s "
            f"| {r['e2e_latency_p99_s']:.2f} s | {r['manifests']} |"
        )
    return "\n".join(lines) + "\n"


Block = tuple[Path, str, str, Callable[[], str]]  # page, begin marker, end marker, its text


def blocks(snapshot_path: Path = SNAPSHOT_PATH, root: Path = ROOT) -> list[Block]:
    snapshot = load(snapshot_path)

    def marked(page: Path, name: str, render: Callable[[Mapping[str, Any]], str]) -> Block:
        return (
            page,
            f"<!-- benchmarks:{name}:begin -->",
            f"<!-- benchmarks:{name}:end -->",
            lambda: render(snapshot),
        )

    return [
        marked(root / "README.md", "headline", headline),
        marked(root / "docs" / "benchmarks.md", "runs", runs_table),
        marked(root / "docs" / "benchmarks.md", "figures", figures_table),
        marked(root / "docs" / "benchmarks.md", "disagreements", disagreements),
        marked(root / "docs" / "benchmarks.md", "tuning-latency", tuning_latency),
        marked(root / "docs" / "warehouse-loader.md", "loader-scaling", loader_scaling),
        (
            root / "docs" / "sizing.md",
            sizing_page.BEGIN,
            sizing_page.END,
            lambda: sizing_page.generate(figures_of(snapshot)),
        ),
    ]


def _split(text: str, begin: str, end: str, page: Path) -> tuple[str, str, str]:
    pattern = re.escape(begin) + r"\n(.*?)" + re.escape(end)
    found = re.findall(pattern, text, flags=re.S)
    if len(found) != 1:
        raise SnapshotError(f"{page} needs exactly one {begin} … {end} block")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head, found[0], tail


def _framed(generated: str) -> str:
    return f"\n{generated}\n"


def write(block_list: Sequence[Block]) -> None:
    for page, begin, end, render in block_list:
        head, _, tail = _split(page.read_text(), begin, end, page)
        page.write_text(f"{head}{begin}\n{_framed(render())}{end}{tail}")


def stale(block_list: Sequence[Block]) -> list[str]:
    """The blocks whose text is not what the snapshot generates."""
    found = []
    for page, begin, end, render in block_list:
        _, current, _ = _split(page.read_text(), begin, end, page)
        if current != _framed(render()):
            found.append(f"{page.name}: {begin}")
    return found


# --- the command -------------------------------------------------------------------------------


@click.group()
def main() -> None:
    """The benchmark snapshot, docs/benchmarks.json, and the tables generated from it."""


@main.command()
@click.option("--results", type=click.Path(path_type=Path), default=RESULTS_PATH)
@click.option("--run", "run_path", type=click.Path(path_type=Path), default=RUN_PATH)
@click.option("--snapshot", type=click.Path(path_type=Path), default=SNAPSHOT_PATH)
def refresh(results: Path, run_path: Path, snapshot: Path) -> None:
    """Replace the snapshot with the last full make bench, then rewrite the tables."""
    try:
        figures = json.loads(results.read_text())
        run = json.loads(run_path.read_text())
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"no full make bench to take: {exc}") from exc
    try:
        taken = from_results(figures, run)
    except SnapshotError as exc:
        raise click.ClickException(str(exc)) from exc
    snapshot.write_text(json.dumps(taken, indent=2, ensure_ascii=False) + "\n")
    try:
        write(blocks(snapshot))
    except SnapshotError as exc:
        raise click.ClickException(f"{snapshot} written, but not its tables: {exc}") from exc
    click.echo(f"{snapshot}: {len(taken['figures'])} figures of the run of {run['date']}")


@main.command("write")
@click.option("--snapshot", type=click.Path(path_type=Path), default=SNAPSHOT_PATH)
def write_command(snapshot: Path) -> None:
    """Rewrite the generated tables of README.md and docs/ from the snapshot."""
    try:
        write(blocks(snapshot))
    except SnapshotError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.option("--snapshot", type=click.Path(path_type=Path), default=SNAPSHOT_PATH)
def check(snapshot: Path) -> None:
    """Exit 1 when a generated table is not what the snapshot generates."""
    try:
        found = stale(blocks(snapshot))
    except SnapshotError as exc:
        raise click.ClickException(str(exc)) from exc
    if found:
        raise click.ClickException(
            "stale generated blocks (python -m bench.snapshot write): " + "; ".join(found)
        )
    click.echo("benchmark tables: as the snapshot generates them")


if __name__ == "__main__":
    sys.exit(main())

"""bench/snapshot.py: the committed figures, the tables generated from them, and the refresh
from a full run only."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench import snapshot
from bench.e2e_max import cpu_figures, per_change
from bench.results import Figure, run_description, write_run
from tests.bench.fixtures import STEP_CPU_S
from tests.fixtures import ROOT

PAGES = ("README.md", "docs/benchmarks.md", "docs/sizing.md", "docs/warehouse-loader.md")


def copy_of_the_pages(tmp_path: Path) -> Path:
    for page in PAGES:
        (tmp_path / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / page, tmp_path / page)
    shutil.copy(snapshot.SNAPSHOT_PATH, tmp_path / "docs" / "benchmarks.json")
    return tmp_path


def test_every_generated_table_is_what_the_committed_snapshot_generates():
    assert snapshot.stale(snapshot.blocks()) == []
    assert CliRunner().invoke(snapshot.main, ["check"]).exit_code == 0


def test_every_figure_has_a_run_with_its_date_commit_and_machine():
    snap = snapshot.load()
    for run in snap["runs"].values():
        assert run["date"] and run["commit"] and run["machine"] and run["what"]
    assert {f["run"] for f in snap["figures"]} == set(snap["runs"])
    for f in snapshot.figures_of(snap):
        Figure(**{k: v for k, v in f.items() if k not in ("run", "ratio")})  # results' shape


def test_the_readme_shows_the_snapshots_figures_with_their_run():
    readme = (ROOT / "README.md").read_text()
    snap = snapshot.load()
    # the headline shows the newest run's figure: the last in the snapshot's order
    fig = [f for f in snap["figures"] if f["name"] == "full_load_rows_per_s"][-1]
    run = snap["runs"][fig["run"]]
    row = next(line for line in readme.splitlines() if "`full_load_rows_per_s`" in line)
    assert f"{fig['value']:,.0f} rows/s" in row
    assert run["date"] in row and run["commit"] in row


def test_a_changed_figure_makes_check_fail_until_write(tmp_path: Path):
    root = copy_of_the_pages(tmp_path)
    path = root / "docs" / "benchmarks.json"
    snap = json.loads(path.read_text())
    for f in snap["figures"]:
        if f["name"] == "capture_changes_per_s":
            f["value"] = 1234.0
    path.write_text(json.dumps(snap))
    found = snapshot.stale(snapshot.blocks(path, root))
    assert "README.md: <!-- benchmarks:headline:begin -->" in found
    assert "benchmarks.md: <!-- benchmarks:figures:begin -->" in found
    assert "sizing.md: <!-- sizing:begin -->" in found  # sizing reads capture_changes_per_s
    snapshot.write(snapshot.blocks(path, root))
    assert snapshot.stale(snapshot.blocks(path, root)) == []
    assert "1,234 changes/s" in (root / "README.md").read_text()


def test_a_page_without_its_block_is_an_error(tmp_path: Path):
    root = copy_of_the_pages(tmp_path)
    (root / "README.md").write_text("# no block\n")
    with pytest.raises(snapshot.SnapshotError, match="exactly one"):
        snapshot.stale(snapshot.blocks(root / "docs" / "benchmarks.json", root))


def figure(name: str, value: float) -> dict:
    return Figure(name, value, "rows/s", "baseline", 10.0, {}).to_json()


def test_refresh_takes_only_a_full_run():
    results = [figure("a", 1.0), figure("b", 2.0)]
    full = {"date": "2026-12-04T07:00Z", "commit": "abc1234", "machine": "2 cores"}
    for partial in ({"full": False, "quick": False}, {"full": True, "quick": True}):
        with pytest.raises(snapshot.SnapshotError, match="not a full run"):
            snapshot.from_results(results, {**full, **partial})
    taken = snapshot.from_results(results, {**full, "full": True, "quick": False})
    assert list(taken["runs"]) == ["2026-12-04-full-run"]
    assert taken["runs"]["2026-12-04-full-run"]["commit"] == "abc1234"
    assert [(f["run"], f["name"]) for f in taken["figures"]] == [
        ("2026-12-04-full-run", "a"),
        ("2026-12-04-full-run", "b"),
    ]
    assert "ratio" not in taken["figures"][0]  # derived, not stored


def test_the_refresh_command_refuses_a_one_benchmark_run(tmp_path: Path):
    results, run = tmp_path / "results.json", tmp_path / "run.json"
    results.write_text(json.dumps([figure("a", 1.0)]))
    started = datetime(2026, 12, 4, 7, 0, tzinfo=UTC)
    write_run(run_description(full=False, quick=False, started=started), run)
    target = tmp_path / "benchmarks.json"
    out = CliRunner().invoke(
        snapshot.main,
        ["refresh", "--results", str(results), "--run", str(run), "--snapshot", str(target)],
    )
    assert out.exit_code == 1 and "not a full run" in out.output
    assert not target.exists()


def test_a_runs_description_names_its_date_commit_and_machine(tmp_path: Path):
    started = datetime(2026, 12, 4, 7, 0, tzinfo=UTC)
    write_run(run_description(full=True, quick=False, started=started), tmp_path / "run.json")
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["date"] == "2026-12-04T07:00Z" and run["full"] and not run["quick"]
    assert run["commit"] != "unknown"  # this checkout's
    assert "cores" in run["machine"] and "load average" in run["machine"]


def test_a_full_run_replaces_the_snapshot_and_its_tables(tmp_path: Path):
    """The committed snapshot's figures as a full run's results.json: refresh takes them under
    one run of this machine, and every table is generated from that run."""
    root = copy_of_the_pages(tmp_path)
    results, run = tmp_path / "results.json", tmp_path / "run.json"
    results.write_text(json.dumps(snapshot.figures_of(snapshot.load())))
    started = datetime(2026, 12, 4, 7, 0, tzinfo=UTC)
    write_run(run_description(full=True, quick=False, started=started), run)
    target = root / "docs" / "benchmarks.json"
    blocks = snapshot.blocks(target, root)
    taken = snapshot.from_results(json.loads(results.read_text()), json.loads(run.read_text()))
    target.write_text(json.dumps(taken))
    assert snapshot.stale(snapshot.blocks(target, root))  # the tables name the old runs
    snapshot.write(snapshot.blocks(target, root))
    assert snapshot.stale(snapshot.blocks(target, root)) == []
    readme = (root / "README.md").read_text()
    assert "2026-12-04T07:00Z" in readme and "2026-11-26, `d5db01c`" not in readme
    assert blocks  # the same pages and markers as the committed ones


def with_cpu_run(snap: dict, figures: list[Figure]) -> dict:
    """The snapshot with one more run, the newest, holding these figures."""
    key = "2026-12-05-e2e-cpu"
    run = {"date": "2026-12-05", "commit": "c0ffee1", "machine": "2 cores", "what": "e2e_max"}
    return {
        **snap,
        "runs": {**snap["runs"], key: run},
        "figures": [*snap["figures"], *({"run": key, **f.to_json()} for f in figures)],
    }


def cpu_run_figures() -> list[Figure]:
    """What bench/e2e_max.py writes for a run whose 1,000/s step used these CPU seconds."""
    step = {"rate": 1000.0, "held": True, "cpu_us_per_change": per_change(STEP_CPU_S, 10_000)}
    return cpu_figures([step], in_process_us=50.0)


def test_the_headline_has_cpu_per_change_once_a_snapshotted_run_has_it():
    snap = snapshot.load()
    without = {
        **snap,
        "figures": [f for f in snap["figures"] if f["name"] != "e2e_cpu_us_per_change"],
    }
    row = next(
        line for line in snapshot.headline(without).splitlines() if "e2e_cpu_us_per_change" in line
    )
    assert (
        row
        == "| `e2e_cpu_us_per_change`, rate 1,000 | no run of the snapshot has measured it yet | | |"
    )

    table = snapshot.headline(with_cpu_run(without, cpu_run_figures()))
    lines = table.splitlines()
    [row] = [line for line in lines if "e2e_cpu_us_per_change" in line]
    assert row.startswith("| `e2e_cpu_us_per_change`, rate 1,000 | 500 µs of CPU per change")
    assert "(goal: own stages <= 150 µs per change at 1,500/s)" in row  # another rate's goal
    assert row.endswith("| 2026-12-05, `c0ffee1` |")
    # beside the held rate, as the README's performance headline
    assert "e2e_max_sustained_changes_per_s" in lines[lines.index(row) - 1]


def test_the_daemon_ratio_reads_as_a_ratio_with_its_goal():
    snap = with_cpu_run(snapshot.load(), cpu_run_figures())
    [row] = [
        line
        for line in snapshot.figures_table(snap).splitlines()
        if "`record_processor_daemon_ratio`" in line and "2026-12-05-e2e-cpu" in line
    ]
    # 200 µs per change under the daemon over 50 µs per record in process
    assert "| 4x the in-process CPU per record (goal <= 3: not met) |" in row
    assert "| record_processor_in_process_cpu_per_record |" in row

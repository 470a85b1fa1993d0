"""cost_model/measured.py: the measured inputs from the snapshot's and a results.json's
figures, each shape the benchmarks have written."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from bench.snapshot import SNAPSHOT_PATH
from cost_model.cli import read_results
from cost_model.inputs import Assumptions, Inputs, Measured
from cost_model.measured import load_measured
from cost_model.page import generate, render
from cost_model.sizing import size
from tests.cost_model.fixtures import figures_from


def test_without_the_daemon_figure_the_in_process_one_is_discounted_as_measured():
    # No processor_scaling_records_per_s (nor e2e_cpu_us_per_change, also under the daemon):
    # the snapshot's last processor_records_per_s × 0.082, the ratio
    # processor_scaling_records_per_s measured (3,855 per worker-CPU-second against the first
    # full run's in-process 47,232).
    figures = [
        f
        for f in figures_from(SNAPSHOT_PATH)
        if f["name"] not in ("processor_scaling_records_per_s", "e2e_cpu_us_per_change")
    ]
    m = load_measured(figures)
    assert not m.processor_under_kcl
    assert m.processor_records_per_s_per_core == next(
        f["value"] for f in reversed(figures) if f["name"] == "processor_records_per_s"
    )
    i = Inputs(measured=m, assumptions=Assumptions(record_bytes=750))
    assert "× 0.082)" in size(10_000, i).cells["ecs_tasks"].how
    assert 47_232 * Assumptions(record_bytes=750).processor_aws_efficiency == pytest.approx(
        3_855, rel=0.01
    )


def test_measured_figures_come_from_the_snapshot_and_a_missing_one_is_refused(tmp_path: Path):
    """No hard-coded fallback: the snapshot's figures, each named with its run."""
    m = load_measured(figures_from(SNAPSHOT_PATH))
    for source in m.sources.values():
        assert source.startswith("docs/benchmarks.json, run ")
    with pytest.raises(ValueError, match="have no processor_records_per_s"):
        load_measured([])

    results = tmp_path / "results.json"
    figure = {"unit": "records/s", "baseline": "b", "baseline_value": 1.0}
    capture = {**figure, "name": "capture_changes_per_s", "value": 5_000.0}
    results.write_text(
        json.dumps(
            [
                {**figure, "name": "processor_records_per_s", "value": 30_000.0},
                {**figure, "name": "loader_fact_rows_per_s", "value": 90_000.0},
                capture,
            ]
        )
    )
    plain = load_measured(read_results(results))
    assert plain.sources["capture_changes_per_s"].startswith("results.json ")
    assert plain.processor_records_per_s_per_core == 30_000
    assert plain.loader_rows_per_s_per_connection == 90_000
    assert plain.warehouse_rows_per_s_per_core == 90_000

    # Scaling figures without CPU times: value ÷ min(workers, cores), the most workers counting.
    no_cpu = [
        {
            **figure,
            "name": "processor_scaling_records_per_s",
            "value": 50_000.0,
            "params": {"workers": 1},
        },
        {
            **figure,
            "name": "processor_scaling_records_per_s",
            "value": 80_000.0,
            "params": {"workers": 4},
        },
    ]
    fact = {**figure, "name": "loader_fact_rows_per_s", "value": 90_000.0}
    results.write_text(json.dumps([*no_cpu, capture, fact]))
    scaled = load_measured(read_results(results))
    assert scaled.processor_records_per_s_per_core == 80_000 / 2  # 4 workers on 2 cores
    assert not scaled.processor_under_kcl


def test_scaling_figures_are_read_per_cpu_second(tmp_path: Path):
    """The shapes bench/processor_scaling.py and bench/loader_scaling.py write: CPU seconds,
    which do not depend on what else the shared machine was running."""
    figure = {"unit": "records/s", "baseline": "b", "baseline_value": 1.0}
    results = tmp_path / "results.json"
    processor = {
        **figure,
        "name": "processor_scaling_records_per_s",
        "value": 9_000.0,
        "params": {
            "records": 100_000,
            "workers": 2,
            "cores": 2,
            "two_measured_records": 90_000,
            "two_worker_cpu_s": 20.0,
            "two_emulation_cpu_s": 30.0,
            "one_worker_cpu_s": 16.0,
        },
    }
    loader = [
        {
            **figure,
            "name": "loader_scaling_rows_per_s",
            "value": 4_000.0,
            "params": {
                "runners": runners,
                "manifests": 16,
                "rows": 9_600,
                "cores": 2,
                "loader_cpu_s_per_10k_rows": loader,
                "postgres_backend_cpu_s_per_10k_rows": 0.7,
                "baseline_loader_cpu_s_per_10k_rows": 1.0,
                "baseline_postgres_backend_cpu_s_per_10k_rows": 0.8,
            },
        }
        for runners, loader in ((1, 1.2), (2, 2.0), (4, 2.9))
    ]
    # The first shape the benchmark wrote: CPU seconds of the whole run.
    older = {
        **figure,
        "name": "loader_scaling_rows_per_s",
        "value": 4_000.0,
        "params": {
            "runners": 1,
            "manifests": 16,
            "rows": 9_600,
            "loader_cpu_s": 1.44,
            "postgres_backend_cpu_s": 0.72,
        },
    }
    capture = {**figure, "name": "capture_changes_per_s", "value": 5_000.0}
    results.write_text(json.dumps([processor, *loader, older, capture]))
    m = load_measured(read_results(results), Assumptions(record_bytes=750))
    # The dearest run: the 90,000 records measured over 20 CPU-seconds (the emulation's CPU is
    # AWS's side); a run without its own count measured them all (100,000 / 16).
    assert m.processor_records_per_s_per_core == 90_000 / 20
    assert "100,000 records ÷ 16 s = 6,250" in m.sources["processor_records_per_s_per_core"]
    assert m.processor_under_kcl  # no allowance for the KCL's own costs on top
    # A manifest of 600 rows is worth (400 + 8 × 500) + 600 rows. The backend's CPU per row is
    # the mean of every run and baseline; the loader's the least (a process's start is in it).
    worth = 400 + 8 * 500 + 600
    backend = (0.7 * 3 + 0.8 * 3 + 0.75) / 7 / 10_000 * 600
    loader = 1.0 / 10_000 * 600
    assert m.warehouse_rows_per_s_per_core == pytest.approx(worth / backend)
    assert m.loader_rows_per_s_per_connection == pytest.approx(worth / (backend + loader))
    i = Inputs(measured=m, assumptions=Assumptions(record_bytes=750))
    cell = size(100_000, i).cells["ecs_tasks"]
    assert "× 1)" in cell.how  # efficiency 1: the figure already ran under the daemon


BY_ROLE = {  # µs of CPU per change at the stepped run's 1,000/s step
    "capture": 80.0,
    "kcl_jvm": 100.0,
    "record_processor": 150.0,
    "loader": 100.0,
    "traffic_writers": 170.0,
    "aws_emulation": 580.0,
    "postgresql": 610.0,
}


def cpu_run(key: str, by_role: dict[str, float], *, shards: int | None = 4) -> dict:
    """A run of make bench BENCH=e2e_max_sustained_changes_per_s in the snapshot's shape:
    e2e_cpu_us_per_change as bench/e2e_max.py writes it, and (with ``shards``) the held rate
    whose params name the stream's shards."""
    own = sum(by_role[r] for r in ("capture", "kcl_jvm", "record_processor", "loader"))
    figures = [
        {
            "run": key,
            "name": "e2e_cpu_us_per_change",
            "value": own,
            "unit": "µs of CPU per change (capture + KCL JVM + record processors + loaders)",
            "baseline": "goal_own_stages_us_per_change",
            "baseline_value": 150.0,
            "lower_is_better": True,
            "params": {"rate": 1000.0, "held": True, "by_role": {**by_role, "own_stages": own}},
        }
    ]
    if shards is not None:
        figures.append(
            {
                "run": key,
                "name": "e2e_max_sustained_changes_per_s",
                "value": 1500.0,
                "unit": "changes/s",
                "baseline": "source_writers_achieved_rate_at_the_first_step_not_held",
                "baseline_value": 2000.0,
                "params": {"goal": ">= 3000", "shards": shards, "workers": 1, "loaders": 3},
            }
        )
    return {
        "runs": {key: {"date": key[:10], "commit": "c0ffee1", "machine": "2 cores", "what": "x"}},
        "figures": figures,
    }


def snapshot_with(tmp_path: Path, *runs: dict) -> Path:
    """The committed snapshot, less any e2e_cpu_us_per_change, with these runs after its own
    (so the newest)."""
    snap = json.loads(SNAPSHOT_PATH.read_text())
    snap["figures"] = [f for f in snap["figures"] if f["name"] != "e2e_cpu_us_per_change"]
    for run in runs:
        snap["runs"].update(run["runs"])
        snap["figures"] += run["figures"]
    path = tmp_path / f"benchmarks-{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps(snap))
    return path


def measured_from(path: Path) -> Measured:
    return load_measured(figures_from(path), Assumptions(record_bytes=750))


def test_the_cpu_per_change_sizes_the_ecs_tasks_and_the_lambdas(tmp_path: Path):
    older = cpu_run("2026-12-04-e2e-cpu", {r: us * 10 for r, us in BY_ROLE.items()})
    m = measured_from(snapshot_with(tmp_path, older, cpu_run("2026-12-05-e2e-cpu", BY_ROLE)))
    # The newest run's record processors + KCL JVM: 150 + 100 = 250 µs a change, 4,000 a
    # CPU-second, under the real daemon (no allowance on top).
    assert m.processor_records_per_s_per_core == 1e6 / 250 == 4_000
    assert m.processor_under_kcl
    source = m.sources["processor_records_per_s_per_core"]
    assert source.startswith("docs/benchmarks.json, run 2026-12-05-e2e-cpu: e2e_cpu_us_per_change")
    # 100,000 changes/s: 25 vCPU ÷ 0.6 → 42 tasks of CPU (memory: 24), + 1 to lose one.
    i = Inputs(measured=m, assumptions=Assumptions(record_bytes=750))
    assert size(100_000, i)["ecs_tasks"] == 42 + 1

    # The loaders' 100 µs a change: at 1,000/s on 4 shards, 4 manifests/s of 4,400 rows' worth
    # fixed each and 1,090 rows, 18,690 rows' worth for 0.1 CPU-seconds. The warehouse's side,
    # the backend's CPU, is loader_scaling_rows_per_s's as without the figure.
    fallback = measured_from(snapshot_with(tmp_path))
    loader = (4 * (400 + 8 * 500) + 1_000 * 1.09) / (1_000 * 100e-6)
    backend = fallback.warehouse_rows_per_s_per_core
    assert m.warehouse_rows_per_s_per_core == backend
    assert m.loader_rows_per_s_per_connection == pytest.approx(1 / (1 / loader + 1 / backend))
    loader_source = m.sources["loader_rows_per_s_per_connection"]
    assert "e2e_cpu_us_per_change at 1,000 changes/s: loaders 100 µs" in loader_source
    text = generate(figures_from(snapshot_with(tmp_path, cpu_run("2026-12-05-e2e-cpu", BY_ROLE))))
    assert text.startswith(
        "**Sized from `e2e_cpu_us_per_change`** (run 2026-12-05-e2e-cpu, at 1,000 changes/s): "
        "the ECS tasks on its record processors' and KCL JVM's CPU per change (150 + 100 µs); "
        "the Lambdas on its loaders' (100 µs)"
    )
    assert "Not sized: the capture's 80 µs per change (DMS's work in AWS)" in text


def test_the_sizing_follows_the_cpu_per_changes_numbers(tmp_path: Path):
    def measured(**us: float) -> Measured:
        return measured_from(
            snapshot_with(tmp_path, cpu_run("2026-12-05-e2e-cpu", {**BY_ROLE, **us}))
        )

    base = measured()
    doubled = measured(record_processor=300.0, kcl_jvm=200.0)
    assert doubled.processor_records_per_s_per_core == base.processor_records_per_s_per_core / 2

    def cpu_tasks(m: Measured) -> int:  # the tasks CPU asks for, without the one to lose
        return size(100_000, Inputs(m, assumptions=Assumptions(record_bytes=750)))["ecs_tasks"] - 1

    assert cpu_tasks(base) == 42 and cpu_tasks(doubled) == 84  # twice the µs, twice the tasks
    # Twice the loaders' µs: twice the loader's own CPU in each load, the backend's unchanged.
    slower = measured(loader=200.0)
    backend = 1 / base.warehouse_rows_per_s_per_core
    assert 1 / slower.loader_rows_per_s_per_connection - backend == pytest.approx(
        2 * (1 / base.loader_rows_per_s_per_connection - backend)
    )
    assert slower.warehouse_rows_per_s_per_core == base.warehouse_rows_per_s_per_core
    # The capture's µs are DMS's in AWS: they size nothing.
    other_capture = measured(capture=800.0)
    assert dataclasses.replace(other_capture, basis="") == dataclasses.replace(base, basis="")


def test_without_the_cpu_per_change_the_sizing_falls_back_and_says_so(tmp_path: Path):
    figures = figures_from(snapshot_with(tmp_path))
    m = load_measured(figures)
    assert "processor_scaling_records_per_s" in m.sources["processor_records_per_s_per_core"]
    assert "ms of loader CPU (least)" in m.sources["loader_rows_per_s_per_connection"]
    text = generate(figures)
    assert text.startswith(
        "**Sized without `e2e_cpu_us_per_change`**: no run in docs/benchmarks.json has it yet"
    )
    assert text == render(Inputs(m))
    # A run without its held rate's shards: the tasks from it, the Lambdas as before, and the
    # page says which.
    partial = measured_from(
        snapshot_with(tmp_path, cpu_run("2026-12-05-e2e-cpu", BY_ROLE, shards=None))
    )
    assert partial.processor_records_per_s_per_core == 4_000
    assert "ms of loader CPU (least)" in partial.sources["loader_rows_per_s_per_connection"]
    assert "the Lambdas on the other figures the Inputs (below) name" in partial.basis
    assert "(150 + 100 µs)" in partial.basis

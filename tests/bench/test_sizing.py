"""bench/sizing.py: the sizing arithmetic, checked by hand, with no service."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

import hcl2
import pytest

from bench import sizing
from bench.sizing import Assumptions, Inputs, Measured, Prices, Settings
from stream_processor.config import ProcessorConfig
from tests.fixtures import ROOT

MONTH = 730 * 3600


def inputs(**changes: object) -> Inputs:
    """Fixed figures (not this machine's results.json) so the arithmetic below is exact."""
    measured = Measured(
        processor_records_per_s_per_core=40_000,
        loader_rows_per_s_per_connection=100_000,
        warehouse_rows_per_s_per_core=100_000,
        capture_changes_per_s=5_000,
    )
    # Half the in-process rate for the daemon's costs: round figures for the arithmetic below.
    assumptions = Assumptions(record_bytes=750, processor_aws_efficiency=0.5)
    i = Inputs(measured=measured, assumptions=assumptions)
    return sizing.with_overrides(i, [f"{k}={v}" for k, v in changes.items()])


@pytest.mark.parametrize(
    ("rate", "shards"),
    [(1_000, 2), (10_000, 15), (100_000, 143), (100, 1)],
)
def test_shards_are_records_per_second_over_1000_at_70_percent(rate: int, shards: int):
    # 750-byte records: 1,000 a second is 0.72 MiB/s, so records/s decides, not bytes.
    assert sizing.size(rate, inputs())["shards"] == shards == max(1, math.ceil(rate / 700))


def test_large_records_make_bytes_decide_the_shards():
    big = inputs(record_bytes=2_000, stream_mode="PROVISIONED")  # 1,000/s × 2,000 B = 1.91 MiB/s
    sz = sizing.size(1_000, big)
    assert sz["shards"] == math.ceil(1_000 * 2_000 / 2**20 / 0.7) == 3
    first = sz.bites_first[0]
    assert first.limit == "Kinesis write bytes/s per shard"


def test_an_on_demand_stream_runs_at_least_four_shards_and_each_flushes_once_a_batch_age():
    on_demand = sizing.size(1_000, inputs())
    assert (on_demand["shards"], on_demand["stream_shards"]) == (2, 4)
    assert on_demand["manifests_per_s"] == 4  # a manifest per shard per 1 s flush
    provisioned = sizing.size(1_000, inputs(stream_mode="PROVISIONED"))
    assert provisioned["stream_shards"] == 2 and provisioned["manifests_per_s"] == 2
    slower = sizing.size(1_000, inputs(stream_mode="PROVISIONED", max_batch_age_s=5))
    assert slower["manifests_per_s"] == pytest.approx(0.4)
    # A batch also flushes when max_batch_rows fill: 545 rows/s per shard, 100-row batches.
    small = sizing.size(1_000, inputs(stream_mode="PROVISIONED", max_batch_rows=100))
    assert small["manifests_per_s"] == pytest.approx(2 * 1_000 * 1.09 / 2 / 100)


def test_ecs_tasks_are_memory_or_cpu_plus_one_between_the_floor_and_the_shards():
    # A 2048 MiB task: the supervisor (93), the JVM (a quarter as heap, 512, + 170 outside it)
    # and record processors of 184 MiB: (2048 - 93 - 682) // 184 = 6 shards a task.
    # 100k changes/s: 143 shards → 24 tasks; CPU: 100,000 / (40,000 × 0.5) = 5 vCPU / 0.6 → 9
    # tasks. The larger, + 1 → 25.
    assert sizing.size(100_000, inputs())["ecs_tasks"] == 25
    assert "= 6 shard processes per task" in sizing.size(100_000, inputs()).cells["ecs_tasks"].how
    # CPU-bound when the processor is slow: 100,000 / (4,000 × 0.5) = 50 vCPU / 0.6 → 84 + 1.
    assert sizing.size(100_000, inputs(processor_records_per_s_per_core=4_000))["ecs_tasks"] == 85
    # Bigger tasks: 2 vCPU, 4 GiB (a 1,024 MiB heap) hold (4096 - 93 - 1194) // 184 = 15 shards
    # (→ 10) and 1.2 vCPU of work each (→ 5): 10 + 1.
    assert sizing.size(100_000, inputs(task_memory_mib=4096, task_vcpu=2))["ecs_tasks"] == 11
    # At low rates the floor (processor_count) holds, even above the shard count.
    assert sizing.size(100, inputs(stream_mode="PROVISIONED"))["ecs_tasks"] == 2
    # Never more tasks than shards beyond the floor: a shard is leased by one worker.
    tiny_tasks = inputs(task_memory_mib=1024, processor_process_mib=400, stream_mode="PROVISIONED")
    sz = sizing.size(10_000, tiny_tasks)  # (1024 - 93 - 426) // 400 = 1 a task → 15 + 1, capped
    assert sz["ecs_tasks"] == sz["shards"] == 15
    # A task too small for one record processor is refused, not sized.
    with pytest.raises(ValueError, match="holds no"):
        sizing.size(1_000, inputs(task_memory_mib=1024, processor_process_mib=600))


def test_without_the_daemon_figure_the_in_process_one_is_discounted_as_measured():
    # No processor_scaling_records_per_s (nor e2e_cpu_us_per_change, also under the daemon):
    # the snapshot's last processor_records_per_s × 0.082, the ratio
    # processor_scaling_records_per_s measured (3,855 per worker-CPU-second against the first
    # full run's in-process 47,232).
    figures = [
        f
        for f in sizing.figures_from(sizing.SNAPSHOT_PATH)
        if f["name"] not in ("processor_scaling_records_per_s", "e2e_cpu_us_per_change")
    ]
    m = sizing.load_measured(figures)
    assert not m.processor_under_kcl
    assert m.processor_records_per_s_per_core == next(
        f["value"] for f in reversed(figures) if f["name"] == "processor_records_per_s"
    )
    i = Inputs(measured=m, assumptions=Assumptions(record_bytes=750))
    assert "× 0.082)" in sizing.size(10_000, i).cells["ecs_tasks"].how
    assert 47_232 * Assumptions(record_bytes=750).processor_aws_efficiency == pytest.approx(
        3_855, rel=0.01
    )


def test_the_task_memory_is_what_was_measured():
    """docs/sizing.md and terraform's processor_memory quote these: one value each."""
    a = Assumptions(record_bytes=750)
    assert a.processor_process_mib == 184  # a record processor's peak draining a backlog
    assert (a.daemon_heap_fraction, a.daemon_non_heap_mib, a.supervisor_mib) == (0.25, 170, 93)
    page = (ROOT / "docs" / "sizing.md").read_text()
    assert "184 MiB" in page and "96 MiB" not in page
    with (ROOT / "terraform" / "variables.tf").open() as f:
        variables = {k.strip('"'): v for d in hcl2.load(f)["variable"] for k, v in d.items()}
    described = variables["processor_memory"]["description"]
    assert "184 MiB" in described and "6 shards" in described


def test_lambda_concurrency_is_manifests_per_second_times_load_time_with_headroom():
    i = inputs(stream_mode="PROVISIONED")
    sz = sizing.size(10_000, i)  # 15 shards, 15 manifests/s of 726.7 rows
    rows = 10_000 * 1.09 / 15
    load = (400 + 8 * 500 + rows) / 100_000 + 9 * 0.02
    assert sz["load_s"] == pytest.approx(load)
    assert sz["lambda_concurrency"] == math.ceil(15 * load * 2.0) == 7
    assert sz["warehouse_connections"] == 7 + 5
    # Never below the SQS event source's minimum maximum concurrency.
    assert sizing.size(100, i)["lambda_concurrency"] == 2
    # The warehouse does all of the load but the S3 GETs.
    expected = (15 * (400 + 8 * 500) + 10_000 * 1.09) / 100_000 / 0.6
    assert sz["warehouse_vcpu"] == pytest.approx(expected)


def test_the_loader_batch_size_keeps_a_full_batch_inside_half_the_timeout():
    sz = sizing.size(1_000, inputs())
    assert sz["loader_batch_size_max"] == math.floor(120 / (2 * sz["load_s"]))


def test_the_dms_class_and_parallel_apply_threads_follow_the_rate():
    assert sizing.size(1_000, inputs())["dms"] == "dms.c5.large, ParallelApplyThreads 4"
    assert sizing.size(10_000, inputs())["dms"] == "dms.c5.xlarge, ParallelApplyThreads 15"
    big = sizing.size(100_000, inputs())
    assert big["dms"] == "dms.r5.4xlarge, ParallelApplyThreads 32"  # the documented maximum
    assert "split the tables" in big.cells["dms"].how


def test_what_bites_first_is_the_rate_driven_limit_nearest_its_maximum():
    provisioned = sizing.size(1_000, inputs(stream_mode="PROVISIONED"))
    assert provisioned.bites_first[0].limit == "Kinesis write records/s per shard"
    assert provisioned.bites_first[0].used == pytest.approx(0.5)
    # On demand, 2 tasks on 4 shards: losing one leaves the other with all 4 of its 6.
    on_demand = sizing.size(1_000, inputs())
    assert on_demand.bites_first[0].limit == "ECS task memory after losing a task"
    assert on_demand.bites_first[0].used == pytest.approx(4 / 6)
    kinds = {u.limit: u.kind for u in on_demand.uses}
    assert kinds["Kinesis GetRecords calls per shard"] == "setting"  # 4 of 5 whatever the rate
    assert all(u.kind == "rate" for u in on_demand.bites_first)
    # The workers' CPU is counted with a task lost, as their memory is: 10,000 / 4,000 = 2.5
    # vCPU → 5 tasks + 1; 2.5 of the 5 vCPU left.
    slow = sizing.size(10_000, inputs(processor_records_per_s_per_core=8_000))
    cpu = {u.limit: u for u in slow.uses}["ECS task CPU after losing a task"]
    assert slow["ecs_tasks"] == 6 and cpu.used == pytest.approx(2.5 / 5)
    # At 100k changes/s a 4-vCPU warehouse is the first to give.
    assert sizing.size(100_000, inputs()).bites_first[0].limit.startswith("Warehouse CPU")


def test_monthly_cost_on_a_provisioned_stream_by_hand():
    i = inputs(stream_mode="PROVISIONED")
    lines = {c.item: c.usd for c in sizing.monthly_cost(1_000, i)}
    p = Prices()
    assert lines["Kinesis provisioned: shard-hours"] == pytest.approx(
        2 * 730 * p.kinesis_shard_hour
    )
    assert lines["Kinesis provisioned: PUT payload units"] == pytest.approx(
        1_000 * MONTH / 1e6 * p.kinesis_put_payload_units_million
    )
    assert lines["Kinesis provisioned: retention 168 h"] == pytest.approx(2 * 730 * 0.02)
    # 2 manifests/s, each 8 parquet files + the manifest.
    assert lines["S3 PUTs (parquet files + manifest)"] == pytest.approx(
        2 * 9 * MONTH / 1000 * p.s3_put_1000
    )
    assert lines["SQS requests"] == pytest.approx((2 + 2 * 2 + 0.25) * MONTH / 1e6 * 0.40)
    assert lines["Lambda invocations"] == pytest.approx(2 * MONTH / 1e6 * 0.20)
    fargate = 2 * (1 * p.fargate_vcpu_hour + 2 * p.fargate_gb_hour) * 730
    assert lines["ECS Fargate (the KCL workers)"] == pytest.approx(fargate)
    assert lines["DMS instance (dms.c5.large, Multi-AZ)"] == pytest.approx(0.154 * 2 * 730)


def test_monthly_cost_on_demand_bills_records_rounded_up_to_a_kib():
    lines = {c.item: c.usd for c in sizing.monthly_cost(1_000, inputs())}
    gib = 1_000 * MONTH / 2**20  # 750-byte records billed as 1 KiB each
    assert lines["Kinesis on-demand: data in"] == pytest.approx(gib * 0.08)
    assert lines["Kinesis on-demand: data out (one consumer)"] == pytest.approx(gib * 0.04)
    # Four shards on demand: twice the manifests (and S3 PUTs) of two provisioned shards.
    assert lines["S3 PUTs (parquet files + manifest)"] == pytest.approx(
        4 * 9 * MONTH / 1000 * 0.005
    )


def test_a_batching_window_puts_several_manifests_in_an_invocation():
    lines = {
        c.item: c.usd
        for c in sizing.monthly_cost(
            10_000, inputs(stream_mode="PROVISIONED", loader_batching_window_s=1)
        )
    }
    # 15 manifests/s gathered for 1 s: batches of 10 (the batch size) → 1.5 invocations/s.
    assert lines["Lambda invocations"] == pytest.approx(1.5 * MONTH / 1e6 * 0.20)


def test_measured_figures_come_from_the_snapshot_and_a_missing_one_is_refused(tmp_path: Path):
    """No hard-coded fallback: the snapshot's figures, each named with its run."""
    m = sizing.load_measured(sizing.figures_from(sizing.SNAPSHOT_PATH))
    for source in m.sources.values():
        assert source.startswith("docs/benchmarks.json, run ")
    with pytest.raises(ValueError, match="have no processor_records_per_s"):
        sizing.load_measured([])
    (tmp_path / "empty.json").write_text("[]")
    assert sizing.main(["--results", str(tmp_path / "empty.json")]) == 2
    assert sizing.main(["--results", str(tmp_path / "none.json")]) == 2

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
    plain = sizing.load_measured(sizing.read_results(results))
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
    scaled = sizing.load_measured(sizing.read_results(results))
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
    m = sizing.load_measured(sizing.read_results(results), Assumptions(record_bytes=750))
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
    cell = sizing.size(100_000, i).cells["ecs_tasks"]
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
    snap = json.loads(sizing.SNAPSHOT_PATH.read_text())
    snap["figures"] = [f for f in snap["figures"] if f["name"] != "e2e_cpu_us_per_change"]
    for run in runs:
        snap["runs"].update(run["runs"])
        snap["figures"] += run["figures"]
    path = tmp_path / f"benchmarks-{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps(snap))
    return path


def measured_from(path: Path) -> Measured:
    return sizing.load_measured(sizing.figures_from(path), Assumptions(record_bytes=750))


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
    assert sizing.size(100_000, i)["ecs_tasks"] == 42 + 1

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
    text = sizing.generate(
        sizing.figures_from(snapshot_with(tmp_path, cpu_run("2026-12-05-e2e-cpu", BY_ROLE)))
    )
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
        return (
            sizing.size(100_000, Inputs(m, assumptions=Assumptions(record_bytes=750)))["ecs_tasks"]
            - 1
        )

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
    figures = sizing.figures_from(snapshot_with(tmp_path))
    m = sizing.load_measured(figures)
    assert "processor_scaling_records_per_s" in m.sources["processor_records_per_s_per_core"]
    assert "ms of loader CPU (least)" in m.sources["loader_rows_per_s_per_connection"]
    text = sizing.generate(figures)
    assert text.startswith(
        "**Sized without `e2e_cpu_us_per_change`**: no run in docs/benchmarks.json has it yet"
    )
    assert text == sizing.render(Inputs(m))
    # A run without its held rate's shards: the tasks from it, the Lambdas as before, and the
    # page says which.
    partial = measured_from(
        snapshot_with(tmp_path, cpu_run("2026-12-05-e2e-cpu", BY_ROLE, shards=None))
    )
    assert partial.processor_records_per_s_per_core == 4_000
    assert "ms of loader CPU (least)" in partial.sources["loader_rows_per_s_per_connection"]
    assert "the Lambdas on the other figures the Inputs (below) name" in partial.basis
    assert "(150 + 100 µs)" in partial.basis


def test_the_record_size_is_a_dms_update_record_with_its_partition_key():
    """The assumed size is the DMS-shaped update record's (data, pk-only before-image,
    transaction details): compact JSON, its newline, a partition key of a 9-digit key."""
    record = json.loads((ROOT / "tests" / "fixtures" / "dms" / "update_same_key.json").read_text())
    compact = len(json.dumps(record, separators=(",", ":")).encode())
    meta = record["metadata"]
    key = f"{meta['schema-name']}.{meta['table-name']}.{10**8}"
    assert Assumptions().record_bytes == compact + 1 + len(key)
    assert 300 < Assumptions().record_bytes < 1024  # under a KiB: on demand bills it as 1 KiB


def test_the_settings_are_the_processors_and_terraforms_defaults():
    processor = ProcessorConfig(bucket="", state_table="")
    s = Settings()
    assert (s.max_batch_age_s, s.max_batch_rows, s.kcl_idle_time_ms) == (
        processor.max_batch_age_s,
        processor.max_batch_rows,
        processor.kcl_idle_time_ms,
    )
    with (ROOT / "terraform" / "variables.tf").open() as f:
        variables = {k.strip('"'): v for d in hcl2.load(f)["variable"] for k, v in d.items()}

    def default(name: str) -> object:
        value = variables[name]["default"]
        return value.strip('"') if isinstance(value, str) else value

    assert default("max_batch_age_s") == s.max_batch_age_s
    assert default("max_batch_rows") == s.max_batch_rows
    assert default("kinesis_stream_mode") == s.stream_mode
    assert default("kinesis_retention_hours") == s.retention_hours
    assert default("processor_count") == s.min_tasks
    assert default("processor_cpu") == s.task_vcpu * 1024
    assert default("processor_memory") == s.task_memory_mib
    assert default("loader_batch_size") == s.loader_batch_size
    assert default("loader_batching_window_s") == s.loader_batching_window_s
    assert default("dms_multi_az") == s.dms_multi_az
    lambda_tf = (ROOT / "terraform" / "lambda.tf").read_text()
    assert re.search(rf"\n  memory_size\s+= {s.lambda_memory_mib}\n", lambda_tf)
    assert re.search(rf"\n  timeout\s+= {s.lambda_timeout_s}\n", lambda_tf)


def test_every_dms_class_the_table_picks_has_its_size_and_the_cost_its_price():
    for _, name in Assumptions().dms_class_by_rate:
        assert name in sizing.DMS_CLASSES
    assert "dms.c5.large" in Prices().dms_instance_hour


def test_overrides_reach_every_part_and_refuse_unknown_names():
    i = inputs()
    changed = sizing.with_overrides(
        i,
        [
            "files_per_manifest=4",
            "kinesis_shard_hour=0.0175",
            "dms_instance_hour[dms.c5.large]=0.2",
            "dms_multi_az=false",
            "stream_mode=PROVISIONED",
        ],
    )
    assert changed.assumptions.files_per_manifest == 4
    assert changed.prices.kinesis_shard_hour == 0.0175
    assert changed.prices.dms_instance_hour["dms.c5.large"] == 0.2
    assert changed.prices.dms_instance_hour["dms.t3.medium"] == 0.073
    assert changed.settings.dms_multi_az is False
    assert changed.settings.stream_mode == "PROVISIONED"
    with pytest.raises(ValueError, match="no input named"):
        sizing.with_overrides(i, ["shard_count=3"])
    with pytest.raises(ValueError, match="not name=value"):
        sizing.with_overrides(i, ["files_per_manifest"])


def test_the_markdown_shows_every_cell_with_its_arithmetic_and_the_inputs():
    text = sizing.render(inputs())
    assert "| Kinesis shards | 2 (4 on demand) | 15 | 143 |" in text
    for rate in ("1,000", "10,000", "100,000"):
        assert f"### {rate} changes/s: the arithmetic" in text
    assert "max(1,000 ÷ 1,000 records/s = 1.00" in text
    assert "### Cost per month at 1,000 changes/s" in text
    assert '"Quotas and limits", Amazon Kinesis Data Streams Developer Guide' in text
    assert '"AWS Database Migration Service pricing"' in text
    assert "| dms_instance_hour[dms.c5.large] | $0.154 |" in text
    assert text.count("not confirmed: check the page") >= 10  # every price says what it is
    summary = sizing.price_check_summary(Prices())
    assert summary in text and "eu-west-2" in summary
    assert "Confirmed by an AWS document: `lambda_requests_million`, `lambda_gb_second`" in summary
    assert "`dms_instance_hour`" in summary.split("Not confirmed:")[1]


def test_write_replaces_only_the_generated_block(tmp_path: Path):
    page = tmp_path / "sizing.md"
    page.write_text(f"# Sizing\n\nprose\n\n{sizing.BEGIN}\nold\n{sizing.END}\n\nmore prose\n")
    assert sizing.main(["--write", str(page)]) == 0
    text = page.read_text()
    assert text.startswith("# Sizing\n\nprose\n\n") and text.endswith("\n\nmore prose\n")
    assert "old" not in text and "### The table" in text
    page.write_text("no markers")
    assert sizing.main(["--write", str(page)]) == 2


def test_the_sizing_page_has_a_generated_block():
    text = (ROOT / "docs" / "sizing.md").read_text()
    assert text.count(sizing.BEGIN) == 1 and text.count(sizing.END) == 1
    block = text.split(sizing.BEGIN)[1].split(sizing.END)[0]
    assert "### The table" in block and "### Cost per month" in block


def test_inputs_are_frozen_dataclasses():
    i = inputs()
    with pytest.raises(dataclasses.FrozenInstanceError):
        i.settings.max_batch_age_s = 3  # type: ignore[misc]

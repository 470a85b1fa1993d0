"""The measured inputs (``Measured``) from benchmark figures: the snapshot's
(docs/benchmarks.json) or a results.json's, as lists of figures. Pure: the command line
(cost_model/cli.py) reads them.

The CPU the pipeline's own processes use per change comes from the newest
``e2e_cpu_us_per_change`` (bench/e2e_max.py): the record processors' and the KCL JVM's µs per
change size the ECS tasks, the loaders' the Lambdas (the capture's is DMS's work in AWS, not
sized here). Without it, or for what it lacks, the scaling figures
(``processor_scaling_records_per_s``, ``loader_scaling_rows_per_s``) are used when present, and
the generated page says which. The warehouse's side of a load always comes from
``loader_scaling_rows_per_s``: the stepped run's PostgreSQL also serves the source. Absolute
figures are from a 2-core shared machine: per-core figures are what carries over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cost_model.inputs import Assumptions, Measured, Settings
from cost_model.sizing import manifest_rate, number

# where `make bench` ran (docs/benchmarks.md: "One full run on this machine (2 cores)")
MACHINE_CORES = 2


def _where(f: Mapping[str, Any]) -> str:
    """Where a figure comes from, for the Inputs table."""
    return f"docs/benchmarks.json, run {f['run']}:" if "run" in f else "results.json"


UNIT_KEYS = ("workers", "runners", "processes", "connections", "loaders", "concurrency")
CPU_FIGURE = "e2e_cpu_us_per_change"
# An ECS task's processes that work per change: the KCL's JVM and the record processors (the
# supervisor, PID 1, only watches them).
TASK_ROLES = ("record_processor", "kcl_jvm")


def _named(figures: Sequence[Mapping[str, Any]], name: str) -> list[Mapping[str, Any]]:
    return [f for f in figures if f["name"] == name]


def _per_unit(runs: Sequence[Mapping[str, Any]], name: str) -> tuple[float, str] | None:
    """A scaling figure without CPU times, as a rate per core: an aggregate measured with n
    workers on c cores is worth value / min(n, c) per core. Of several runs, the one with the
    most workers (the most contention) counts."""
    measured = []
    for f in runs:
        params = f.get("params") or {}
        key = next((k for k in UNIT_KEYS if isinstance(params.get(k), int | float)), None)
        units = float(params[key]) if key else 1.0
        cores = float(params.get("cores", MACHINE_CORES))
        measured.append((units, cores, float(f["value"]), key or "worker"))
    if not measured:
        return None
    units, cores, value, key = max(measured)
    per = value / max(1.0, min(units, cores))
    return per, (
        f"{_where(runs[0])} {name} = {value:,.0f}/s with {units:g} {key} on {cores:g} cores "
        f"→ {per:,.0f}/s per core"
    )


def _processor_per_cpu_second(runs: Sequence[Mapping[str, Any]]) -> tuple[float, str] | None:
    """processor_scaling_records_per_s as records per CPU-second of the workers (their JVM and
    record processors; not the local AWS emulation's, which is AWS's side): CPU time, unlike a
    rate, does not depend on what else the shared machine ran. The dearest run counts."""
    per_cpu = []
    for f in runs:
        params = f.get("params") or {}
        for key, cpu in params.items():
            if not key.endswith("worker_cpu_s"):
                continue
            # the CPU was read over the measured records only (``<run>_measured_records``)
            prefix = key.removesuffix("worker_cpu_s")
            records = params.get(f"{prefix}measured_records", params.get("records"))
            if records and cpu:
                per_cpu.append((float(records) / float(cpu), float(records), float(cpu), key))
    if not per_cpu:
        return None
    runs_text = "; ".join(
        f"{key}: {number(records)} records ÷ {cpu:g} s = {number(rate)}"
        for rate, records, cpu, key in sorted(per_cpu, key=lambda r: r[3])
    )
    rate = min(per_cpu)[0]
    return rate, (
        f"{_where(runs[0])} processor_scaling_records_per_s, measured records per CPU-second "
        f"of the real KCL daemon and its record processors ({runs_text}): the dearest, "
        f"{number(rate)}; the emulation's CPU (AWS's side) not counted"
    )


def _by_role(f: Mapping[str, Any]) -> Mapping[str, float]:
    """e2e_cpu_us_per_change's µs of CPU per change by process role, at its rate."""
    return (f.get("params") or {}).get("by_role") or {}


def _processor_from_cpu(f: Mapping[str, Any]) -> tuple[float, str] | None:
    """e2e_cpu_us_per_change as changes (Kinesis records) per CPU-second of an ECS task's
    processes: the record processors' and the KCL JVM's µs per change, under the real daemon,
    at the stepped run's fixed rate (a worker's upkeep, its polls and lease renewals, spread
    over that rate's changes: dearer than at a busier shard)."""
    us = _by_role(f)
    if not all(us.get(role) for role in TASK_ROLES):
        return None
    task_us = sum(float(us[role]) for role in TASK_ROLES)
    rate = 1e6 / task_us
    return rate, (
        f"{_where(f)} {CPU_FIGURE} at {number(f['params']['rate'])} changes/s: record processors "
        f"{us['record_processor']:g} + KCL JVM {us['kcl_jvm']:g} = {task_us:g} µs of CPU per "
        f"change → 1,000,000 ÷ {task_us:g} = {number(rate)} changes per CPU-second; the "
        "emulation's CPU (AWS's side) not counted"
    )


def _loader_from_cpu(
    figures: Sequence[Mapping[str, Any]], f: Mapping[str, Any], a: Assumptions
) -> tuple[float, str] | None:
    """e2e_cpu_us_per_change's loader share as rows' worth per CPU-second of the loader alone
    (what a Lambda does itself; its PostgreSQL backend's CPU is not in it). The stepped run's
    manifests are counted as this page counts them: a manifest per shard per flush at the
    processor's default batch settings, which the run used; its shards are in its
    e2e_max_sustained_changes_per_s."""
    us = _by_role(f).get("loader")
    rate = (f.get("params") or {}).get("rate")
    same_run = [
        g
        for g in _named(figures, "e2e_max_sustained_changes_per_s")
        if g.get("run") == f.get("run")
    ]
    shards = (same_run[-1].get("params") or {}).get("shards") if same_run else None
    if not (us and rate and shards):
        return None
    manifests = manifest_rate(rate, shards, Settings(), a)
    fixed = a.loader_manifest_rows + a.files_per_manifest * a.loader_file_rows
    rows = rate * a.rows_per_change
    worth = manifests * fixed + rows
    cpu_s = rate * float(us) / 1e6
    per_cpu = worth / cpu_s
    return per_cpu, (
        f"{_where(f)} {CPU_FIGURE} at {number(rate)} changes/s: loaders {float(us):g} µs of CPU "
        f"per change, {cpu_s:.3f} CPU-seconds a second for {number(manifests)} manifests/s "
        f"({shards} shards) × {number(fixed)} rows' worth fixed + {number(rows)} rows = "
        f"{number(worth)} rows' worth → {number(per_cpu)} per loader CPU-second"
    )


def _cpu_per_row(params: Mapping[str, Any], prefix: str, what: str) -> float | None:
    """CPU seconds per row of one run: ``<what>_cpu_s_per_10k_rows``, or ``<what>_cpu_s`` over
    ``rows`` (both shapes bench/loader_scaling.py has written)."""
    per_10k = params.get(f"{prefix}{what}_cpu_s_per_10k_rows")
    if per_10k:
        return float(per_10k) / 10_000
    total, rows = params.get(f"{prefix}{what}_cpu_s"), params.get("rows")
    return float(total) / float(rows) if total and rows else None


def _loader_per_cpu_second(
    runs: Sequence[Mapping[str, Any]],
    a: Assumptions,
    loader_rate: tuple[float, str] | None = None,
) -> tuple[float, float, str] | None:
    """loader_scaling_rows_per_s as rows' worth per CPU-second: of the loader and its
    PostgreSQL backend together (a loader's time: it waits while its backend works), and of
    the backend alone (the warehouse's). Its manifests are the processor's realistic mix, so
    their fixed work is counted as this page counts it (files_per_manifest). The backend's CPU
    per row is the mean of every run (baselines too); the loader's, the least of them: a loader
    process's CPU includes its own start (imports), which a warm Lambda does not repeat. With
    ``loader_rate`` (rows' worth per loader CPU-second, and where it comes from), the loader's
    CPU is that instead."""
    backend: list[float] = []
    loader: list[float] = []
    manifests = rows = 0.0
    for f in runs:
        params = f.get("params") or {}
        if not (params.get("manifests") and params.get("rows")):
            continue
        manifests += float(params["manifests"])
        rows += float(params["rows"])
        for prefix in ("", "baseline_"):
            if (cpu := _cpu_per_row(params, prefix, "postgres_backend")) is not None:
                backend.append(cpu)
            if (cpu := _cpu_per_row(params, prefix, "loader")) is not None:
                loader.append(cpu)
    if not (manifests and backend and (loader or loader_rate)):
        return None
    per_manifest = rows / manifests
    fixed = a.loader_manifest_rows + a.files_per_manifest * a.loader_file_rows
    worth = fixed + per_manifest
    backend_s = sum(backend) / len(backend) * per_manifest
    if loader_rate is None:
        loader_s = min(loader) * per_manifest
        loader_how = f"{loader_s * 1000:.0f} ms of loader CPU (least)"
    else:
        loader_s = worth / loader_rate[0]
        loader_how = f"{loader_s * 1000:.0f} ms of loader CPU ({loader_rate[1]})"
    return (
        worth / (loader_s + backend_s),
        worth / backend_s,
        f"{_where(runs[0])} loader_scaling_rows_per_s ({len(backend)} of its runs with CPU "
        f"times): a manifest of {number(per_manifest)} rows, {number(fixed)} fixed + "
        f"{number(per_manifest)} = {number(worth)} rows' "
        f"worth, took {backend_s * 1000:.0f} ms of PostgreSQL backend CPU (mean) and "
        f"{loader_how}",
    )


def load_measured(figures: Sequence[Mapping[str, Any]], a: Assumptions | None = None) -> Measured:
    """The measured inputs from benchmark figures (the snapshot's or a results.json's); the
    last figure of a name counts (the snapshot lists its runs oldest first)."""
    a = a or Assumptions()
    sources: dict[str, str] = {}
    cpu = _named(figures, CPU_FIGURE)[-1:]  # the newest
    scaling = _named(figures, "processor_scaling_records_per_s")
    processor = _processor_from_cpu(cpu[0]) if cpu else None
    processor_from_cpu = processor is not None
    processor = processor or _processor_per_cpu_second(scaling)
    under_kcl = processor is not None
    processor = processor or _per_unit(scaling, "processor_scaling_records_per_s")
    processor = processor or _single(figures, "processor_records_per_s")
    loader_cpu = _loader_from_cpu(figures, cpu[0], a) if cpu else None
    loading = _loader_per_cpu_second(_named(figures, "loader_scaling_rows_per_s"), a, loader_cpu)
    loader_from_cpu = loading is not None and loader_cpu is not None
    if loading:
        per_connection, per_core, how = loading
        sources["loader_rows_per_s_per_connection"] = how
        sources["warehouse_rows_per_s_per_core"] = how + " (the backend's alone)"
    else:
        per_connection, how = _single(figures, "loader_fact_rows_per_s")  # facts: the slower
        per_core = per_connection
        sources["loader_rows_per_s_per_connection"] = how + " (one large manifest)"
        sources["warehouse_rows_per_s_per_core"] = (
            how + " (one connection keeps about one warehouse core busy)"
        )
    capture = _single(figures, "capture_changes_per_s")
    sources["processor_records_per_s_per_core"] = processor[1]
    sources["capture_changes_per_s"] = capture[1] + " (the local engine, not DMS)"
    return Measured(
        processor_records_per_s_per_core=processor[0],
        loader_rows_per_s_per_connection=per_connection,
        warehouse_rows_per_s_per_core=per_core,
        capture_changes_per_s=capture[0],
        processor_under_kcl=under_kcl,
        sources=sources,
        basis=_basis(figures, cpu[0] if cpu else None, processor_from_cpu, loader_from_cpu),
    )


def _basis(
    figures: Sequence[Mapping[str, Any]],
    cpu: Mapping[str, Any] | None,
    processor_from_cpu: bool,
    loader_from_cpu: bool,
) -> str:
    """The page's statement of what the ECS tasks' and the Lambdas' CPU is sized from."""
    others = "the other figures the Inputs (below) name"
    if cpu is None:
        where = "docs/benchmarks.json" if any("run" in f for f in figures) else "results.json"
        return (
            f"**Sized without `{CPU_FIGURE}`**: no run in {where} has it yet, so the ECS "
            f"tasks' and the Lambdas' CPU come from {others}. Once a run has it, the ECS tasks "
            "are sized on its record processors' and KCL JVM's CPU per change and the Lambdas "
            "on its loaders'."
        )
    us = _by_role(cpu)
    run = f"run {cpu['run']}" if "run" in cpu else "results.json"
    tasks = (
        f"the ECS tasks on its record processors' and KCL JVM's CPU per change "
        f"({float(us['record_processor']):g} + {float(us['kcl_jvm']):g} µs)"
        if processor_from_cpu
        else f"the ECS tasks on {others} (it lacks the record processors' or the KCL JVM's µs)"
    )
    lambdas = (
        f"the Lambdas on its loaders' ({float(us['loader']):g} µs) and, for the warehouse's "
        "side of a load, on loader_scaling_rows_per_s's PostgreSQL backend CPU (the stepped "
        "run's PostgreSQL also serves the source)"
        if loader_from_cpu
        else f"the Lambdas on {others} (they take its loaders' µs, its run's shards from "
        "e2e_max_sustained_changes_per_s, and loader_scaling_rows_per_s for the warehouse's "
        "side of a load)"
    )
    return (
        f"**Sized from `{CPU_FIGURE}`** ({run}, at {number(cpu['params']['rate'])} changes/s): "
        f"{tasks}; {lambdas}. Not sized: the capture's {float(us.get('capture', 0)):g} µs per "
        "change (DMS's work in AWS), the AWS emulation's and PostgreSQL's (AWS's side and the "
        "warehouse's)."
    )


def _single(figures: Sequence[Mapping[str, Any]], name: str) -> tuple[float, str]:
    found = _named(figures, name)
    if not found:
        raise ValueError(f"the benchmark figures have no {name}")
    return float(found[-1]["value"]), f"{_where(found[-1])} {name}"

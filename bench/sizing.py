"""Sizing for production: Kinesis shards, ECS tasks, Lambda concurrency, warehouse connections
and the DMS instance for a change rate, and the monthly bill at AWS's list prices, from this
project's measured figures and AWS's published limits.

``python -m bench.sizing`` prints the tables of docs/sizing.md as markdown, with the arithmetic
of every cell; ``python -m bench.sizing --write docs/sizing.md`` replaces the generated part of
that page. ``--set name=value`` overrides any named input (``--set files_per_manifest=4``,
``--set dms_instance_hour[dms.c5.large]=0.16``). Pure arithmetic: no service is called.

Measured figures come from the committed snapshot, ``docs/benchmarks.json`` (bench/snapshot.py),
or with ``--results bench/results.json`` from what ``make bench`` last wrote on this machine.
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

import argparse
import dataclasses
import json
import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stream_processor.config import ProcessorConfig

ROOT = Path(__file__).resolve().parents[1]
RESULTS_PATH = ROOT / "bench" / "results.json"
SNAPSHOT_PATH = ROOT / "docs" / "benchmarks.json"
RATES = (1_000, 10_000, 100_000)
MIB = 1024 * 1024
SECONDS_PER_MONTH = 730 * 3600  # AWS's pricing pages count 730 hours in a month
# where `make bench` ran (docs/benchmarks.md: "One full run on this machine (2 cores)")
MACHINE_CORES = 2
BEGIN, END = "<!-- sizing:begin -->", "<!-- sizing:end -->"

# --- measured figures ------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """This project's own throughputs, per unit that scales (a core, a connection). The
    loader's and the warehouse's are in rows' worth: a manifest's fixed work counts as
    ``loader_manifest_rows + files × loader_file_rows`` rows (Assumptions)."""

    processor_records_per_s_per_core: float
    loader_rows_per_s_per_connection: float
    warehouse_rows_per_s_per_core: float
    capture_changes_per_s: float
    # True when the processor's figure was measured under the real KCL daemon (its protocol,
    # join-state and S3 calls included), so no allowance for them is needed.
    processor_under_kcl: bool = False
    sources: Mapping[str, str] = field(default_factory=dict)
    # What the CPU figures are based on, in a sentence or two for the page ("" when set by hand).
    basis: str = ""


def read_results(path: Path = RESULTS_PATH) -> list[dict[str, Any]]:
    """The figures ``make bench`` last wrote (bench/results.py's format, a list of figures)."""
    try:
        figures = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc
    return [f for f in figures if isinstance(f, dict) and "name" in f and "value" in f]


def figures_from(snapshot_path: Path) -> list[dict[str, Any]]:
    """The snapshot's figures (docs/benchmarks.json), each with its run."""
    from bench import snapshot  # the snapshot's generated blocks include this page's

    return snapshot.figures_of(snapshot.load(snapshot_path))


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
        f"{key}: {_n(records)} records ÷ {cpu:g} s = {_n(rate)}"
        for rate, records, cpu, key in sorted(per_cpu, key=lambda r: r[3])
    )
    rate = min(per_cpu)[0]
    return rate, (
        f"{_where(runs[0])} processor_scaling_records_per_s, measured records per CPU-second "
        f"of the real KCL daemon and its record processors ({runs_text}): the dearest, "
        f"{_n(rate)}; the emulation's CPU (AWS's side) not counted"
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
        f"{_where(f)} {CPU_FIGURE} at {_n(f['params']['rate'])} changes/s: record processors "
        f"{us['record_processor']:g} + KCL JVM {us['kcl_jvm']:g} = {task_us:g} µs of CPU per "
        f"change → 1,000,000 ÷ {task_us:g} = {_n(rate)} changes per CPU-second; the "
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
    manifests = _manifests_per_s(rate, shards, Settings(), a)
    fixed = a.loader_manifest_rows + a.files_per_manifest * a.loader_file_rows
    rows = rate * a.rows_per_change
    worth = manifests * fixed + rows
    cpu_s = rate * float(us) / 1e6
    per_cpu = worth / cpu_s
    return per_cpu, (
        f"{_where(f)} {CPU_FIGURE} at {_n(rate)} changes/s: loaders {float(us):g} µs of CPU "
        f"per change, {cpu_s:.3f} CPU-seconds a second for {_n(manifests)} manifests/s "
        f"({shards} shards) × {_n(fixed)} rows' worth fixed + {_n(rows)} rows = {_n(worth)} "
        f"rows' worth → {_n(per_cpu)} per loader CPU-second"
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
        f"times): a manifest of {_n(per_manifest)} rows, {_n(fixed)} fixed + "
        f"{_n(per_manifest)} = {_n(worth)} rows' "
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
        f"**Sized from `{CPU_FIGURE}`** ({run}, at {_n(cpu['params']['rate'])} changes/s): "
        f"{tasks}; {lambdas}. Not sized: the capture's {float(us.get('capture', 0)):g} µs per "
        "change (DMS's work in AWS), the AWS emulation's and PostgreSQL's (AWS's side and the "
        "warehouse's)."
    )


def _single(figures: Sequence[Mapping[str, Any]], name: str) -> tuple[float, str]:
    found = _named(figures, name)
    if not found:
        raise ValueError(f"the benchmark figures have no {name}")
    return float(found[-1]["value"]), f"{_where(found[-1])} {name}"


# --- AWS's published limits --------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    kinesis_write_records_per_shard: int = 1_000
    kinesis_write_bytes_per_shard: int = MIB
    kinesis_read_bytes_per_shard: int = 2 * MIB
    kinesis_get_records_per_shard_per_s: int = 5
    kinesis_on_demand_initial_records_per_s: int = 4_000
    kinesis_on_demand_initial_bytes_per_s: int = 4 * MIB
    kinesis_on_demand_initial_shards: int = 4
    kinesis_on_demand_max_bytes_per_s: int = 200 * MIB  # outside us-east-1/us-west-2/eu-west-1
    kinesis_account_shards: int = 1_000  # default in most regions (some 6,000 or 20,000)
    lambda_account_concurrency: int = 1_000
    lambda_unreserved_minimum: int = 100
    sqs_esm_min_concurrency: int = 2
    sqs_esm_max_concurrency: int = 1_000
    sqs_batch_size_max_standard: int = 10_000
    sqs_batch_size_max_without_window: int = 10
    dms_parallel_apply_threads_max: int = 32
    dms_parallel_apply_buffer_max: int = 1_000


KDS_QUOTAS = '"Quotas and limits", Amazon Kinesis Data Streams Developer Guide'
LAMBDA_SQS = '"Lambda parameters for Amazon SQS event source mappings", AWS Lambda Developer Guide'
DMS_KINESIS = '"Using Amazon Kinesis Data Streams as a target", AWS DMS User Guide'
LIMIT_SOURCES = {
    "kinesis_write_records_per_shard": KDS_QUOTAS,
    "kinesis_write_bytes_per_shard": KDS_QUOTAS,
    "kinesis_read_bytes_per_shard": KDS_QUOTAS + " (shared by every consumer)",
    "kinesis_get_records_per_shard_per_s": KDS_QUOTAS + " (a GetRecords call is a transaction)",
    "kinesis_on_demand_initial_records_per_s": KDS_QUOTAS + " (a new on-demand stream: 4 MB/s)",
    "kinesis_on_demand_initial_bytes_per_s": KDS_QUOTAS,
    "kinesis_on_demand_initial_shards": "4 MB/s ÷ 1 MB/s per shard",
    "kinesis_on_demand_max_bytes_per_s": KDS_QUOTAS + " (outside us-east-1, us-west-2, eu-west-1)",
    "kinesis_account_shards": KDS_QUOTAS + " (1,000 or 6,000 outside those three regions)",
    "lambda_account_concurrency": '"Lambda quotas", AWS Lambda Developer Guide (new accounts: '
    "lower)",
    "lambda_unreserved_minimum": '"Configuring reserved concurrency", AWS Lambda Developer Guide',
    "sqs_esm_min_concurrency": '"ScalingConfig", AWS Lambda API Reference (MaximumConcurrency)',
    "sqs_esm_max_concurrency": '"ScalingConfig"; "Configuring scaling behavior for SQS event '
    'source mappings"',
    "sqs_batch_size_max_standard": LAMBDA_SQS + " (10 for FIFO queues)",
    "sqs_batch_size_max_without_window": "CreateEventSourceMapping, AWS Lambda API Reference "
    "(BatchSize > 10 needs MaximumBatchingWindowInSeconds >= 1)",
    "dms_parallel_apply_threads_max": DMS_KINESIS,
    "dms_parallel_apply_buffer_max": DMS_KINESIS + " (ParallelApplyBufferSize, default 50)",
}

# vCPU and memory (GiB): "Choosing the right AWS DMS replication instance", AWS DMS User Guide.
DMS_CLASSES: dict[str, tuple[int, float]] = {
    "dms.t3.medium": (2, 4),
    "dms.c5.large": (2, 4),
    "dms.c5.xlarge": (4, 8),
    "dms.c5.2xlarge": (8, 16),
    "dms.c5.4xlarge": (16, 32),
    "dms.r5.xlarge": (4, 32),
    "dms.r5.2xlarge": (8, 64),
    "dms.r5.4xlarge": (16, 128),
}

# --- the pipeline's own settings ---------------------------------------------------------------

_PROCESSOR = ProcessorConfig(bucket="", state_table="")


@dataclass(frozen=True)
class Settings:
    """Batch and deployment settings: the processor's defaults (stream_processor/config.py) and
    terraform/variables.tf's (tests/bench/test_sizing.py holds them equal)."""

    max_batch_age_s: float = _PROCESSOR.max_batch_age_s
    max_batch_rows: int = _PROCESSOR.max_batch_rows
    kcl_idle_time_ms: int = _PROCESSOR.kcl_idle_time_ms
    stream_mode: str = "ON_DEMAND"  # kinesis_stream_mode
    retention_hours: int = 168  # kinesis_retention_hours
    min_tasks: int = 2  # processor_count: the autoscaling floor
    task_vcpu: float = 1.0  # processor_cpu 1024
    task_memory_mib: int = 2048  # processor_memory
    loader_batch_size: int = 10  # loader_batch_size
    loader_batching_window_s: int = 0  # loader_batching_window_s
    lambda_memory_mib: int = 1024  # lambda.tf memory_size
    lambda_timeout_s: int = 120  # lambda.tf timeout
    dms_multi_az: bool = True  # dms_multi_az


# --- assumptions: named, each with its reason -----------------------------------------------


@dataclass(frozen=True)
class Assumptions:
    # Bytes one change costs a Kinesis shard: a DMS update record in Contract A's shape (data,
    # pk-only before-image, transaction details), compact JSON plus its newline, plus its
    # partition key (public.<table>.<key of 9 digits>; the 1 MiB/s counts partition keys too).
    # tests/bench/test_sizing.py measures it on the DMS-shaped update record of the test suite.
    record_bytes: int = 755
    # Warehouse rows per change: the demo's 13,897 records made 15,145 rows (docs/demo.md).
    rows_per_change: float = 1.09
    # Parquet files per manifest: the simulator's mix touches fact_sales_order,
    # fact_purchase_order, fact_payment and dim_transaction in nearly every second of a shard,
    # and dim_staff, dim_location, dim_counterparty, dim_design in most (3% of actions each).
    files_per_manifest: int = 8
    shard_utilisation: float = 0.7  # shards run at most 70% of their write limit: bursts fit
    cpu_utilisation: float = 0.6  # tasks sized to 60% CPU
    # The KCL daemon (GetRecords decoded in the JVM, each record base64 in JSON over the record
    # processor's stdin and decoded again), the DynamoDB and S3 calls and the JVM's upkeep are
    # not in processor_records_per_s (one process, in-memory stores). Measured: under the real
    # daemon a worker did 3,855-4,471 records per CPU-second (processor_scaling_records_per_s,
    # 2026-11-26) against 47,232 a second in process on the same machine: 0.082 of it at the
    # dearer. Used only when the figures have neither e2e_cpu_us_per_change nor
    # processor_scaling_records_per_s.
    processor_aws_efficiency: float = 0.082
    # A task's memory, measured 2026-11-26 (resident memory sampled every 0.5 s while the real
    # daemon drained processor_scaling's 300,000-record backlog on 4 shards, twice, and on 12
    # shards once; the JVM limited as in a 2 GiB task in the last two, -XX:MaxRAM=2g, and with
    # no limit on this 24 GiB machine in the first, when it grew to 1.1 GiB). One Python record
    # processor per shard (the MultiLangDaemon's child): ~100 MiB after its imports and boto3
    # clients, 160-170 MiB while draining, 183 MiB at most (a 10,000-record GetRecords delivery
    # decoded beside a batch of up to 20,000 rows): counted at its peak, since a task that takes
    # over a lost task's shards drains all of them at once.
    processor_process_mib: int = 184
    # The KCL's JVM: the image sets no -Xmx, so its heap may grow to the JVM's default quarter
    # of the task's memory (MaxRAMPercentage 25), plus what it keeps outside the heap (170 MiB:
    # metaspace, GC, code, threads; Native Memory Tracking, 12 shards). Measured at most: 447
    # MiB holding 4 shards, 638 MiB holding 12, with the heap capped at 512 MiB.
    daemon_heap_fraction: float = 0.25
    daemon_non_heap_mib: int = 170
    supervisor_mib: int = 93  # `stream-processor run` (PID 1, Python): 91-93 MiB measured
    # A manifest's load besides its rows, in rows' worth of the loader's measured rate (so it
    # carries over between machines like the rate does): ad hoc, 2026-11-26, this 2-core machine
    # under other work, the processor's own manifests of ~300 rows in one file, each run beside
    # the loader benchmark's shape to take the ratio. A one-file manifest cost 320-1,457 rows'
    # worth over four runs (median ~1,200: ~300 rows + ~900 fixed); further files ~200-900 each.
    loader_manifest_rows: int = 400  # ledger claim, dim_date, commit
    loader_file_rows: int = 500  # per file: staging table, COPY, merge, history
    s3_get_s: float = 0.020  # S3 GET latency in AWS, per object, read one after another
    concurrency_headroom: float = 2.0  # a backlog drains as fast as it built up
    ops_connections: int = 5  # reconcile, migrate, status, repair, one person
    # The warehouse's size is the reader's: 4 vCPU unless set (--set warehouse_vcpu=16).
    warehouse_vcpu: int = 4
    dms_threads_per_shard: int = 1  # ParallelApplyThreads ≈ one writer per shard, up to 32
    idle_receives_per_s: float = 0.25  # Lambda's SQS pollers: 5 long polls of 20 s each
    metric_names: int = (
        6  # RecordsIn, RowsOut, DeadLetters, ProcessorErrors, FlushLatencyMs, MillisBehindLatest
    )
    # This page's choice of DMS class by change rate (AWS publishes no records/s per class).
    dms_class_by_rate: tuple[tuple[float, str], ...] = (
        (2_000, "dms.c5.large"),
        (20_000, "dms.c5.xlarge"),
        (math.inf, "dms.r5.4xlarge"),
    )


# --- AWS list prices (named, dated, to be checked) -------------------------------------------


@dataclass(frozen=True)
class Prices:
    region: str = "us-east-1"
    as_of: str = "2026-11-26"
    kinesis_on_demand_stream_hour: float = 0.04
    kinesis_on_demand_ingest_gb: float = 0.08  # records rounded up to 1 KiB
    kinesis_on_demand_retrieval_gb: float = 0.04
    kinesis_on_demand_extended_retention_gb_month: float = 0.10
    kinesis_shard_hour: float = 0.015
    kinesis_put_payload_units_million: float = 0.014  # 25 KiB units
    kinesis_extended_retention_shard_hour: float = 0.02
    s3_put_1000: float = 0.005
    s3_get_1000: float = 0.0004
    sqs_requests_million: float = 0.40
    lambda_requests_million: float = 0.20
    lambda_gb_second: float = 0.0000166667
    fargate_vcpu_hour: float = 0.04048
    fargate_gb_hour: float = 0.004445
    dms_instance_hour: Mapping[str, float] = field(
        default_factory=lambda: {
            "dms.t3.medium": 0.073,
            "dms.c5.large": 0.154,
            "dms.c5.xlarge": 0.308,
            "dms.c5.2xlarge": 0.616,
            "dms.c5.4xlarge": 1.232,
        }
    )
    dms_multi_az_factor: float = 2.0
    cloudwatch_put_metric_data_1000: float = 0.01
    cloudwatch_metric_month: float = 0.30
    dynamodb_on_demand_writes_million: float = 0.625


PRICE_SOURCES = {
    "kinesis": '"Amazon Kinesis Data Streams pricing" (on-demand and provisioned tabs)',
    "s3": '"Amazon S3 pricing" (S3 Standard, requests)',
    "sqs": '"Amazon SQS pricing" (standard queue; first 1 million requests a month free)',
    "lambda": '"AWS Lambda pricing" (x86)',
    "fargate": '"AWS Fargate pricing" (Linux/x86)',
    "dms": '"AWS Database Migration Service pricing" (on-demand, single-AZ; Multi-AZ twice)',
    "cloudwatch": '"Amazon CloudWatch pricing" (API requests, custom metrics)',
    "dynamodb": '"Amazon DynamoDB pricing" (on-demand write request units)',
}
# What each price was checked against, 2026-11-26. None could be read from AWS's own pricing
# pages here (the stored copies carry the billing rules, not the figures); Lambda's two are in
# AWS's whitepaper "How AWS Pricing Works", the ones below it agreed with third-party summaries
# of the pages, and every other one is as remembered. Check each on its page before quoting it.
AWS_DOCUMENT = 'AWS\'s whitepaper "How AWS Pricing Works", whose AWS Lambda section names no region'
THIRD_PARTY = "third-party summaries of the page"
PRICE_CHECKS = {
    "lambda_requests_million": AWS_DOCUMENT,
    "lambda_gb_second": AWS_DOCUMENT + "; a third-party summary gives it for us-east-1, x86",
    "s3_put_1000": THIRD_PARTY + " (S3 Standard)",
    "s3_get_1000": THIRD_PARTY + " (S3 Standard)",
    "sqs_requests_million": THIRD_PARTY + " (standard queue)",
    "fargate_vcpu_hour": THIRD_PARTY + " (us-east-1, Linux/x86)",
    "fargate_gb_hour": THIRD_PARTY + " (us-east-1, Linux/x86)",
    "kinesis_put_payload_units_million": "a third-party document quoting the page for US West "
    "(Oregon), not us-east-1",
    "cloudwatch_metric_month": THIRD_PARTY + " (custom metrics, the first 10,000)",
}
UNCONFIRMED = "not confirmed: check the page"


def price_check_summary(p: Prices) -> str:
    """One paragraph: which prices are confirmed, how, and which are not."""
    names = [f.name for f in dataclasses.fields(p) if f.name not in ("region", "as_of")]
    aws = [n for n in names if PRICE_CHECKS.get(n, "").startswith(AWS_DOCUMENT)]
    others = [n for n in names if n in PRICE_CHECKS and n not in aws]
    missing = [n for n in names if n not in PRICE_CHECKS]

    def listed(xs: list[str]) -> str:
        return ", ".join(f"`{x}`" for x in xs)

    return (
        f"Prices: {p.region} list prices as written on {p.as_of}; none could be read from "
        "AWS's own pricing pages here (the stored copies carry the billing rules, not the "
        f"figures). Confirmed by an AWS document: {listed(aws)}, in {AWS_DOCUMENT}. Agreeing with "
        f"third-party summaries only: {listed(others)}. Not confirmed: {listed(missing)}. "
        "terraform's default region is eu-west-2 (London), for which no price was found: check "
        "each on its page, for the deployment's region, before quoting the cost."
    )


@dataclass(frozen=True)
class Inputs:
    measured: Measured
    limits: Limits = field(default_factory=Limits)
    settings: Settings = field(default_factory=Settings)
    assumptions: Assumptions = field(default_factory=Assumptions)
    prices: Prices = field(default_factory=Prices)


# --- the arithmetic ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    value: Any
    how: str  # the arithmetic, in words and numbers


@dataclass(frozen=True)
class Use:
    """How much of one limit a rate uses."""

    limit: str
    used: float  # fraction of the limit
    how: str
    # "rate": grows with the change rate; "setting": set by a setting (the KCL's poll
    # interval), whatever the rate; "ramp": only until an on-demand stream has scaled up.
    kind: str = "rate"


@dataclass(frozen=True)
class Sizing:
    rate: int
    cells: dict[str, Cell]
    uses: list[Use]

    def __getitem__(self, key: str) -> Any:  # noqa: ANN401
        return self.cells[key].value

    @property
    def bites_first(self) -> list[Use]:
        """The limits nearest to biting as the rate grows, highest first."""
        return sorted((u for u in self.uses if u.kind == "rate"), key=lambda u: -u.used)


def _n(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 or x == int(x) else f"{x:,.3g}"


def shards_for(rate: float, i: Inputs) -> Cell:
    lim, a = i.limits, i.assumptions
    by_records = rate / lim.kinesis_write_records_per_shard
    by_bytes = rate * a.record_bytes / lim.kinesis_write_bytes_per_shard
    shards = max(1, math.ceil(max(by_records, by_bytes) / a.shard_utilisation))
    return Cell(
        shards,
        f"max({_n(rate)} ÷ {_n(lim.kinesis_write_records_per_shard)} records/s = {by_records:.2f}, "
        f"{_n(rate)} × {a.record_bytes} B ÷ 1 MiB/s = {by_bytes:.2f}) ÷ {a.shard_utilisation} "
        f"utilisation → {shards}",
    )


def stream_shards(shards: int, i: Inputs) -> int:
    """Shards the stream runs: on demand, at least what a new on-demand stream starts with."""
    if i.settings.stream_mode == "ON_DEMAND":
        return max(shards, i.limits.kinesis_on_demand_initial_shards)
    return shards


def _manifests_per_s(rate: float, shards: int, s: Settings, a: Assumptions) -> float:
    """A manifest per shard per flush: every max_batch_age_s, or sooner when max_batch_rows fill."""
    rows_per_shard = rate * a.rows_per_change / shards
    return shards * max(1 / s.max_batch_age_s, rows_per_shard / s.max_batch_rows)


def manifests_per_s(rate: float, shards: int, i: Inputs) -> Cell:
    """The manifests a second at ``i``'s settings (``_manifests_per_s``), with the arithmetic."""
    s, a = i.settings, i.assumptions
    rows_per_shard = rate * a.rows_per_change / shards
    value = _manifests_per_s(rate, shards, s, a)
    return Cell(
        value,
        f"{shards} shards × max(1 ÷ {s.max_batch_age_s} s, {_n(rows_per_shard)} rows/s ÷ "
        f"{_n(s.max_batch_rows)} rows) = {_n(value)}/s",
    )


def load_seconds(rows_per_manifest: float, i: Inputs) -> Cell:
    a, m = i.assumptions, i.measured
    files = a.files_per_manifest
    work = a.loader_manifest_rows + files * a.loader_file_rows + rows_per_manifest
    warehouse = work / m.loader_rows_per_s_per_connection
    value = warehouse + (files + 1) * a.s3_get_s
    return Cell(
        value,
        f"({a.loader_manifest_rows} + {files} files × {a.loader_file_rows} + "
        f"{_n(rows_per_manifest)} rows) ÷ {_n(m.loader_rows_per_s_per_connection)} rows/s = "
        f"{warehouse:.3f} s in the warehouse + {files + 1} S3 GETs × {a.s3_get_s} s = "
        f"{value:.3f} s",
    )


def dms_for(rate: float, shards: int, i: Inputs) -> Cell:
    a, lim = i.assumptions, i.limits
    name = next(c for top, c in a.dms_class_by_rate if rate <= top)
    vcpu, mem = DMS_CLASSES[name]
    threads = min(lim.dms_parallel_apply_threads_max, max(4, shards * a.dms_threads_per_shard))
    split = (
        "; split the tables over several tasks (one slot each) and measure"
        if rate > a.dms_class_by_rate[-2][0]
        else ""
    )
    return Cell(
        f"{name}, ParallelApplyThreads {threads}",
        f"{name} ({vcpu} vCPU, {mem:g} GiB) for up to {_n(rate)} changes/s (this page's choice: "
        f"AWS publishes no records/s per class); ParallelApplyThreads = min(32, max(4, "
        f"{shards} shards)) = {threads}, ParallelApplyBufferSize "
        f"{_n(lim.dms_parallel_apply_buffer_max)}{split}",
    )


def size(rate: int, i: Inputs) -> Sizing:
    lim, s, a, m = i.limits, i.settings, i.assumptions, i.measured
    cells: dict[str, Cell] = {}
    cells["shards"] = shards = shards_for(rate, i)
    running = stream_shards(shards.value, i)
    cells["stream_shards"] = Cell(
        running,
        f"on demand: max({shards.value}, {lim.kinesis_on_demand_initial_shards} a new stream "
        f"starts with) = {running}"
        if s.stream_mode == "ON_DEMAND"
        else f"provisioned: kinesis_shard_count = {running}",
    )
    cells["manifests_per_s"] = manifests = manifests_per_s(rate, running, i)
    rows_per_manifest = rate * a.rows_per_change / manifests.value
    cells["rows_per_manifest"] = Cell(
        rows_per_manifest,
        f"{_n(rate)} changes/s × {a.rows_per_change} rows ÷ {_n(manifests.value)} manifests/s "
        f"= {_n(rows_per_manifest)}",
    )

    # ECS: memory (a Python process per shard) or CPU, plus one task's worth to lose one.
    efficiency = 1.0 if m.processor_under_kcl else a.processor_aws_efficiency
    per_core = m.processor_records_per_s_per_core * efficiency
    vcpu = rate / per_core
    tasks_cpu = math.ceil(vcpu / (s.task_vcpu * a.cpu_utilisation))
    heap = s.task_memory_mib * a.daemon_heap_fraction
    jvm = heap + a.daemon_non_heap_mib
    per_task = int((s.task_memory_mib - a.supervisor_mib - jvm) // a.processor_process_mib)
    if per_task < 1:
        raise ValueError(
            f"a task of {s.task_memory_mib} MiB holds no {a.processor_process_mib} MiB record "
            f"processor beside the supervisor ({a.supervisor_mib} MiB) and the JVM ({jvm:g} MiB)"
        )
    tasks_mem = math.ceil(running / per_task)
    tasks = max(s.min_tasks, min(max(tasks_cpu, tasks_mem) + 1, running))
    cells["ecs_tasks"] = Cell(
        tasks,
        f"CPU: {_n(rate)} ÷ ({_n(m.processor_records_per_s_per_core)} records/s per core × "
        f"{efficiency:g}) = {vcpu:.2f} vCPU ÷ ({s.task_vcpu:g} vCPU × "
        f"{a.cpu_utilisation}) → {tasks_cpu}; memory: ({s.task_memory_mib} − "
        f"{a.supervisor_mib} supervisor − {jvm:g} JVM ({heap:g} heap + "
        f"{a.daemon_non_heap_mib}) MiB) ÷ {a.processor_process_mib} MiB = {per_task} shard "
        f"processes per task, {running} shards → {tasks_mem}; the larger + 1 (a lost task's "
        f"leases move to the others), at least {s.min_tasks}, at most {running} (a shard has "
        f"one worker) → {tasks}",
    )

    cells["load_s"] = load = load_seconds(rows_per_manifest, i)
    busy = manifests.value * load.value
    concurrency = max(lim.sqs_esm_min_concurrency, math.ceil(busy * a.concurrency_headroom))
    cells["lambda_concurrency"] = Cell(
        concurrency,
        f"{_n(manifests.value)} manifests/s × {load.value:.3f} s = {busy:.2f} busy × "
        f"{a.concurrency_headroom} headroom, at least {lim.sqs_esm_min_concurrency} "
        f"→ {concurrency}",
    )
    cells["warehouse_connections"] = Cell(
        concurrency + a.ops_connections,
        f"{concurrency} (one per concurrent loader) + {a.ops_connections} (reconcile, migrate, "
        f"status, repair, a person) = {concurrency + a.ops_connections}",
    )
    # The warehouse's share of a load: all of it but the S3 GETs.
    fixed = a.loader_manifest_rows + a.files_per_manifest * a.loader_file_rows
    rows = rate * a.rows_per_change
    work = manifests.value * fixed + rows
    busy_cores = work / m.warehouse_rows_per_s_per_core
    cores = busy_cores / a.cpu_utilisation
    cells["warehouse_vcpu"] = Cell(
        cores,
        f"({_n(manifests.value)} manifests/s × {_n(fixed)} rows' worth fixed + {_n(rows)} rows/s)"
        f" ÷ {_n(m.warehouse_rows_per_s_per_core)} rows/s per core ÷ {a.cpu_utilisation} = "
        f"{cores:.1f} vCPU",
    )
    safe_batch = max(1, math.floor(s.lambda_timeout_s / (2 * load.value)))
    cells["loader_batch_size_max"] = Cell(
        min(safe_batch, lim.sqs_batch_size_max_standard),
        f"a full batch loads one manifest after another within half the {s.lambda_timeout_s} s "
        f"timeout: {s.lambda_timeout_s} ÷ (2 × {load.value:.3f} s) = {safe_batch}",
    )
    cells["dms"] = dms_for(rate, shards.value, i)

    record = a.record_bytes
    per_shard = rate / shards.value
    polls = 1000 / s.kcl_idle_time_ms
    left = tasks - 1 if tasks > 1 else tasks  # the tasks left after one is lost
    lost = math.ceil(running / left)
    uses = [
        Use(
            "Kinesis write records/s per shard",
            per_shard / lim.kinesis_write_records_per_shard,
            f"{_n(per_shard)} of {_n(lim.kinesis_write_records_per_shard)}",
        ),
        Use(
            "Kinesis write bytes/s per shard",
            per_shard * record / lim.kinesis_write_bytes_per_shard,
            f"{per_shard * record / MIB:.2f} of 1 MiB/s",
        ),
        Use(
            "Kinesis read bytes/s per shard (one consumer)",
            per_shard * record / lim.kinesis_read_bytes_per_shard,
            f"{per_shard * record / MIB:.2f} of 2 MiB/s",
        ),
        Use(
            "Kinesis GetRecords calls per shard",
            polls / lim.kinesis_get_records_per_shard_per_s,
            f"{polls:g}/s (a call every {s.kcl_idle_time_ms} ms) of "
            f"{lim.kinesis_get_records_per_shard_per_s}/s",
            kind="setting",
        ),
        Use(
            "Kinesis on-demand: a new stream's write capacity",
            max(
                rate / lim.kinesis_on_demand_initial_records_per_s,
                rate * record / lim.kinesis_on_demand_initial_bytes_per_s,
            ),
            f"{_n(rate)} of {_n(lim.kinesis_on_demand_initial_records_per_s)} records/s",
            kind="ramp",
        ),
        Use(
            "Kinesis on-demand: a stream's maximum write",
            rate * record / lim.kinesis_on_demand_max_bytes_per_s,
            f"{rate * record / MIB:.1f} of {lim.kinesis_on_demand_max_bytes_per_s // MIB} MiB/s",
        ),
        Use(
            "Kinesis shards per account",
            shards.value / lim.kinesis_account_shards,
            f"{shards.value} of {_n(lim.kinesis_account_shards)}",
        ),
        Use(
            "ECS task memory after losing a task",
            lost / per_task,
            f"{lost} of {per_task} shard processes per task",
        ),
        Use(
            "ECS task CPU after losing a task",
            vcpu / (left * s.task_vcpu),
            f"{vcpu:.2f} of {left * s.task_vcpu:g} vCPU",
        ),
        Use(
            "Warehouse CPU (its size is an assumption)",
            busy_cores / a.warehouse_vcpu,
            f"{busy_cores:.1f} of {a.warehouse_vcpu} vCPU",
        ),
        Use(
            "Lambda account concurrency",
            concurrency / (lim.lambda_account_concurrency - lim.lambda_unreserved_minimum),
            f"{concurrency} of {lim.lambda_account_concurrency} − "
            f"{lim.lambda_unreserved_minimum} unreserved",
        ),
        Use(
            "SQS event source maximum concurrency",
            concurrency / lim.sqs_esm_max_concurrency,
            f"{concurrency} of {_n(lim.sqs_esm_max_concurrency)}",
        ),
    ]
    return Sizing(rate, cells, uses)


# --- the monthly bill ------------------------------------------------------------------------


@dataclass(frozen=True)
class CostLine:
    item: str
    how: str
    usd: float
    asked: bool = True  # one of the items; False: also on the bill


def _month(per_s: float) -> float:
    return per_s * SECONDS_PER_MONTH


def monthly_cost(rate: int, i: Inputs) -> list[CostLine]:
    s, a, p = i.settings, i.assumptions, i.prices
    sz = size(rate, i)
    running = stream_shards(sz["shards"], i)
    manifests = sz["manifests_per_s"]
    hours = SECONDS_PER_MONTH / 3600
    lines: list[CostLine] = []
    kib = math.ceil(a.record_bytes / 1024)
    if s.stream_mode == "ON_DEMAND":
        gib = _month(rate) * kib / MIB  # KiB → GiB
        stored = rate * kib * max(0, s.retention_hours - 24) * 3600 / MIB
        lines += [
            CostLine(
                "Kinesis on-demand: stream-hours",
                f"{hours:g} h × ${p.kinesis_on_demand_stream_hour}",
                hours * p.kinesis_on_demand_stream_hour,
            ),
            CostLine(
                "Kinesis on-demand: data in",
                f"{_n(rate)}/s × {kib} KiB (rounded up) × a month = {_n(gib)} GiB × "
                f"${p.kinesis_on_demand_ingest_gb}",
                gib * p.kinesis_on_demand_ingest_gb,
            ),
            CostLine(
                "Kinesis on-demand: data out (one consumer)",
                f"{_n(gib)} GiB × ${p.kinesis_on_demand_retrieval_gb}",
                gib * p.kinesis_on_demand_retrieval_gb,
            ),
            CostLine(
                f"Kinesis on-demand: retention {s.retention_hours} h",
                f"{_n(stored)} GiB held past 24 h × "
                f"${p.kinesis_on_demand_extended_retention_gb_month}/GB-month",
                stored * p.kinesis_on_demand_extended_retention_gb_month,
            ),
        ]
    else:
        units = _month(rate) * math.ceil(a.record_bytes / (25 * 1024)) / 1e6
        lines += [
            CostLine(
                "Kinesis provisioned: shard-hours",
                f"{running} shards × {hours:g} h × ${p.kinesis_shard_hour}",
                running * hours * p.kinesis_shard_hour,
            ),
            CostLine(
                "Kinesis provisioned: PUT payload units",
                f"{_n(units)} million (one 25 KiB unit per record) × "
                f"${p.kinesis_put_payload_units_million}",
                units * p.kinesis_put_payload_units_million,
            ),
        ]
        if s.retention_hours > 24:
            lines.append(
                CostLine(
                    f"Kinesis provisioned: retention {s.retention_hours} h",
                    f"{running} shards × {hours:g} h × ${p.kinesis_extended_retention_shard_hour}",
                    running * hours * p.kinesis_extended_retention_shard_hour,
                )
            )
    objects = manifests * (a.files_per_manifest + 1)
    lines += [
        CostLine(
            "S3 PUTs (parquet files + manifest)",
            f"{_n(manifests)} manifests/s × {a.files_per_manifest + 1} objects = "
            f"{_n(_month(objects) / 1e6)} million × ${p.s3_put_1000}/1,000",
            _month(objects) / 1000 * p.s3_put_1000,
        ),
        CostLine(
            "S3 GETs (the loader)",
            f"{_n(_month(objects) / 1e6)} million × ${p.s3_get_1000}/1,000",
            _month(objects) / 1000 * p.s3_get_1000,
        ),
    ]
    per_invocation = (
        1.0
        if s.loader_batching_window_s == 0
        else min(s.loader_batch_size, max(1.0, manifests * s.loader_batching_window_s))
    )
    invocations = manifests / per_invocation
    sqs = manifests + 2 * invocations + a.idle_receives_per_s
    lines.append(
        CostLine(
            "SQS requests",
            f"({_n(manifests)} sends + 2 × {_n(invocations)} receives and deletes + "
            f"{a.idle_receives_per_s} idle polls)/s = {_n(_month(sqs) / 1e6)} million × "
            f"${p.sqs_requests_million}/million",
            _month(sqs) / 1e6 * p.sqs_requests_million,
        )
    )
    gb_s = _month(manifests) * sz["load_s"] * s.lambda_memory_mib / 1024
    lines += [
        CostLine(
            "Lambda invocations",
            f"{_n(invocations)}/s ({per_invocation:g} manifest each) = "
            f"{_n(_month(invocations) / 1e6)} million × ${p.lambda_requests_million}/million",
            _month(invocations) / 1e6 * p.lambda_requests_million,
        ),
        CostLine(
            "Lambda duration",
            f"{_n(manifests)} manifests/s × {sz['load_s']:.3f} s × "
            f"{s.lambda_memory_mib / 1024:g} GB = {_n(gb_s / 1e6)} million GB-s × "
            f"${p.lambda_gb_second}",
            gb_s * p.lambda_gb_second,
        ),
    ]
    tasks = sz["ecs_tasks"]
    task_hour = s.task_vcpu * p.fargate_vcpu_hour + s.task_memory_mib / 1024 * p.fargate_gb_hour
    lines.append(
        CostLine(
            "ECS Fargate (the KCL workers)",
            f"{tasks} tasks × ({s.task_vcpu:g} vCPU × ${p.fargate_vcpu_hour} + "
            f"{s.task_memory_mib / 1024:g} GB × ${p.fargate_gb_hour}) × {hours:g} h",
            tasks * task_hour * hours,
        )
    )
    dms = sz["dms"].split(",")[0]
    factor = p.dms_multi_az_factor if s.dms_multi_az else 1.0
    dms_hour = p.dms_instance_hour.get(dms, math.nan)
    lines.append(
        CostLine(
            f"DMS instance ({dms}{', Multi-AZ' if s.dms_multi_az else ''})",
            f"${dms_hour} × {factor:g} × {hours:g} h",
            dms_hour * factor * hours,
        )
    )
    metrics = a.metric_names * (running + 1)
    lines += [
        CostLine(
            "CloudWatch PutMetricData (a call per flush)",
            f"{_n(_month(manifests) / 1e6)} million × ${p.cloudwatch_put_metric_data_1000}/1,000"
            f" + {metrics} metrics × ${p.cloudwatch_metric_month}",
            _month(manifests) / 1000 * p.cloudwatch_put_metric_data_1000
            + metrics * p.cloudwatch_metric_month,
            asked=False,
        ),
        CostLine(
            "DynamoDB: KCL checkpoints (a write per flush)",
            f"{_n(_month(manifests) / 1e6)} million × "
            f"${p.dynamodb_on_demand_writes_million}/million",
            _month(manifests) / 1e6 * p.dynamodb_on_demand_writes_million,
            asked=False,
        ),
    ]
    return lines


# --- markdown ----------------------------------------------------------------------------------


def _pct(x: float) -> str:
    return f"{x:.0%}" if x < 10 else f"{x:,.0f}×"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return out


KIND_NOTE = {
    "rate": "",
    "setting": " (set by kcl_idle_time_ms, whatever the rate)",
    "ramp": " (until the stream has scaled up)",
}

SUMMARY_ROWS = (
    ("Kinesis shards", "shards"),
    ("ECS tasks (KCL workers)", "ecs_tasks"),
    ("Lambda concurrency (`loader_concurrency`)", "lambda_concurrency"),
    ("warehouse connections", "warehouse_connections"),
    ("warehouse vCPU busy loading", "warehouse_vcpu"),
    ("DMS instance", "dms"),
)


def render(i: Inputs, rates: Sequence[int] = RATES) -> str:
    sizings = [size(r, i) for r in rates]
    heads = [f"{_n(r)} changes/s" for r in rates]
    out = [i.measured.basis, ""] if i.measured.basis else []
    out += ["### The table", ""]
    rows = [[label, *[_fmt(sz[key]) for sz in sizings]] for label, key in SUMMARY_ROWS]
    rows[0] = [
        rows[0][0],
        *[
            f"{sz['shards']}"
            + (f" ({sz['stream_shards']} on demand)" if sz["stream_shards"] != sz["shards"] else "")
            for sz in sizings
        ],
    ]
    rows.append(
        [
            "bites first",
            *[
                "; ".join(f"{u.limit} ({_pct(u.used)})" for u in sz.bites_first[:2])
                for sz in sizings
            ],
        ]
    )
    out += _table(["", *heads], rows)
    for sz in sizings:
        out += ["", f"### {_n(sz.rate)} changes/s: the arithmetic", ""]
        out += _table(
            ["quantity", "value", "arithmetic"],
            [[k.replace("_", " "), _fmt(c.value), c.how] for k, c in sz.cells.items()],
        )
        out += ["", "Limits at this rate:", ""]
        out += _table(
            ["limit", "used", "of"],
            [[u.limit + KIND_NOTE[u.kind], _pct(u.used), u.how] for u in sz.uses],
        )
    out += ["", f"### Cost per month at {_n(rates[0])} changes/s", ""]
    out += _cost_tables(rates[0], i)
    out += ["", "### Inputs", ""]
    out += _inputs(i)
    return "\n".join(out) + "\n"


def _fmt(v: Any) -> str:  # noqa: ANN401
    if isinstance(v, bool) or not isinstance(v, int | float):
        return str(v)
    return _n(v)


def _cost_tables(rate: int, i: Inputs) -> list[str]:
    out: list[str] = []
    variants = [
        ("default settings (`ON_DEMAND`, batch age 1 s)", i),
        (
            "`kinesis_stream_mode = PROVISIONED`",
            dataclasses.replace(
                i, settings=dataclasses.replace(i.settings, stream_mode="PROVISIONED")
            ),
        ),
        (
            "`PROVISIONED` and `max_batch_age_s = 5`",
            dataclasses.replace(
                i,
                settings=dataclasses.replace(
                    i.settings, stream_mode="PROVISIONED", max_batch_age_s=5.0
                ),
            ),
        ),
    ]
    lines = monthly_cost(rate, i)
    out += _table(
        ["item", "arithmetic", "per month"],
        [[c.item + ("" if c.asked else " (also billed)"), c.how, f"${c.usd:,.2f}"] for c in lines],
    )
    out += ["", price_check_summary(i.prices), ""]
    totals = []
    for label, variant in variants:
        cost = monthly_cost(rate, variant)
        asked = sum(c.usd for c in cost if c.asked)
        total = sum(c.usd for c in cost)
        totals.append([label, f"${asked:,.0f}", f"${total:,.0f}"])
    out += _table(
        [
            f"at {_n(rate)} changes/s",
            "Kinesis, S3, SQS, Lambda, Fargate, DMS",
            "and CloudWatch, DynamoDB",
        ],
        totals,
    )
    return out


def _inputs(i: Inputs) -> list[str]:
    m = i.measured
    out = ["Measured (this project):", ""]
    out += _table(
        ["figure", "value", "source"],
        [
            [k, _n(getattr(m, k)), m.sources.get(k, "")]
            for k in (
                "processor_records_per_s_per_core",
                "loader_rows_per_s_per_connection",
                "warehouse_rows_per_s_per_core",
                "capture_changes_per_s",
            )
        ],
    )
    out += ["", "Settings (the code's and terraform's defaults):", ""]
    out += _table(
        ["setting", "value"],
        [[f.name, _fmt(getattr(i.settings, f.name))] for f in dataclasses.fields(i.settings)],
    )
    out += ["", "Assumptions (named in `bench/sizing.py` with their reasons):", ""]
    out += _table(
        ["assumption", "value"],
        [
            [f.name, _fmt(getattr(i.assumptions, f.name))]
            for f in dataclasses.fields(i.assumptions)
            if f.name != "dms_class_by_rate"
        ],
    )
    out += ["", "AWS limits:", ""]
    out += _table(
        ["limit", "value", "source"],
        [
            [f.name, _n(getattr(i.limits, f.name)), LIMIT_SOURCES.get(f.name, "")]
            for f in dataclasses.fields(i.limits)
        ],
    )
    p = i.prices
    out += ["", f"Prices ({p.region}, as written on {p.as_of}):", ""]
    rows = []
    for f in dataclasses.fields(p):
        if f.name in ("region", "as_of"):
            continue
        value = getattr(p, f.name)
        page = PRICE_SOURCES.get(f.name.split("_")[0], "")
        checked = PRICE_CHECKS.get(f.name, UNCONFIRMED)
        if isinstance(value, Mapping):
            rows += [[f"{f.name}[{k}]", f"${v:g}", page, checked] for k, v in value.items()]
        elif f.name.endswith("_factor"):
            rows.append([f.name, f"×{value:g}", page, UNCONFIRMED])
        else:
            rows.append([f.name, f"${value:g}", page, checked])
    out += _table(["price", "USD", "page", "checked against"], rows)
    return out


# --- overrides and the command line --------------------------------------------------------


def with_overrides(i: Inputs, pairs: Sequence[str]) -> Inputs:
    """``name=value`` (or ``name[key]=value`` for a mapping) applied to whichever part has it."""
    parts = {"measured": i.measured, "limits": i.limits, "settings": i.settings}
    parts |= {"assumptions": i.assumptions, "prices": i.prices}
    for pair in pairs:
        match = re.fullmatch(r"(\w+)(?:\[([^\]]+)\])?=(.+)", pair)
        if not match:
            raise ValueError(f"not name=value: {pair!r}")
        name, key, raw = match.groups()
        owner = next(
            (k for k, v in parts.items() if name in {f.name for f in dataclasses.fields(v)}), None
        )
        if owner is None:
            raise ValueError(f"no input named {name!r}")
        current = getattr(parts[owner], name)
        if key is not None:
            value: Any = {**current, key: float(raw)}
        elif isinstance(current, bool):
            value = raw.lower() in ("1", "true", "yes")
        elif isinstance(current, int | float):
            value = type(current)(float(raw)) if isinstance(current, int) else float(raw)
        else:
            value = raw
        parts[owner] = dataclasses.replace(parts[owner], **{name: value})
    return Inputs(**parts)  # type: ignore[arg-type]


def write_into(page: Path, generated: str) -> None:
    """Replace what lies between the page's sizing markers."""
    text = page.read_text()
    if BEGIN not in text or END not in text:
        raise ValueError(f"{page} has no {BEGIN} … {END} block")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    page.write_text(f"{head}{BEGIN}\n\n{generated}\n{END}{tail}")


def generate(figures: Sequence[Mapping[str, Any]], overrides: Sequence[str] = ()) -> str:
    """The page's generated part for these figures."""
    # The measured figures are read with the assumptions they are counted in.
    first = with_overrides(Inputs(load_measured(figures)), overrides)
    measured = load_measured(figures, first.assumptions)
    return render(with_overrides(dataclasses.replace(first, measured=measured), overrides))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sizing", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--snapshot", type=Path, default=SNAPSHOT_PATH, help="the committed benchmark figures"
    )
    parser.add_argument(
        "--results", type=Path, help="this machine's bench/results.json instead of the snapshot"
    )
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE"
    )
    parser.add_argument("--write", type=Path, help="replace the generated block of this page")
    args = parser.parse_args(argv)
    try:
        figures = read_results(args.results) if args.results else figures_from(args.snapshot)
        generated = generate(figures, args.overrides)
        if args.write:
            write_into(args.write, generated)
        else:
            sys.stdout.write(generated)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

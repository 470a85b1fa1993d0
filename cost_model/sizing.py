"""The sizing arithmetic: Kinesis shards, ECS tasks, Lambda concurrency, warehouse
connections and the DMS instance for a change rate, each cell with its arithmetic in words,
and how much of each AWS limit the rate uses."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from cost_model.inputs import DMS_CLASSES, MIB, Assumptions, Inputs, Settings


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


def number(x: float) -> str:
    """A number as the page writes it: thousands separated, three significant digits below 100."""
    return f"{x:,.0f}" if abs(x) >= 100 or x == int(x) else f"{x:,.3g}"


def shards_for(rate: float, i: Inputs) -> Cell:
    lim, a = i.limits, i.assumptions
    by_records = rate / lim.kinesis_write_records_per_shard
    by_bytes = rate * a.record_bytes / lim.kinesis_write_bytes_per_shard
    shards = max(1, math.ceil(max(by_records, by_bytes) / a.shard_utilisation))
    return Cell(
        shards,
        f"max({number(rate)} ÷ {number(lim.kinesis_write_records_per_shard)} records/s = "
        f"{by_records:.2f}, "
        f"{number(rate)} × {a.record_bytes} B ÷ 1 MiB/s = {by_bytes:.2f}) ÷ {a.shard_utilisation} "
        f"utilisation → {shards}",
    )


def stream_shards(shards: int, i: Inputs) -> int:
    """Shards the stream runs: on demand, at least what a new on-demand stream starts with."""
    if i.settings.stream_mode == "ON_DEMAND":
        return max(shards, i.limits.kinesis_on_demand_initial_shards)
    return shards


def manifest_rate(rate: float, shards: int, s: Settings, a: Assumptions) -> float:
    """A manifest per shard per flush: every max_batch_age_s, or sooner when max_batch_rows fill."""
    rows_per_shard = rate * a.rows_per_change / shards
    return shards * max(1 / s.max_batch_age_s, rows_per_shard / s.max_batch_rows)


def manifests_per_s(rate: float, shards: int, i: Inputs) -> Cell:
    """The manifests a second at ``i``'s settings (``_manifests_per_s``), with the arithmetic."""
    s, a = i.settings, i.assumptions
    rows_per_shard = rate * a.rows_per_change / shards
    value = manifest_rate(rate, shards, s, a)
    return Cell(
        value,
        f"{shards} shards × max(1 ÷ {s.max_batch_age_s} s, {number(rows_per_shard)} rows/s ÷ "
        f"{number(s.max_batch_rows)} rows) = {number(value)}/s",
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
        f"{number(rows_per_manifest)} rows) ÷ {number(m.loader_rows_per_s_per_connection)} "
        "rows/s = "
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
        f"{name} ({vcpu} vCPU, {mem:g} GiB) for up to {number(rate)} changes/s "
        "(this page's choice: AWS publishes no records/s per class); "
        "ParallelApplyThreads = min(32, max(4, "
        f"{shards} shards)) = {threads}, ParallelApplyBufferSize "
        f"{number(lim.dms_parallel_apply_buffer_max)}{split}",
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
        f"{number(rate)} changes/s × {a.rows_per_change} rows ÷ {number(manifests.value)} "
        f"manifests/s = {number(rows_per_manifest)}",
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
        f"CPU: {number(rate)} ÷ ({number(m.processor_records_per_s_per_core)} records/s per core × "
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
        f"{number(manifests.value)} manifests/s × {load.value:.3f} s = {busy:.2f} busy × "
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
        f"({number(manifests.value)} manifests/s × {number(fixed)} rows' worth fixed + "
        f"{number(rows)} rows/s)"
        f" ÷ {number(m.warehouse_rows_per_s_per_core)} rows/s per core ÷ {a.cpu_utilisation} = "
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
            f"{number(per_shard)} of {number(lim.kinesis_write_records_per_shard)}",
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
            f"{number(rate)} of {number(lim.kinesis_on_demand_initial_records_per_s)} records/s",
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
            f"{shards.value} of {number(lim.kinesis_account_shards)}",
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
            f"{concurrency} of {number(lim.sqs_esm_max_concurrency)}",
        ),
    ]
    return Sizing(rate, cells, uses)

"""The cost model's inputs, each named: this project's measured figures (``Measured``, read
from the benchmark figures by cost_model/measured.py), AWS's published limits, the pipeline's
own settings, the assumptions with their reasons, and AWS's list prices; ``with_overrides``
changes any of them by name (``--set name=value``)."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stream_processor.config import ProcessorConfig

MIB = 1024 * 1024

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
    terraform/variables.tf's (tests/cost_model/test_inputs.py holds them equal)."""

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
    # tests/cost_model/test_inputs.py measures it on the DMS-shaped update record of the test suite.
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

"""The monthly bill at AWS's list prices (cost_model/inputs.py's ``Prices``) for a change rate,
a line per item with its arithmetic."""

from __future__ import annotations

import math
from dataclasses import dataclass

from cost_model.inputs import MIB, Inputs
from cost_model.sizing import number, size, stream_shards

SECONDS_PER_MONTH = 730 * 3600  # AWS's pricing pages count 730 hours in a month


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
                f"{number(rate)}/s × {kib} KiB (rounded up) × a month = {number(gib)} GiB × "
                f"${p.kinesis_on_demand_ingest_gb}",
                gib * p.kinesis_on_demand_ingest_gb,
            ),
            CostLine(
                "Kinesis on-demand: data out (one consumer)",
                f"{number(gib)} GiB × ${p.kinesis_on_demand_retrieval_gb}",
                gib * p.kinesis_on_demand_retrieval_gb,
            ),
            CostLine(
                f"Kinesis on-demand: retention {s.retention_hours} h",
                f"{number(stored)} GiB held past 24 h × "
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
                f"{number(units)} million (one 25 KiB unit per record) × "
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
            f"{number(manifests)} manifests/s × {a.files_per_manifest + 1} objects = "
            f"{number(_month(objects) / 1e6)} million × ${p.s3_put_1000}/1,000",
            _month(objects) / 1000 * p.s3_put_1000,
        ),
        CostLine(
            "S3 GETs (the loader)",
            f"{number(_month(objects) / 1e6)} million × ${p.s3_get_1000}/1,000",
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
            f"({number(manifests)} sends + 2 × {number(invocations)} receives and deletes + "
            f"{a.idle_receives_per_s} idle polls)/s = {number(_month(sqs) / 1e6)} million × "
            f"${p.sqs_requests_million}/million",
            _month(sqs) / 1e6 * p.sqs_requests_million,
        )
    )
    gb_s = _month(manifests) * sz["load_s"] * s.lambda_memory_mib / 1024
    lines += [
        CostLine(
            "Lambda invocations",
            f"{number(invocations)}/s ({per_invocation:g} manifest each) = "
            f"{number(_month(invocations) / 1e6)} million × ${p.lambda_requests_million}/million",
            _month(invocations) / 1e6 * p.lambda_requests_million,
        ),
        CostLine(
            "Lambda duration",
            f"{number(manifests)} manifests/s × {sz['load_s']:.3f} s × "
            f"{s.lambda_memory_mib / 1024:g} GB = {number(gb_s / 1e6)} million GB-s × "
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
            f"{number(_month(manifests) / 1e6)} million × "
            f"${p.cloudwatch_put_metric_data_1000}/1,000"
            f" + {metrics} metrics × ${p.cloudwatch_metric_month}",
            _month(manifests) / 1000 * p.cloudwatch_put_metric_data_1000
            + metrics * p.cloudwatch_metric_month,
            asked=False,
        ),
        CostLine(
            "DynamoDB: KCL checkpoints (a write per flush)",
            f"{number(_month(manifests) / 1e6)} million × "
            f"${p.dynamodb_on_demand_writes_million}/million",
            _month(manifests) / 1e6 * p.dynamodb_on_demand_writes_million,
            asked=False,
        ),
    ]
    return lines

"""Health of a DMS replication task in AWS: DescribeReplicationTasks,
DescribeTableStatistics and the task's AWS/DMS CloudWatch metrics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from cdc import dms_task
from cdc.monitor.model import TableHealth, TaskHealth

METRICS = ("CDCLatencySource", "CDCLatencyTarget", "CDCIncomingChanges", "CDCThroughputRowsSource")


class MonitorError(RuntimeError):
    """The task cannot be read; the message says why."""


def _latest(
    cloudwatch: Any,  # noqa: ANN401
    metric: str,
    dimensions: list[dict[str, str]],
    now: datetime,
    namespace: str = "AWS/DMS",
) -> float | None:
    points = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName=metric,
        Dimensions=dimensions,
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Average"],
    )["Datapoints"]
    if not points:
        return None
    return float(max(points, key=lambda p: p["Timestamp"])["Average"])


# The target endpoint settings Contract A depends on (cdc.dms_task.kinesis_settings has them
# all): one JSON record per line, transaction details for versions, per-row partitioning for
# per-row order, and NULLs sent explicitly (IncludeNullAndEmpty; DMS's default is to leave a
# NULL column out, "KinesisSettings", AWS DMS API Reference): only then does a column missing
# from an insert, update or load record mean the column is gone from the source (schema
# drift, contracts.schema_drift) and not a NULL, which the processor could not tell apart.
REQUIRED_TARGET_SETTINGS = (
    "MessageFormat",
    "IncludeTransactionDetails",
    "IncludePartitionValue",
    "PartitionIncludeSchemaTable",
    "IncludeNullAndEmpty",
)


def settings_problems(live: dict[str, Any]) -> list[str]:
    """What in the live target endpoint's KinesisSettings breaks Contract A, and the fix."""
    wanted = dms_task.kinesis_settings()
    return [
        f"target endpoint: {name} is {live.get(name)!r}; Contract A needs {wanted[name]!r} "
        f"(set it in the endpoint's KinesisSettings, or apply terraform)"
        for name in REQUIRED_TARGET_SETTINGS
        if live.get(name) != wanted[name]
    ]


def partitioning_problems(mappings: dict[str, Any], settings: dict[str, Any]) -> list[str]:
    """The tables whose CDC records the task's table mappings (and task settings) leave in
    DMS's schema-table partitioning: every change of such a table goes to one shard, so one
    shard's write limit and one KCL worker cap the table, whatever the stream's size
    (``cdc.dms_task.cdc_partitioning``; docs/contracts.md)."""
    by_table = dms_task.cdc_partitioning(mappings, settings)
    unkeyed = sorted(t for t, kind in by_table.items() if kind != dms_task.PARTITION_KEY_TYPE)
    if not unkeyed:
        return []
    return [
        f"table mappings: CDC of {', '.join(unkeyed)} is partitioned by schema-table, not by "
        "primary key: each table's changes land on one shard (1,000 records/s, one worker), "
        "so the stream's sizing does not hold (add the object-mapping rules 'cdc dms render' "
        "writes, or apply terraform)"
    ]


def _task_documents(task: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The task's table mappings and settings, or None when the task did not return them or
    returned something that is not JSON: the health read then notes that the partitioning was
    not checked, rather than failing as a whole."""
    if not task.get("TableMappings"):
        return None
    try:
        mappings = json.loads(task["TableMappings"])
        settings = json.loads(task.get("ReplicationTaskSettings") or "{}")
    except json.JSONDecodeError:
        return None
    if not isinstance(mappings, dict) or not isinstance(settings, dict):
        return None
    return mappings, settings


def read(
    dms: Any,  # noqa: ANN401 - boto3 clients
    cloudwatch: Any,  # noqa: ANN401
    task_id: str,
    *,
    now: datetime | None = None,
    source_instance: str | None = None,
) -> TaskHealth:
    """The task's health; with ``source_instance`` (ToteSys's RDS DB instance identifier),
    also the WAL its oldest replication slot holds back (AWS/RDS OldestReplicationSlotLag)."""
    now = now or datetime.now(UTC)
    try:
        tasks = dms.describe_replication_tasks(
            # with its settings: the table mappings say how CDC is partitioned
            Filters=[{"Name": "replication-task-id", "Values": [task_id]}],
            WithoutSettings=False,
        )["ReplicationTasks"]
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code == "ResourceNotFoundFault":
            tasks = []
        else:
            raise MonitorError(f"DescribeReplicationTasks failed: {code}") from None
    if not tasks:
        raise MonitorError(f"no DMS replication task '{task_id}'")
    task = tasks[0]
    stats = task.get("ReplicationTaskStats", {})
    notes: list[str] = []
    tables: list[TableHealth] = []
    try:
        for t in dms.describe_table_statistics(ReplicationTaskArn=task["ReplicationTaskArn"])[
            "TableStatistics"
        ]:
            tables.append(
                TableHealth(
                    t["TableName"],
                    t.get("TableState", ""),
                    t.get("Inserts", 0),
                    t.get("Updates", 0),
                    t.get("Deletes", 0),
                    t.get("Ddls", 0),
                    t.get("FullLoadRows", 0),
                )
            )
    except ClientError as exc:
        notes.append(f"table statistics unavailable: {exc.response['Error']['Code']}")
    instance_arn = task["ReplicationInstanceArn"]
    instances = dms.describe_replication_instances(
        Filters=[{"Name": "replication-instance-arn", "Values": [instance_arn]}]
    )["ReplicationInstances"]
    instance_id = (
        instances[0]["ReplicationInstanceIdentifier"]
        if instances
        else instance_arn.rsplit(":", 1)[-1]
    )
    # CloudWatch names a task by the last part of its ARN (its resource id).
    dimensions = [
        {"Name": "ReplicationInstanceIdentifier", "Value": instance_id},
        {
            "Name": "ReplicationTaskIdentifier",
            "Value": task["ReplicationTaskArn"].rsplit(":", 1)[-1],
        },
    ]
    metrics = {m: _latest(cloudwatch, m, dimensions, now) for m in METRICS}
    try:
        endpoints = dms.describe_endpoints(
            Filters=[{"Name": "endpoint-arn", "Values": [task["TargetEndpointArn"]]}]
        )["Endpoints"]
    except ClientError as exc:
        endpoints = []
        notes.append(f"target endpoint unavailable: {exc.response['Error']['Code']}")
    endpoint_problems = (
        settings_problems(endpoints[0].get("KinesisSettings", {})) if endpoints else []
    )
    documents = _task_documents(task)
    if documents is None:
        notes.append("table mappings unavailable: CDC partitioning not checked")
    else:
        endpoint_problems += partitioning_problems(*documents)
    slot_lag = None
    if source_instance:
        slot_lag = _latest(
            cloudwatch,
            "OldestReplicationSlotLag",
            [{"Name": "DBInstanceIdentifier", "Value": source_instance}],
            now,
            namespace="AWS/RDS",
        )
        if slot_lag is None:
            notes.append(f"no OldestReplicationSlotLag for RDS instance {source_instance}")
    return TaskHealth(
        engine="aws-dms",
        task_id=task_id,
        status=task["Status"],
        checked_at=now.isoformat(),
        stop_reason=task.get("StopReason"),
        last_failure_message=task.get("LastFailureMessage"),
        full_load_progress_percent=stats.get("FullLoadProgressPercent"),
        tables_loaded=stats.get("TablesLoaded", 0),
        tables_loading=stats.get("TablesLoading", 0),
        tables_queued=stats.get("TablesQueued", 0),
        tables_errored=stats.get("TablesErrored", 0),
        cdc_latency_source_s=metrics["CDCLatencySource"],
        cdc_latency_target_s=metrics["CDCLatencyTarget"],
        cdc_incoming_changes=metrics["CDCIncomingChanges"],
        throughput_records_per_s=metrics["CDCThroughputRowsSource"],
        retained_wal_bytes=None if slot_lag is None else int(slot_lag),
        settings_problems=endpoint_problems,
        tables=tables,
        notes=notes,
    )

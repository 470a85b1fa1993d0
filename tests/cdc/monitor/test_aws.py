"""The DMS task's health (``cdc.monitor.aws``): the target settings and table mappings
Contract A needs, and a task read from the DMS API and its CloudWatch metrics (moto), also
through ``cdc monitor``."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from cdc import dms_task
from cdc.monitor import aws as aws_monitor
from cdc.monitor.model import Thresholds, problems
from tests.cdc.monitor.fixtures import health, monitor
from tests.fixtures import create_dms_task, unique_name


def test_target_settings_that_break_contract_a_are_named_with_the_fix():
    assert aws_monitor.settings_problems(dms_task.kinesis_settings()) == []
    wrong = {**dms_task.kinesis_settings(), "IncludeTransactionDetails": False}
    wrong.pop("MessageFormat")
    assert aws_monitor.settings_problems(wrong) == [
        "target endpoint: MessageFormat is None; Contract A needs 'json-unformatted' "
        "(set it in the endpoint's KinesisSettings, or apply terraform)",
        "target endpoint: IncludeTransactionDetails is False; Contract A needs True "
        "(set it in the endpoint's KinesisSettings, or apply terraform)",
    ]
    # without NULLs sent explicitly, a missing column could be a NULL or a column gone
    assert aws_monitor.settings_problems(
        {**dms_task.kinesis_settings(), "IncludeNullAndEmpty": False}
    ) == [
        "target endpoint: IncludeNullAndEmpty is False; Contract A needs True "
        "(set it in the endpoint's KinesisSettings, or apply terraform)"
    ]
    assert problems(health(settings_problems=["x"]), Thresholds()) == ["x"]


def test_table_mappings_that_leave_cdc_in_schema_table_partitioning_are_named():
    settings = dms_task.task_settings()
    assert aws_monitor.partitioning_problems(dms_task.table_mappings(), settings) == []
    selections = [r for r in dms_task.table_mappings()["rules"] if r["rule-type"] == "selection"]
    [problem] = aws_monitor.partitioning_problems({"rules": selections}, settings)
    assert problem.startswith("table mappings: CDC of public.address, public.counterparty, ")
    assert "partitioned by schema-table, not by primary key" in problem
    assert "'cdc dms render'" in problem


@pytest.mark.stack
def test_a_dms_task_is_read_from_the_dms_api_and_its_cloudwatch_metrics(stack_cfg, aws_client):
    dms, cloudwatch = aws_client("dms"), aws_client("cloudwatch")
    name = unique_name("totesys-cdc")
    task = create_dms_task(dms, name)
    dms.start_replication_task(
        ReplicationTaskArn=task["ReplicationTaskArn"], StartReplicationTaskType="start-replication"
    )
    now = datetime.now(UTC)
    dimensions = [
        {"Name": "ReplicationInstanceIdentifier", "Value": name},
        {
            "Name": "ReplicationTaskIdentifier",
            "Value": task["ReplicationTaskArn"].rsplit(":", 1)[-1],
        },
    ]
    for metric, value in (
        ("CDCLatencySource", 4.0),
        ("CDCLatencyTarget", 45.0),
        ("CDCIncomingChanges", 12.0),
    ):
        cloudwatch.put_metric_data(
            Namespace="AWS/DMS",
            MetricData=[
                {
                    "MetricName": metric,
                    "Dimensions": dimensions,
                    "Value": value,
                    "Timestamp": now - timedelta(seconds=30),
                }
            ],
        )

    cloudwatch.put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[
            {
                "MetricName": "OldestReplicationSlotLag",
                "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": f"{name}-db"}],
                "Value": 5 * 1024 * 1024 * 1024,
                "Timestamp": now - timedelta(seconds=30),
            }
        ],
    )
    with_slot = aws_monitor.read(dms, cloudwatch, name, source_instance=f"{name}-db")
    assert with_slot.retained_wal_bytes == 5 * 1024 * 1024 * 1024
    assert problems(with_slot, Thresholds(60, max_retained_wal_mb=1024))[0].startswith(
        "the replication slot holds back 5,120 MB"
    )

    health = aws_monitor.read(dms, cloudwatch, name)
    assert health.status == "running" and health.engine == "aws-dms"
    assert health.retained_wal_bytes is None and health.settings_problems == []
    assert (
        health.cdc_latency_source_s,
        health.cdc_latency_target_s,
        health.cdc_incoming_changes,
    ) == (4.0, 45.0, 12.0)
    assert problems(health, Thresholds(60)) == []
    assert problems(health, Thresholds(30)) == ["CDC latency (target) 45.0s is above 30s"]

    env = {**os.environ, **stack_cfg.aws_env()}
    result = monitor(
        env, "--source", "aws", "--task-id", name, "--json", "--check", "--max-latency", "30"
    )
    assert result.returncode == 1 and json.loads(result.stdout)["problems"] == [
        "CDC latency (target) 45.0s is above 30s"
    ]
    dms.stop_replication_task(ReplicationTaskArn=task["ReplicationTaskArn"])
    assert problems(aws_monitor.read(dms, cloudwatch, name), Thresholds(60)) == ["task is stopped"]
    loose = dms.create_endpoint(  # a target endpoint set up by hand, without transaction details
        EndpointIdentifier=f"{name}-loose",
        EndpointType="target",
        EngineName="kinesis",
        KinesisSettings={
            "MessageFormat": "json-unformatted",
            "IncludePartitionValue": True,
            "PartitionIncludeSchemaTable": True,
            "StreamArn": "arn:aws:kinesis:eu-west-2:123456789012:stream/s",
            "ServiceAccessRoleArn": "arn:aws:iam::123456789012:role/dms",
        },
    )["Endpoint"]["EndpointArn"]
    dms.create_replication_task(
        ReplicationTaskIdentifier=f"{name}-loose",
        SourceEndpointArn=task["SourceEndpointArn"],
        TargetEndpointArn=loose,
        ReplicationInstanceArn=task["ReplicationInstanceArn"],
        MigrationType="full-load-and-cdc",
        TableMappings=json.dumps(dms_task.table_mappings()),
    )
    details, nulls = aws_monitor.read(dms, cloudwatch, f"{name}-loose").settings_problems
    assert details.startswith("target endpoint: IncludeTransactionDetails is None")
    assert nulls.startswith("target endpoint: IncludeNullAndEmpty is None")
    # A task made without the object-mapping rules: DMS partitions its CDC by schema-table.
    selections = [r for r in dms_task.table_mappings()["rules"] if r["rule-type"] == "selection"]
    dms.create_replication_task(
        ReplicationTaskIdentifier=f"{name}-by-table",
        SourceEndpointArn=task["SourceEndpointArn"],
        TargetEndpointArn=task["TargetEndpointArn"],
        ReplicationInstanceArn=task["ReplicationInstanceArn"],
        MigrationType="full-load-and-cdc",
        TableMappings=json.dumps({"rules": selections}),
        ReplicationTaskSettings=json.dumps(dms_task.task_settings()),
    )
    [partitioning] = aws_monitor.read(dms, cloudwatch, f"{name}-by-table").settings_problems
    assert (
        partitioning
        == aws_monitor.partitioning_problems({"rules": selections}, dms_task.task_settings())[0]
    )
    by_table = monitor(env, "--source", "aws", "--task-id", f"{name}-by-table", "--json", "--check")
    assert by_table.returncode == 1
    assert partitioning in json.loads(by_table.stdout)["problems"]
    missing = monitor(env, "--source", "aws", "--task-id", "no-such-task")
    assert missing.returncode == 1 and "no DMS replication task 'no-such-task'" in missing.stdout

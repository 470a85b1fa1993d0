"""``cdc monitor`` against the local engine and against DMS (moto), with the same output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from cdc import dms_task
from cdc.monitor import aws as aws_monitor
from cdc.monitor import drift
from cdc.monitor.model import TaskHealth, Thresholds, problems
from contracts.change_records import SOURCE_TABLES
from contracts.schema_drift import (
    COLUMN_ADDED,
    COLUMN_GONE,
    COLUMN_TYPE_CHANGED,
    TABLE_ADDED,
    TABLE_DROPPED,
)
from tests.fixtures import create_dms_task, unique_name


def monitor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cdc.cli", "monitor", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def health(**kw) -> TaskHealth:
    return TaskHealth(
        **{"engine": "local", "task_id": "t", "status": "running", "checked_at": "now", **kw}
    )


def test_a_running_task_within_its_latency_budget_is_healthy():
    assert (
        problems(health(cdc_latency_source_s=2.0, cdc_latency_target_s=3.0), Thresholds(10)) == []
    )


def test_a_slot_holding_back_too_much_wal_is_reported():
    held = health(retained_wal_bytes=3 * 1024 * 1024 * 1024)
    assert problems(held, Thresholds(max_retained_wal_mb=4096)) == []
    [problem] = problems(held, Thresholds(max_retained_wal_mb=1024))
    assert "holds back 3,072 MB of WAL" in problem and "above 1024 MB" in problem


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


# ToteSys as DMS would name its types today: no drift
KIND_DMS = {"int": "INT4", "text": "WSTRING", "numeric": "NUMERIC", "bool": "BOOLEAN"}
KIND_DMS |= {"timestamp": "DATETIME", "date_text": "NCLOB"}
TOTESYS = {t: {c: KIND_DMS[k] for c, k in cols.items()} for t, cols in SOURCE_TABLES.items()}


def test_the_source_catalogue_as_contract_a_is_no_drift_and_each_drift_is_named():
    assert drift.source_drift(TOTESYS) == [] and drift.summary([]) == "as Contract A"
    assert drift.source_drift({**TOTESYS, "awsdms_ddl_audit": {"c_key": "INT8"}}) == []
    altered = {t: dict(c) for t, c in TOTESYS.items()}
    altered["design"]["licence"] = "NCLOB"  # ADD COLUMN
    del altered["department"]["manager"]  # DROP COLUMN of a nullable column
    del altered["address"]["city"]  # DROP COLUMN of a NOT NULL one
    altered["sales_order"]["units_sold"] = "INT8"  # ALTER COLUMN TYPE bigint: still decodes
    altered["payment"]["paid"] = "INT2"  # a bool that became a number: does not
    altered["audit_log"] = {"id": "INT4"}  # CREATE TABLE
    del altered["currency"]  # DROP TABLE
    found = {(d.table, d.kind, d.column): d.breaking for d in drift.source_drift(altered)}
    assert found == {
        ("address", COLUMN_GONE, "city"): True,
        ("audit_log", TABLE_ADDED, ""): False,
        ("currency", TABLE_DROPPED, ""): False,
        ("department", COLUMN_GONE, "manager"): False,
        ("design", COLUMN_ADDED, "licence"): False,
        ("payment", COLUMN_TYPE_CHANGED, "paid"): True,
        ("sales_order", COLUMN_TYPE_CHANGED, "units_sold"): False,
    }
    seen = drift.with_source_drift(health(), None)
    assert seen.source_drift is None and "source schema not checked" in seen.notes[-1]
    drifted = health(source_drift=drift.source_drift(altered))
    assert [p for p in problems(drifted, Thresholds())] == [
        "source schema drift: address.city column gone (NOT NULL in Contract A: the table's "
        "insert, update and load records are refused)",
        "source schema drift: payment.paid column type changed (now INT2, Contract A has bool: "
        "its values do not decode as bool)",
    ]
    line = drift.summary(drifted.source_drift)
    assert "BREAKING address.city column gone" in line and "design.licence column added" in line
    assert json.loads(json.dumps(drifted.to_json()))["source_drift"][0]["table"] == "address"


def test_postgresql_types_are_named_as_dms_names_them():
    assert [drift.dms_type(t) for t in ("int4", "int8", "varchar", "text", "timestamp")] == [
        "INT4",
        "INT8",
        "WSTRING",
        "NCLOB",
        "DATETIME",
    ]
    assert drift.dms_type("TransactionType", "e") == "WSTRING"
    assert drift.dms_type("uuid") == "UUID"  # no kind takes it: drift


def test_table_mappings_that_leave_cdc_in_schema_table_partitioning_are_named():
    settings = dms_task.task_settings()
    assert aws_monitor.partitioning_problems(dms_task.table_mappings(), settings) == []
    selections = [r for r in dms_task.table_mappings()["rules"] if r["rule-type"] == "selection"]
    [problem] = aws_monitor.partitioning_problems({"rules": selections}, settings)
    assert problem.startswith("table mappings: CDC of public.address, public.counterparty, ")
    assert "partitioned by schema-table, not by primary key" in problem
    assert "'cdc dms render'" in problem


def test_stopped_failed_slow_or_errored_tasks_are_each_reported():
    assert problems(health(status="stopped", stop_reason="user"), Thresholds()) == [
        "task is stopped (user)"
    ]
    found = problems(
        health(
            status="failed",
            last_failure_message="boom",
            tables_errored=2,
            cdc_latency_target_s=99.0,
        ),
        Thresholds(30),
    )
    assert found == [
        "task is failed",
        "last failure: boom",
        "2 table(s) errored",
        "CDC latency (target) 99.0s is above 30s",
    ]


@pytest.mark.stack
def test_the_local_engine_is_healthy_while_running_and_not_once_stopped_or_killed(capture):
    env = capture.engine.env
    capture.engine.start()
    capture.engine.wait_running()
    result = monitor(env, "--check", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert (
        report["healthy"] is True and report["status"] == "running" and report["engine"] == "local"
    )
    assert {t["name"] for t in report["tables"]} >= {"payment", "sales_order"}
    assert sum(t["full_load_rows"] for t in report["tables"]) > 0
    table = monitor(env)
    assert table.returncode == 0 and "payment" in table.stdout and "CDC latency" in table.stdout

    capture.engine.kill()
    killed = monitor(env, "--check", "--json")
    assert killed.returncode == 1
    assert "is gone" in json.loads(killed.stdout)["stop_reason"]

    capture.engine.start()
    capture.engine.wait_running()
    capture.engine.stop()
    stopped = monitor(env, "--check")
    assert stopped.returncode == 1 and "task is stopped" in stopped.stdout


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

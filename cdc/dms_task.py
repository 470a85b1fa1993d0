"""The AWS DMS task for ToteSys, defined once, here.

Pure functions build the documents DMS takes; ``render`` writes them as JSON files that
terraform reads (``terraform/dms/*.json``), so no copy of them is ever written by hand.

- table mappings: one selection rule per ToteSys table in ``public`` (never a whole-schema
  wildcard, so bookkeeping tables such as DMS's own ``awsdms_ddl_audit`` stay out), and one
  object-mapping rule per table that partitions its records by primary key (below);
- Kinesis target endpoint settings: Contract A's record format (docs/architecture.md, Contract A);
- PostgreSQL source endpoint settings: logical replication slot, heartbeat, DDL capture,
  booleans as booleans, tasks fail rather than truncate a LOB silently;
- task settings: full load then CDC, logging on, limited-size LOB mode.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

from cdc.source_schema import TABLES
from contracts.change_records import BEFORE_IMAGE_FIELD

SCHEMA = "public"
SLOT_NAME = "totesys_cdc"
# The largest text value ToteSys holds is far below this; anything longer fails the task
# (FailTasksOnLobTruncation) instead of being cut short without a word.
LOB_MAX_SIZE_KB = 64


# How DMS partitions records on a Kinesis target ("Using Amazon Kinesis Data Streams as a
# target for AWS Database Migration Service", AWS DMS User Guide,
# https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Target.Kinesis.html): full-load records
# go by primary key, but CDC records of a task without object mapping (or ParallelApply*
# settings) go by schema-table, with no partition-key-value: every change of a table lands on
# one shard, capped at that shard's 1,000 records/s and 1 MiB/s and read by one KCL worker.
# Records published from PostgreSQL-source tasks show exactly this (docs/capture.md, Records in
# DMS's own shapes).
# The page's "Using object mapping to migrate data to a Kinesis data stream"
# (#CHAP_Target.Kinesis.ObjectMapping) names primary-key among an object-mapping rule's
# partition-key-type values and map-record-to-record as the action for a relational source: one
# such rule per table puts a row's changes, like its load record, on the shard its key hashes
# to (Contract A's partition-key-value, public.<table>.<key> with PartitionIncludeSchemaTable).
# ParallelApply* would also change the default to primary-key (the same page), but it also
# changes how many threads put records concurrently; it stays off.
PARTITION_KEY_TYPE = "primary-key"


def table_mappings() -> dict[str, Any]:
    """Selection rules (exactly the ToteSys tables, nothing else), then object-mapping rules
    (each table's records partitioned by primary key)."""
    selections = [
        {
            "rule-type": "selection",
            "rule-id": str(i),
            "rule-name": f"include-{table}",
            "object-locator": {"schema-name": SCHEMA, "table-name": table},
            "rule-action": "include",
            "filters": [],
        }
        for i, table in enumerate(TABLES, start=1)
    ]
    mappings = [
        {
            "rule-type": "object-mapping",
            "rule-id": str(i),
            "rule-name": f"partition-{table}-by-primary-key",
            "rule-action": "map-record-to-record",
            "object-locator": {"schema-name": SCHEMA, "table-name": table},
            "mapping-parameters": {"partition-key-type": PARTITION_KEY_TYPE},
        }
        for i, table in enumerate(TABLES, start=len(TABLES) + 1)
    ]
    return {"rules": selections + mappings}


def _matches(rule: dict[str, Any], name: str) -> bool:
    """Whether a rule's object locator (DMS's ``%`` wildcard allowed) names ``schema.table``."""
    locator = rule.get("object-locator", {})
    pattern = f"{locator.get('schema-name')}.{locator.get('table-name')}"
    return fnmatch.fnmatchcase(name, pattern.replace("%", "*"))


def cdc_partitioning(
    mappings: dict[str, Any],
    settings: dict[str, Any],
    tables: tuple[str, ...] = tuple(f"{SCHEMA}.{t}" for t in TABLES),
) -> dict[str, str]:
    """How DMS partitions the CDC records of each of ``tables`` (``schema.table``; ToteSys's)
    that the selection rules include (an ``exclude`` rule matching a table removes it, whatever
    the order) under these table mappings and task settings: ``primary-key`` where an
    object-mapping rule for the table asks for it, or where ParallelApplyThreads is above 0 and
    no rule says otherwise; ``schema-table`` elsewhere (DMS's default; the comment above). Any
    rule's locator may use DMS's ``%`` wildcard."""
    rules = mappings.get("rules", [])
    parallel = (settings.get("TargetMetadata") or {}).get("ParallelApplyThreads") or 0
    default = PARTITION_KEY_TYPE if parallel > 0 else "schema-table"
    selections = [r for r in rules if r.get("rule-type") == "selection"]
    included = [
        name
        for name in tables
        if any(_matches(r, name) for r in selections if r.get("rule-action") != "exclude")
        and not any(_matches(r, name) for r in selections if r.get("rule-action") == "exclude")
    ]
    found = dict.fromkeys(included, default)
    for rule in rules:
        kind = (rule.get("mapping-parameters") or {}).get("partition-key-type")
        if rule.get("rule-type") != "object-mapping" or kind is None:
            continue
        for name in found:
            if _matches(rule, name):
                found[name] = kind
    return found


def kinesis_settings() -> dict[str, Any]:
    """KinesisSettings of the target endpoint, without the stream and role ARNs (terraform
    adds those)."""
    return {
        "MessageFormat": "json-unformatted",
        "IncludeTransactionDetails": True,
        "IncludePartitionValue": True,
        "PartitionIncludeSchemaTable": True,
        "IncludeTableAlterOperations": True,
        "IncludeControlDetails": True,
        "IncludeNullAndEmpty": True,
    }


def postgres_settings() -> dict[str, Any]:
    """PostgreSQLSettings of the source endpoint (credentials come from Secrets Manager)."""
    return {
        "SlotName": SLOT_NAME,
        "PluginName": "test-decoding",
        "HeartbeatEnable": True,
        "HeartbeatFrequency": 5,  # minutes: keeps an idle source's slot moving
        "HeartbeatSchema": "dms_heartbeat",
        "CaptureDdls": True,
        "DdlArtifactsSchema": "dms_heartbeat",
        "MapBooleanAsBoolean": True,
        "FailTasksOnLobTruncation": True,
        "ExecuteTimeout": 60,
    }


def task_settings() -> dict[str, Any]:
    """ReplicationTaskSettings for the full-load-and-cdc task."""
    log_components = (
        "SOURCE_UNLOAD",
        "SOURCE_CAPTURE",
        "TARGET_LOAD",
        "TARGET_APPLY",
        "TASK_MANAGER",
    )
    return {
        "TargetMetadata": {
            "SupportLobs": True,
            "FullLobMode": False,
            "LimitedSizeLobMode": True,
            "LobMaxSize": LOB_MAX_SIZE_KB,
            "BatchApplyEnabled": False,
        },
        "FullLoadSettings": {
            "TargetTablePrepMode": "DO_NOTHING",
            "StopTaskCachedChangesApplied": False,
            "StopTaskCachedChangesNotApplied": False,
            "MaxFullLoadSubTasks": 8,
            "CommitRate": 10000,
        },
        "Logging": {
            "EnableLogging": True,
            "LogComponents": [
                {"Id": component, "Severity": "LOGGER_SEVERITY_DEFAULT"}
                for component in log_components
            ],
        },
        "ControlTablesSettings": {
            "HistoryTimeslotInMinutes": 5,
            "StatusTableEnabled": False,
            "SuspendedTablesTableEnabled": False,
            "HistoryTableEnabled": False,
        },
        # An update's primary key before the change, so a key change can retire the old key
        # ("Before image task settings", AWS DMS User Guide; the attribute lands beside
        # "data" and "metadata" in each update record).
        "BeforeImageSettings": {
            "EnableBeforeImage": True,
            "FieldName": BEFORE_IMAGE_FIELD,
            "ColumnFilter": "pk-only",
        },
        "ChangeProcessingDdlHandlingPolicy": {
            "HandleSourceTableDropped": True,
            "HandleSourceTableTruncated": True,
            "HandleSourceTableAltered": True,
        },
        "ErrorBehavior": {
            "DataErrorPolicy": "LOG_ERROR",
            "DataTruncationErrorPolicy": "LOG_ERROR",
            "DataErrorEscalationPolicy": "SUSPEND_TABLE",
            "DataErrorEscalationCount": 50,
            "TableErrorPolicy": "SUSPEND_TABLE",
            "TableErrorEscalationPolicy": "STOP_TASK",
            "TableErrorEscalationCount": 50,
            "RecoverableErrorCount": -1,
            "RecoverableErrorInterval": 5,
            "RecoverableErrorThrottling": True,
            "RecoverableErrorThrottlingMax": 1800,
            "ApplyErrorDeletePolicy": "IGNORE_RECORD",
            "ApplyErrorInsertPolicy": "LOG_ERROR",
            "ApplyErrorUpdatePolicy": "LOG_ERROR",
            "ApplyErrorEscalationPolicy": "LOG_ERROR",
            "ApplyErrorEscalationCount": 0,
            "FullLoadIgnoreConflicts": True,
        },
        "ChangeProcessingTuning": {
            "BatchApplyPreserveTransaction": True,
            "CommitTimeout": 1,
            "MemoryLimitTotal": 1024,
            "MemoryKeepTime": 60,
            "StatementCacheSize": 50,
        },
        "StreamBufferSettings": {
            "StreamBufferCount": 3,
            "StreamBufferSizeInMB": 8,
            "CtrlStreamBufferSizeInMB": 5,
        },
    }


DOCUMENTS = {
    "table_mappings.json": table_mappings,
    "task_settings.json": task_settings,
    "kinesis_settings.json": kinesis_settings,
    "postgres_settings.json": postgres_settings,
}


def render(out_dir: Path) -> list[Path]:
    """Write every document as pretty JSON (stable key order, trailing newline)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, build in DOCUMENTS.items():
        path = out_dir / name
        path.write_text(json.dumps(build(), indent=2) + "\n")
        written.append(path)
    return written

"""The DMS task definition: what the DMS API and its documentation accept."""

from __future__ import annotations

import json

import botocore.session
import pytest
from botocore.exceptions import ParamValidationError
from botocore.validate import validate_parameters

from cdc import dms_task
from cdc.source_schema import TABLES
from tests.fixtures import ROOT, create_dms_task, unique_name

# botocore's DMS API model, read without a client (a client would look for credentials, as far
# as the instance metadata endpoint when none are set)
DMS_MODEL = botocore.session.get_session().get_service_model("dms")

# From the DMS user guide: "Selection rules and actions" and "Task settings".
SELECTION_RULE_KEYS = {
    "rule-type",
    "rule-id",
    "rule-name",
    "object-locator",
    "rule-action",
    "filters",
    "load-order",
}
SELECTION_ACTIONS = {"include", "exclude", "explicit"}
TASK_SETTINGS_SECTIONS = {
    "TargetMetadata",
    "FullLoadSettings",
    "Logging",
    "ControlTablesSettings",
    "StreamBufferSettings",
    "ChangeProcessingTuning",
    "ChangeProcessingDdlHandlingPolicy",
    "ErrorBehavior",
    "ValidationSettings",
    "TTSettings",
    "BeforeImageSettings",
    "CharacterSetSettings",
    "LoopbackPreventionSettings",
    "PostProcessingRules",
    "FailTaskWhenCleanTaskResourceFailed",
}
ERROR_POLICIES = {
    "IGNORE_RECORD",
    "LOG_ERROR",
    "SUSPEND_TABLE",
    "STOP_TASK",
    "INSERT_RECORD",
    "UPDATE_RECORD",
}
PREP_MODES = {"DO_NOTHING", "DROP_AND_CREATE", "TRUNCATE_BEFORE_LOAD"}
SEVERITIES = {
    "LOGGER_SEVERITY_DEFAULT",
    "LOGGER_SEVERITY_ERROR",
    "LOGGER_SEVERITY_WARNING",
    "LOGGER_SEVERITY_INFO",
    "LOGGER_SEVERITY_DEBUG",
    "LOGGER_SEVERITY_DETAILED_DEBUG",
}


def test_the_mappings_select_exactly_the_eleven_toteys_tables_and_nothing_else():
    rules = [r for r in dms_task.table_mappings()["rules"] if r["rule-type"] == "selection"]
    assert {
        (r["object-locator"]["schema-name"], r["object-locator"]["table-name"]) for r in rules
    } == {("public", t) for t in TABLES}
    for rule in rules:
        assert set(rule) <= SELECTION_RULE_KEYS
        assert rule["rule-type"] == "selection" and rule["rule-action"] in SELECTION_ACTIONS
        assert "%" not in json.dumps(rule["object-locator"]), (
            "no wildcards: bookkeeping tables stay out"
        )
    every_rule = dms_task.table_mappings()["rules"]
    assert len({r["rule-id"] for r in every_rule}) == len(every_rule)


# "Using object mapping to migrate data to a Kinesis data stream", AWS DMS User Guide: the rule's
# keys, its actions, and the partition-key-type values of data records.
OBJECT_MAPPING_KEYS = {
    "rule-type",
    "rule-id",
    "rule-name",
    "rule-action",
    "object-locator",
    "target-table-name",
    "mapping-parameters",
}
OBJECT_MAPPING_ACTIONS = {"map-record-to-record", "map-record-to-document"}
PARTITION_KEY_TYPES = {
    "schema-table",
    "transaction-id",
    "primary-key",
    "constant",
    "attribute-name",
}


def test_the_mappings_partition_every_tables_cdc_records_by_primary_key():
    mappings = dms_task.table_mappings()
    objects = [r for r in mappings["rules"] if r["rule-type"] == "object-mapping"]
    assert {r["object-locator"]["table-name"] for r in objects} == set(TABLES)
    for rule in objects:
        assert set(rule) <= OBJECT_MAPPING_KEYS
        assert rule["rule-action"] == "map-record-to-record"  # a relational source's rows as-is
        assert rule["object-locator"]["schema-name"] == "public"
        assert rule["mapping-parameters"] == {"partition-key-type": "primary-key"}
        assert rule["mapping-parameters"]["partition-key-type"] in PARTITION_KEY_TYPES
    # With these mappings and these task settings, DMS partitions CDC by key, table by table.
    assert dms_task.cdc_partitioning(mappings, dms_task.task_settings()) == {
        f"public.{t}": "primary-key" for t in TABLES
    }


def test_without_object_mapping_dms_partitions_cdc_by_schema_and_table():
    selections = {
        "rules": [r for r in dms_task.table_mappings()["rules"] if r["rule-type"] == "selection"]
    }
    settings = dms_task.task_settings()
    assert set(dms_task.cdc_partitioning(selections, settings).values()) == {"schema-table"}
    parallel = {**settings, "TargetMetadata": {"ParallelApplyThreads": 8}}
    # ParallelApply* makes primary-key the default (the DMS User Guide, same page).
    assert set(dms_task.cdc_partitioning(selections, parallel).values()) == {"primary-key"}
    one_off = dms_task.table_mappings()
    one_off["rules"] = [
        r
        for r in one_off["rules"]
        if r["rule-type"] == "selection" or r["object-locator"]["table-name"] != "payment"
    ]
    found = dms_task.cdc_partitioning(one_off, settings)
    assert found.pop("public.payment") == "schema-table"
    assert set(found.values()) == {"primary-key"}
    wildcard = {  # one rule for every table of the schema
        "rules": [
            *selections["rules"],
            {
                "rule-type": "object-mapping",
                "rule-id": "99",
                "rule-name": "all",
                "rule-action": "map-record-to-record",
                "object-locator": {"schema-name": "public", "table-name": "%"},
                "mapping-parameters": {"partition-key-type": "primary-key"},
            },
        ]
    }
    assert set(dms_task.cdc_partitioning(wildcard, settings).values()) == {"primary-key"}
    # A wildcard selection names every table of the schema; an exclude removes one, whatever
    # the rules' order.
    everything = {
        "rules": [
            {
                "rule-type": "selection",
                "rule-id": "2",
                "rule-name": "not-payment",
                "object-locator": {"schema-name": "public", "table-name": "payment"},
                "rule-action": "exclude",
            },
            {
                "rule-type": "selection",
                "rule-id": "1",
                "rule-name": "all",
                "object-locator": {"schema-name": "public", "table-name": "%"},
                "rule-action": "include",
            },
        ]
    }
    found = dms_task.cdc_partitioning(everything, settings)
    assert set(found) == {f"public.{t}" for t in TABLES} - {"public.payment"}
    assert set(found.values()) == {"schema-table"}


def test_endpoint_settings_are_valid_for_the_dms_api_and_give_contract_a():
    kinesis = {
        **dms_task.kinesis_settings(),
        "StreamArn": "arn:aws:kinesis:eu-west-2:1:stream/s",
        "ServiceAccessRoleArn": "arn:aws:iam::1:role/r",
    }
    validate_parameters(kinesis, DMS_MODEL.shape_for("KinesisSettings"))  # raises when invalid
    assert kinesis["MessageFormat"] in DMS_MODEL.shape_for("MessageFormatValue").enum
    for flag in (
        "IncludeTransactionDetails",
        "IncludePartitionValue",
        "PartitionIncludeSchemaTable",
        "IncludeTableAlterOperations",
        "IncludeControlDetails",
    ):
        assert kinesis[flag] is True, flag
    postgres = dms_task.postgres_settings()
    validate_parameters(postgres, DMS_MODEL.shape_for("PostgreSQLSettings"))
    assert postgres["PluginName"] in DMS_MODEL.shape_for("PluginNameValue").enum
    assert postgres["HeartbeatEnable"] and postgres["FailTasksOnLobTruncation"]


def test_a_misspelt_setting_is_refused_by_the_api_model():
    with pytest.raises(ParamValidationError, match="IncludeTransactionDetail"):
        validate_parameters(
            {"IncludeTransactionDetail": True}, DMS_MODEL.shape_for("KinesisSettings")
        )


def test_task_settings_use_documented_sections_and_values_with_logging_and_reported_truncation():
    settings = dms_task.task_settings()
    assert set(settings) <= TASK_SETTINGS_SECTIONS
    assert settings["Logging"]["EnableLogging"] is True
    assert {c["Severity"] for c in settings["Logging"]["LogComponents"]} <= SEVERITIES
    lobs = settings["TargetMetadata"]
    assert lobs["SupportLobs"] and lobs["LimitedSizeLobMode"] and not lobs["FullLobMode"]
    assert settings["FullLoadSettings"]["TargetTablePrepMode"] in PREP_MODES
    policies = {k: v for k, v in settings["ErrorBehavior"].items() if k.endswith("Policy")}
    assert set(policies.values()) <= ERROR_POLICIES
    assert settings["ErrorBehavior"]["DataTruncationErrorPolicy"] != "IGNORE_RECORD"


@pytest.mark.stack
def test_the_dms_api_accepts_a_full_load_and_cdc_task_built_from_the_documents(aws_client):
    dms = aws_client("dms")
    task = create_dms_task(dms, unique_name("totesys-cdc"))
    assert json.loads(task["TableMappings"]) == dms_task.table_mappings()
    assert task["MigrationType"] == "full-load-and-cdc"


def test_render_writes_the_documents_terraform_reads_and_the_committed_copies_are_current(tmp_path):
    written = dms_task.render(tmp_path)
    assert {p.name for p in written} == set(dms_task.DOCUMENTS)
    for path in written:
        assert json.loads(path.read_text()) == dms_task.DOCUMENTS[path.name]()
        committed = ROOT / "terraform" / "dms" / path.name
        assert committed.read_text() == path.read_text(), (
            f"run 'cdc dms render' to refresh {committed}"
        )

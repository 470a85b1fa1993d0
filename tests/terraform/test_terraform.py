"""The AWS deployment, checked without terraform or an AWS account: every ``.tf`` file parsed
with python-hcl2 and the structure that matters asserted."""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

import hcl2
import pytest

from tests.fixtures import ROOT
from tests.terraform.fixtures import (
    DATA,
    FILES,
    PARSED,
    RESOURCES,
    TF,
    VARIABLES,
    blocks,
    clean,
    one,
    parse,
)

MODULE_RESOURCES = blocks("resource", under=TF / "modules" / "bucket")
# Actions AWS grants on no narrower resource than "*": the only ones allowed with it.
NO_RESOURCE_LEVEL = {
    "ecr:GetAuthorizationToken",
    "cloudwatch:PutMetricData",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "ec2:DescribeNetworkInterfaces",
}


def test_every_terraform_file_parses():
    assert len(FILES) >= 15
    assert all(PARSED[path] for path in FILES)


@pytest.mark.parametrize(
    ("rtype", "name"),
    [
        ("aws_dms_replication_subnet_group", "this"),
        ("aws_dms_replication_instance", "this"),
        ("aws_dms_endpoint", "source"),
        ("aws_dms_endpoint", "target"),
        ("aws_dms_replication_task", "cdc"),
        ("aws_kinesis_stream", "changes"),
        ("aws_ecs_cluster", "this"),
        ("aws_ecs_task_definition", "processor"),
        ("aws_ecs_service", "processor"),
        ("aws_dynamodb_table", "join_state"),
        ("aws_sqs_queue", "load"),
        ("aws_sqs_queue", "load_dlq"),
        ("aws_lambda_function", "loader"),
        ("aws_lambda_event_source_mapping", "loader"),
        ("aws_secretsmanager_secret", "source_db"),
        ("aws_secretsmanager_secret", "warehouse"),
        ("aws_sns_topic", "alarms"),
        ("aws_sns_topic_subscription", "alarm_email"),
        ("aws_cloudwatch_dashboard", "pipeline"),
        ("aws_kms_key", "pipeline"),
    ],
)
def test_the_pipeline_has(rtype: str, name: str):
    one(rtype, name)


def test_networking_is_given_not_created():
    assert not any(rtype in ("aws_vpc", "aws_subnet") for rtype, _ in RESOURCES)
    variables = {k for doc in PARSED.values() for v in doc.get("variable", []) for k in v}
    assert {"vpc_id", "private_subnet_ids"} <= variables


def test_every_bucket_is_encrypted_versioned_private_and_logged():
    module = MODULE_RESOURCES
    sse = module[("aws_s3_bucket_server_side_encryption_configuration", "this")]
    default = sse["rule"][0]["apply_server_side_encryption_by_default"][0]
    assert default["sse_algorithm"] == "aws:kms" and "kms_key_arn" in default["kms_master_key_id"]
    assert module[("aws_s3_bucket_versioning", "this")]["versioning_configuration"][0][
        "status"
    ] == ("Enabled")
    block = module[("aws_s3_bucket_public_access_block", "this")]
    assert all(
        block[k] is True
        for k in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        )
    )
    assert ("aws_s3_bucket_logging", "this") in module
    # The access-log bucket: the same protections, SSE-S3 (all S3 log delivery supports).
    assert one("aws_s3_bucket_versioning", "logs")["versioning_configuration"][0]["status"] == (
        "Enabled"
    )
    assert one("aws_s3_bucket_public_access_block", "logs")["restrict_public_buckets"] is True
    # Every bucket outside the module is the log bucket.
    assert [name for rtype, name in RESOURCES if rtype == "aws_s3_bucket"] == ["logs"]


def test_dead_letters_expire_and_manifests_notify_the_load_queue():
    batches = next(
        m["batches"] for doc in PARSED.values() for m in doc.get("module", []) if "batches" in m
    )
    assert batches["source"] == "./modules/bucket"
    assert "${local.dead_letter_pfx}/" in batches["expirations"]
    assert batches["expirations"]["${local.dead_letter_pfx}/"] == (
        "${var.dead_letter_retention_days}"
    )
    assert batches["notify_queue"]["arn"] == "${aws_sqs_queue.load.arn}"
    assert batches["notify_queue"]["prefix"] == "${local.manifest_prefix}/"


def test_the_stream_queues_table_topic_and_logs_are_encrypted_with_the_pipeline_key():
    assert one("aws_kinesis_stream", "changes")["encryption_type"] == "KMS"
    assert "aws_kms_key.pipeline" in one("aws_kinesis_stream", "changes")["kms_key_id"]
    for queue in ("load", "load_dlq"):
        assert "aws_kms_key.pipeline" in one("aws_sqs_queue", queue)["kms_master_key_id"]
    sse = one("aws_dynamodb_table", "join_state")["server_side_encryption"][0]
    assert sse["enabled"] is True
    assert "aws_kms_key.pipeline" in one("aws_sns_topic", "alarms")["kms_master_key_id"]
    for group in ("processor", "loader"):
        assert "aws_kms_key.pipeline" in one("aws_cloudwatch_log_group", group)["kms_key_id"]
    assert one("aws_kms_key", "pipeline")["enable_key_rotation"] is True


def test_the_stream_mode_is_a_variable():
    stream = one("aws_kinesis_stream", "changes")
    assert stream["stream_mode_details"][0]["stream_mode"] == "${var.kinesis_stream_mode}"


def test_the_dms_task_takes_its_mappings_and_settings_from_the_files_cdc_renders():
    task = one("aws_dms_replication_task", "cdc")
    assert task["migration_type"] == "full-load-and-cdc"
    assert task["table_mappings"] == "${local.dms_table_mappings}"
    assert task["replication_task_settings"] == "${local.dms_task_settings}"
    local_values = {
        k: v for doc in PARSED.values() for d in doc.get("locals", []) for k, v in d.items()
    }
    assert "dms/table_mappings.json" in local_values["dms_table_mappings"]
    assert "dms/task_settings.json" in local_values["dms_task_settings"]
    # That these files are what `cdc dms render` writes today: tests/cdc/test_dms_task.py.
    # Each endpoint setting terraform reads exists in the rendered JSON.
    text = (TF / "dms.tf").read_text()
    for local_name, file_name in (
        ("dms_source_settings", "postgres_settings.json"),
        ("dms_kinesis_settings", "kinesis_settings.json"),
    ):
        keys = set(json.loads((TF / "dms" / file_name).read_text()))
        used = set(re.findall(rf"local\.{local_name}\.(\w+)", text))
        assert used and used <= keys
    target = one("aws_dms_endpoint", "target")["kinesis_settings"][0]
    assert target["stream_arn"] == "${aws_kinesis_stream.changes.arn}"
    source = one("aws_dms_endpoint", "source")
    assert source["secrets_manager_arn"] == "${aws_secretsmanager_secret.source_db.arn}"
    assert "password" not in source and "username" not in source


def test_the_lambda_handler_is_a_real_function_and_reports_partial_batch_failures():
    handler = one("aws_lambda_function", "loader")["handler"]
    module_name, function = handler.rsplit(".", 1)
    assert callable(getattr(importlib.import_module(module_name), function))
    mapping = one("aws_lambda_event_source_mapping", "loader")
    assert mapping["function_response_types"] == ["ReportBatchItemFailures"]
    assert mapping["event_source_arn"] == "${aws_sqs_queue.load.arn}"
    redrive = one("aws_sqs_queue", "load")["redrive_policy"]
    assert "aws_sqs_queue.load_dlq.arn" in redrive and "var.loader_max_receive_count" in redrive


def test_the_container_runs_the_real_cli_with_settings_the_processor_reads():
    from click.testing import CliRunner

    from stream_processor.cli import main

    text = (TF / "ecs.tf").read_text()
    command = re.search(r"command\s*=\s*\[(.*?)\]", text).group(1)
    argv = [a.strip().strip('"') for a in command.split(",")]
    assert argv[0] == "stream-processor"
    help_text = CliRunner().invoke(main, [*argv[1:2], "--help"]).output
    assert "--properties" in help_text and argv[2] == "--properties"
    config_source = (ROOT / "stream_processor" / "config.py").read_text()
    for name in re.findall(r'name = "TOTESYS_CDC_(\w+)"', text):
        assert f'"{name}"' in config_source, f"TOTESYS_CDC_{name} is not read by the processor"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "tools/install-kclpy.sh" in dockerfile and "stream-processor" in dockerfile


def test_the_deployed_processes_say_they_run_in_aws_with_settings_their_code_reads():
    """TOTESYS_CDC_ENVIRONMENT is aws by default; terraform says so rather than leave it to the
    default, on the processor's task and the loader's Lambda alike."""
    ecs = (TF / "ecs.tf").read_text()
    assert '{ name = "TOTESYS_CDC_ENVIRONMENT", value = "aws" }' in ecs
    [environment] = one("aws_lambda_function", "loader")["environment"]
    variables = environment["variables"]
    assert variables["TOTESYS_CDC_ENVIRONMENT"] == "aws"
    loader_source = (ROOT / "warehouse_loader" / "config.py").read_text()
    for name in variables:
        suffix = name.removeprefix("TOTESYS_CDC_")
        assert f'"{suffix}"' in loader_source, f"{name} is not read by the loader"


def _statements() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for under in (TF, TF / "modules" / "bucket"):
        for (rtype, name), body in blocks("data", under=under).items():
            if rtype == "aws_iam_policy_document":
                found += [(name, s) for s in body.get("statement", [])]
    return found


def test_every_iam_statement_names_its_resources_and_no_action_is_a_wildcard():
    statements = _statements()
    assert len(statements) >= 25
    for name, statement in statements:
        actions = statement["actions"]
        if any(p["type"] == "Service" for p in statement.get("principals", [])) and (
            actions == ["sts:AssumeRole"]
        ):
            continue  # trust policies name a principal, not resources
        assert statement.get("resources"), f"{name}: a statement without resources"
        is_key_policy = name == "kms"
        is_deny = statement.get("effect") == "Deny"
        if statement["resources"] == ["*"] and not is_key_policy:
            assert set(actions) <= NO_RESOURCE_LEVEL, f"{name}: {actions} on every resource"
        if not (is_key_policy or is_deny):
            assert not any(a == "*" or a.endswith(":*") for a in actions), f"{name}: {actions}"


def test_the_key_policy_keeps_services_to_this_account():
    services = next(
        s for n, s in _statements() if n == "kms" and s.get("sid", "").startswith("Serv")
    )
    assert services["condition"][0]["variable"] == "aws:SourceAccount"


@pytest.mark.parametrize(
    ("namespace", "metric"),
    [
        ("AWS/DMS", "CDCLatencySource"),
        ("AWS/DMS", "CDCLatencyTarget"),
        ("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("${local.metrics_namespace}", "DeadLetters"),
        ("${local.metrics_namespace}", "ProcessorErrors"),
        ("${local.metrics_namespace}", "SchemaDrift"),
        ("${local.metrics_namespace}", "UncommittedSeconds"),
        ("AWS/RDS", "OldestReplicationSlotLag"),
        ("AWS/RDS", "TransactionLogsDiskUsage"),
    ],
)
def test_an_alarm_watches(namespace: str, metric: str):
    alarms = [b for (t, _), b in RESOURCES.items() if t == "aws_cloudwatch_metric_alarm"]
    matching = [a for a in alarms if (a["namespace"], a["metric_name"]) == (namespace, metric)]
    paging = [a for a in matching if a["alarm_actions"] == "${local.alarm_actions}"]
    assert paging, f"no alarm on {namespace} {metric} notifies the alarm topic"


def test_every_alarm_either_pages_or_scales():
    policies = {
        f"${{aws_appautoscaling_policy.{name}.arn}}"
        for (t, name) in RESOURCES
        if t == "aws_appautoscaling_policy"
    }
    for (t, name), alarm in RESOURCES.items():
        if t != "aws_cloudwatch_metric_alarm":
            continue
        actions = alarm["alarm_actions"]
        if actions != "${local.alarm_actions}":
            assert len(actions) == 1 and actions[0] in policies, f"{name}: {actions}"
            assert alarm["alarm_description"].startswith("Scaling, not paging"), name


def test_the_dead_letter_queue_alarm_watches_the_dlq_and_dms_failures_reach_the_topic():
    dlq = one("aws_cloudwatch_metric_alarm", "load_dlq_depth")
    assert dlq["dimensions"] == {"QueueName": "${aws_sqs_queue.load_dlq.name}"}
    task_events = one("aws_dms_event_subscription", "task")
    assert "failure" in task_events["event_categories"]
    assert task_events["sns_topic_arn"] == "${aws_sns_topic.alarms.arn}"


def test_a_stalled_or_stopping_shard_pages():
    """The processor's stall metric, and its shard_stopped events counted by a metric filter
    (a worker restarting again and again), each have an alarm on the topic."""
    stall = one("aws_cloudwatch_metric_alarm", "processor_shard_uncommitted")
    assert stall["metric_name"] == "UncommittedSeconds" and stall["statistic"] == "Maximum"
    assert stall["threshold"] == "${var.shard_stall_alarm_s}"
    assert _valid("shard_stall_alarm_s", VARIABLES["shard_stall_alarm_s"]["default"])
    assert not _valid("shard_stall_alarm_s", 10)
    stops = one("aws_cloudwatch_log_metric_filter", "processor_shard_stops")
    assert stops["pattern"].replace('\\"', '"') == '{ $.event = "shard_stopped" }'
    alarm = one("aws_cloudwatch_metric_alarm", "processor_shard_stops")
    assert alarm["metric_name"] == (
        "${aws_cloudwatch_log_metric_filter.processor_shard_stops.metric_transformation[0].name}"
    )
    assert alarm["alarm_actions"] == "${local.alarm_actions}"


def test_the_queue_age_alarm_watches_the_load_queue_not_its_dlq():
    age = one("aws_cloudwatch_metric_alarm", "load_queue_age")
    assert (age["namespace"], age["metric_name"]) == ("AWS/SQS", "ApproximateAgeOfOldestMessage")
    assert age["dimensions"] == {"QueueName": "${aws_sqs_queue.load.name}"}
    assert age["threshold"] == "${var.load_queue_age_alarm_s}"
    assert age["statistic"] == "Maximum" and age["treat_missing_data"] == "notBreaching"
    assert _valid("load_queue_age_alarm_s", VARIABLES["load_queue_age_alarm_s"]["default"])
    assert not _valid("load_queue_age_alarm_s", 30)


def test_the_loader_may_write_refused_rows_under_their_prefix_only_and_they_expire():
    policy = next(
        body
        for (t, name), body in DATA.items()
        if t == "aws_iam_policy_document" and name == "loader"
    )
    writes = [s for s in policy["statement"] if "s3:PutObject" in s["actions"]]
    assert [s["resources"] for s in writes] == [["${module.batches.arn}/${local.rejected_pfx}/*"]]
    key = next(s for s in policy["statement"] if s.get("sid") == "ThePipelineKey")
    assert "kms:GenerateDataKey" in key["actions"]  # the bucket is encrypted with this key
    batches = next(
        m["batches"] for doc in PARSED.values() for m in doc.get("module", []) if "batches" in m
    )
    assert batches["expirations"]["${local.rejected_pfx}/"] == "${var.dead_letter_retention_days}"


def test_variables_are_described_and_outputs_cover_what_an_operator_needs():
    variables = {
        k: v for doc in PARSED.values() for d in doc.get("variable", []) for k, v in d.items()
    }
    assert all(v.get("description") for v in variables.values())
    assert sum("validation" in v for v in variables.values()) >= 15
    outputs = {
        k: v
        for path, doc in PARSED.items()
        if path.parent == TF
        for d in doc.get("output", [])
        for k, v in d.items()
    }
    assert all(v.get("description") for v in outputs.values())
    assert {
        "kinesis_stream_name",
        "dms_replication_task_arn",
        "batch_bucket",
        "load_queue_url",
        "load_dlq_url",
        "loader_function_name",
        "kcl_application_name",
        "join_state_table",
        "alarm_topic_arn",
        "dashboard_name",
        "source_db_secret_arn",
        "warehouse_secret_arn",
    } <= set(outputs)


def test_no_credential_and_no_hard_coded_backend():
    for path in [*FILES, TF / "terraform.tfvars.example"]:
        text = path.read_text()
        assert not re.search(r"(?i)(password|secret_string|access_key)\s*=", text), path
        assert "AKIA" not in text, path
    assert not any("backend" in t for doc in PARSED.values() for t in doc.get("terraform", [{}])[0])


def test_the_bucket_prefixes_are_the_ones_the_contract_defines():
    from contracts.batches import (
        BATCH_PREFIX,
        DEAD_LETTER_PREFIX,
        MANIFEST_PREFIX,
        REJECTED_PREFIX,
    )

    local = parse(TF / "locals.tf")["locals"][0]
    assert (
        local["batch_prefix"],
        local["manifest_prefix"],
        local["dead_letter_pfx"],
        local["rejected_pfx"],
    ) == (BATCH_PREFIX, MANIFEST_PREFIX, DEAD_LETTER_PREFIX, REJECTED_PREFIX)


# --- sizing: autoscaling, the loader's concurrency and batches (docs/sizing.md) --------------

LOCALS = {k: v for doc in PARSED.values() for d in doc.get("locals", []) for k, v in d.items()}


def _holds(expression: str, values: dict[str, Any]) -> bool:
    """Evaluate one of this configuration's simple conditions (comparisons, &&, ||, contains,
    min/max, one ternary) with the given variable values."""
    e = expression.removeprefix("${").removesuffix("}").strip()
    if "?" in e:
        cond, rest = e.strip("()").split("?", 1)
        then, other = rest.split(":", 1)
        e = f"(({then}) if ({cond}) else ({other}))"
    e = e.replace("&&", " and ").replace("||", " or ")
    e = re.sub(r"var\.(\w+)", r"v['\1']", e).replace("contains(", "_contains(")
    scope = {"v": values, "max": max, "min": min, "_contains": lambda xs, x: x in xs}
    return eval(e, scope)  # noqa: S307 -- our own terraform, in a test


def _defaults(**overrides: Any) -> dict[str, Any]:
    values = {k: v.get("default") for k, v in VARIABLES.items()}
    return {**values, **overrides}


def _valid(name: str, value: Any) -> bool:
    conditions = [c["condition"] for c in VARIABLES[name].get("validation", [])]
    assert conditions, f"{name} has no validation"
    return all(_holds(c, _defaults(**{name: value})) for c in conditions)


def test_on_demand_kinesis_stays_the_default():
    assert VARIABLES["kinesis_stream_mode"]["default"] == "ON_DEMAND"
    assert _valid("kinesis_stream_mode", "PROVISIONED")
    assert not _valid("kinesis_stream_mode", "on-demand")


def test_the_processor_service_scales_on_the_streams_iterator_age():
    service = one("aws_ecs_service", "processor")
    assert service["desired_count"] == "${var.processor_count}"
    assert "desired_count" in service["lifecycle"][0]["ignore_changes"]  # autoscaling owns it
    target = one("aws_appautoscaling_target", "processor")
    assert target["service_namespace"] == "ecs"
    assert target["scalable_dimension"] == "ecs:service:DesiredCount"
    assert target["resource_id"] == (
        "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.processor.name}"
    )
    assert target["min_capacity"] == "${var.processor_count}"
    assert target["max_capacity"] == "${local.processor_max_tasks}"

    out, scale_in = (
        one("aws_appautoscaling_policy", "processor_scale_out"),
        one("aws_appautoscaling_policy", "processor_scale_in"),
    )
    for policy in (out, scale_in):
        assert policy["policy_type"] == "StepScaling"
        assert policy["resource_id"] == "${aws_appautoscaling_target.processor.resource_id}"
    assert all(
        step["scaling_adjustment"] > 0
        for step in out["step_scaling_policy_configuration"][0]["step_adjustment"]
    )
    (step,) = scale_in["step_scaling_policy_configuration"][0]["step_adjustment"]
    assert step["scaling_adjustment"] == -1 and step["metric_interval_upper_bound"] == 0

    for name, policy, comparison in (
        ("processor_scale_out", "processor_scale_out", "GreaterThanThreshold"),
        ("processor_scale_in", "processor_scale_in", "LessThanThreshold"),
    ):
        alarm = one("aws_cloudwatch_metric_alarm", name)
        assert (alarm["namespace"], alarm["metric_name"]) == (
            "AWS/Kinesis",
            "GetRecords.IteratorAgeMilliseconds",
        )
        assert alarm["dimensions"] == {"StreamName": "${aws_kinesis_stream.changes.name}"}
        assert alarm["statistic"] == "Maximum"
        assert alarm["comparison_operator"] == comparison
        assert alarm["treat_missing_data"] == "notBreaching"  # no reader: never scale in
        assert alarm["alarm_actions"] == [f"${{aws_appautoscaling_policy.{policy}.arn}}"]
    assert (
        one("aws_cloudwatch_metric_alarm", "processor_scale_in")["evaluation_periods"]
        > one("aws_cloudwatch_metric_alarm", "processor_scale_out")["evaluation_periods"]
    )


@pytest.mark.parametrize(
    ("mode", "shards", "floor", "ceiling", "tasks"),
    [
        ("ON_DEMAND", 2, 2, 8, 8),  # on demand the shard count is AWS's: the ceiling holds
        ("PROVISIONED", 4, 2, 8, 4),  # no more tasks than shards: a shard has one worker
        ("PROVISIONED", 15, 3, 8, 8),
        ("PROVISIONED", 1, 2, 8, 2),  # never below the floor
    ],
)
def test_the_processors_ceiling_is_the_shard_count_on_a_provisioned_stream(
    mode: str, shards: int, floor: int, ceiling: int, tasks: int
):
    values = _defaults(
        kinesis_stream_mode=mode,
        kinesis_shard_count=shards,
        processor_count=floor,
        processor_max_count=ceiling,
    )
    assert _holds(LOCALS["processor_max_tasks"], values) == tasks


def test_the_autoscaling_ceiling_cannot_be_below_the_floor():
    (check,) = one("aws_appautoscaling_target", "processor")["lifecycle"][0]["precondition"]
    assert _holds(check["condition"], _defaults())
    assert not _holds(check["condition"], _defaults(processor_count=5, processor_max_count=4))


def test_the_loaders_concurrency_is_reserved_and_the_event_sources_cap_alike():
    function = one("aws_lambda_function", "loader")
    mapping = one("aws_lambda_event_source_mapping", "loader")
    assert function["reserved_concurrent_executions"] == "${var.loader_concurrency}"
    assert mapping["scaling_config"][0]["maximum_concurrency"] == "${var.loader_concurrency}"
    # The event source's MaximumConcurrency is 2-1000 (ScalingConfig, Lambda API Reference).
    assert not _valid("loader_concurrency", 1)
    assert _valid("loader_concurrency", 2) and _valid("loader_concurrency", 1000)
    assert not _valid("loader_concurrency", 1001)


def test_the_loaders_sqs_batch_size_and_window_are_variables_lambda_accepts():
    mapping = one("aws_lambda_event_source_mapping", "loader")
    assert mapping["batch_size"] == "${var.loader_batch_size}"
    assert mapping["maximum_batching_window_in_seconds"] == "${var.loader_batching_window_s}"
    assert (
        VARIABLES["loader_batch_size"]["default"],
        VARIABLES["loader_batching_window_s"]["default"],
    ) == (10, 0)
    assert _valid("loader_batch_size", 10_000) and not _valid("loader_batch_size", 10_001)
    assert not _valid("loader_batch_size", 0)
    assert _valid("loader_batching_window_s", 300) and not _valid("loader_batching_window_s", 301)
    # Above 10 messages a batch, Lambda wants a batching window of at least 1 s.
    (check,) = mapping["lifecycle"][0]["precondition"]
    assert _holds(check["condition"], _defaults())
    assert not _holds(check["condition"], _defaults(loader_batch_size=11))
    assert _holds(check["condition"], _defaults(loader_batch_size=11, loader_batching_window_s=1))
    # A message waits in the window before its invocation's timeout starts.
    visibility = one("aws_sqs_queue", "load")["visibility_timeout_seconds"]
    assert "6 * aws_lambda_function.loader.timeout" in visibility
    assert "var.loader_batching_window_s" in visibility


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("processor_count", 13, 0),
        ("processor_max_count", 143, 201),
        ("processor_cpu", 2048, 1000),
        ("processor_memory", 4096, 512),
        ("processor_scale_out_iterator_age_ms", 30_000, 500),
        ("processor_scale_in_iterator_age_ms", 5_000, 100),
        ("max_batch_rows", 20_000, 0),
    ],
)
def test_sizing_variables_refuse_what_aws_or_the_pipeline_cannot_take(
    name: str, good: Any, bad: Any
):
    assert _valid(name, VARIABLES[name]["default"])
    assert _valid(name, good) and not _valid(name, bad)


def test_the_sizing_variables_point_to_the_sizing_page():
    for name in (
        "processor_count",
        "processor_memory",
        "kinesis_stream_mode",
        "kinesis_shard_count",
        "loader_concurrency",
        "loader_batch_size",
        "loader_batching_window_s",
        "dms_instance_class",
        "max_batch_age_s",
    ):
        assert "docs/sizing.md" in VARIABLES[name]["description"], name


def test_the_example_variables_file_sets_only_declared_variables():
    with (TF / "terraform.tfvars.example").open() as f:
        example = clean(hcl2.load(f))
    assert set(example) <= set(VARIABLES)
    assert {"processor_count", "processor_max_count", "loader_concurrency"} <= set(example)
    for name in (
        "processor_count",
        "processor_max_count",
        "loader_concurrency",
        "loader_batch_size",
    ):
        assert _valid(name, example[name]), name

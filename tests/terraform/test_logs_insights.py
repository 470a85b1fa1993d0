"""The saved Logs Insights queries and the log metric filters read the events the code really
logs, with the field names it really gives them (found in the source with ``ast``: every
``log``/``warning``/``error`` call and its keywords)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from contracts.star_schema import TABLES
from stream_processor.lease_table import Lease
from stream_processor.startup import Watch
from tests.fixtures import ROOT
from tests.terraform.fixtures import DATA, RESOURCES, TF, one, parse

EMITTERS = {"log", "warning", "error"}
PACKAGES = ("contracts", "cdc", "stream_processor", "warehouse_loader")


def _to_log_keys() -> set[str]:
    """The keys of every ``to_log()`` dict (splatted into events as ``**result.to_log()``)."""
    keys: set[str] = set()
    for path in (ROOT / p for p in PACKAGES):
        for source in path.rglob("*.py"):
            for node in ast.walk(ast.parse(source.read_text())):
                if isinstance(node, ast.FunctionDef) and node.name == "to_log":
                    for ret in ast.walk(node):
                        if isinstance(ret, ast.Return) and isinstance(ret.value, ast.Dict):
                            keys |= {k.value for k in ret.value.keys if isinstance(k, ast.Constant)}
    return keys


def _emitter(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in EMITTERS
    if isinstance(func, ast.IfExp):  # (error if ... else warning)("dead_letter", ...)
        return _emitter(func.body) and _emitter(func.orelse)
    return False


def logged_events() -> dict[str, set[str]]:
    """event name -> the fields its calls give it (besides ts, level, event)."""
    to_log = _to_log_keys()
    events: dict[str, set[str]] = {}
    for path in (ROOT / p for p in PACKAGES):
        for source in path.rglob("*.py"):
            for node in ast.walk(ast.parse(source.read_text())):
                if not (isinstance(node, ast.Call) and _emitter(node.func) and node.args):
                    continue
                name = node.args[0]
                if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                    continue
                fields = events.setdefault(name.value, set())
                for kw in node.keywords:
                    if kw.arg is not None:
                        fields.add(kw.arg)
                    elif isinstance(kw.value, ast.Call) and getattr(kw.value.func, "attr", "") == (
                        "to_log"
                    ):
                        fields |= to_log
    # stream-processor run's start-up steps: startup_event(started, **step) logs "startup"
    steps = Watch("w").step([Lease("shardId-0", "TRIM_HORIZON", "w", 1)])
    events.setdefault("startup", set()).update({"elapsed_s"}, *(s.keys() for s in steps))
    return events


EVENTS = logged_events()
QUERIES = {
    body["name"].split("/", 1)[1]: body
    for (t, _), body in RESOURCES.items()
    if t == "aws_cloudwatch_query_definition"
}

# query -> (its log group, the event fields it reads)
EXPECTED = {
    "manifests per minute and rows per table": ("processor", {"records", "rows"}),
    "dead letters by reason": ("processor", {"cause", "reason", "key"}),
    "load failures by class": ("loader", {"error", "retryable"}),
    "slowest loads": ("loader", {"duration_ms", "attempts", "manifest", "skipped"}),
    "rows the warehouse refused": ("loader", {"rows", "reason", "manifest", "table"}),
    "processor start-up steps": ("processor", {"step", "shard", "elapsed_s"}),
}


def test_the_emitters_are_found():
    assert {"batch_committed", "dead_letter", "manifest_loaded", "manifest_failed"} <= set(EVENTS)
    assert {"rows", "records"} <= EVENTS["batch_committed"]
    assert "duration_ms" in EVENTS["manifest_loaded"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_saved_query_reads_events_and_fields_the_code_logs(name: str):
    assert name in QUERIES, f"no saved query '{name}'"
    query = QUERIES[name]
    group, fields = EXPECTED[name]
    assert query["log_group_names"] == [f"${{aws_cloudwatch_log_group.{group}.name}}"]
    text = query["query_string"]
    named = re.findall(r'event = \\?"(\w+)\\?"', text)
    for listed in re.findall(r"event in \[([^\]]*)\]", text):
        named += re.findall(r"(\w+)", listed)
    assert named, "the query picks its events by name"
    for event in named:
        assert event in EVENTS, f"{name}: nothing logs an event '{event}'"
    for field in fields:
        assert re.search(rf"\b{field}\b", text), f"{name}: does not read {field}"
        assert any(field in EVENTS[e] for e in named), f"{name}: no {field} in {named}"


def test_rows_per_table_covers_every_table_the_processor_writes():
    locals_ = [d for doc in [parse(TF / "logs_insights.tf")] for d in doc.get("locals", [])]
    tables = next(d["processor_tables"] for d in locals_ if "processor_tables" in d)
    assert tables == [t for t in TABLES if t != "dim_date"]  # dim_date is the loader's
    assert (
        "sum(rows.${t}) as ${t}"
        in QUERIES["manifests per minute and rows per table"]["query_string"]
    )


def test_an_errors_query_reads_both_log_groups():
    query = QUERIES["errors"]
    assert len(query["log_group_names"]) == 2
    assert 'filter level = "ERROR"' in query["query_string"]


@pytest.mark.parametrize(
    ("filter_name", "group", "alarm"),
    [
        ("processor_error_events", "processor", "processor_error_log_lines"),
        ("processor_daemon_errors", "processor", "processor_error_log_lines"),
        ("loader_manifest_failures", "loader", "loader_manifest_failures"),
        ("loader_rows_refused", "loader", "loader_rows_refused"),
    ],
)
def test_each_metric_filter_feeds_a_paging_alarm(filter_name: str, group: str, alarm: str):
    metric_filter = one("aws_cloudwatch_log_metric_filter", filter_name)
    assert metric_filter["log_group_name"] == f"${{aws_cloudwatch_log_group.{group}.name}}"
    [transformation] = metric_filter["metric_transformation"]
    watching = one("aws_cloudwatch_metric_alarm", alarm)
    assert watching["alarm_actions"] == "${local.alarm_actions}"
    # the alarm names the metric through a filter of the same metric and namespace
    source = re.fullmatch(
        r"\$\{aws_cloudwatch_log_metric_filter\.(\w+)\.metric_transformation\[0\]\.name\}",
        watching["metric_name"],
    )
    assert source, watching["metric_name"]
    [named] = one("aws_cloudwatch_log_metric_filter", source[1])["metric_transformation"]
    assert (named["name"], named["namespace"]) == (
        transformation["name"],
        transformation["namespace"],
    )
    assert watching["namespace"] == transformation["namespace"]


def test_the_metric_filters_match_what_the_code_writes():
    json_errors = one("aws_cloudwatch_log_metric_filter", "processor_error_events")["pattern"]
    assert "$.level" in json_errors and "ERROR" in json_errors  # contracts.events.Level.ERROR
    failures = one("aws_cloudwatch_log_metric_filter", "loader_manifest_failures")["pattern"]
    assert "$.event" in failures and "manifest_failed" in failures and "manifest_failed" in EVENTS
    # the refused rows: one event per manifest and table, its count in rows
    refused = one("aws_cloudwatch_log_metric_filter", "loader_rows_refused")
    assert "$.event" in refused["pattern"] and "rows_refused" in refused["pattern"]
    assert refused["metric_transformation"][0]["value"] == "$.rows"
    assert "rows" in EVENTS["rows_refused"]
    # the daemon's own lines: time, then level, space-delimited (stream_processor/logback.xml)
    daemon = one("aws_cloudwatch_log_metric_filter", "processor_daemon_errors")["pattern"]
    assert re.fullmatch(r'\[time, level = \\?"ERROR\\?", \.\.\.\]', daemon), daemon
    logback = (ROOT / "stream_processor" / "logback.xml").read_text()
    assert "%d{yyyy-MM-dd'T'HH:mm:ss.SSSZ} %level [" in logback


def _client_calls(source: Path, owner: str) -> set[str]:
    """The DynamoDB API actions (``dynamodb:UpdateItem``...) called in ``owner`` (a class or
    function of ``source``), on any boto3 client (``self.client.x`` or ``dynamodb.x``)."""
    tree = ast.parse(source.read_text())
    [node] = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.ClassDef | ast.FunctionDef) and n.name == owner
    ]
    return {
        "dynamodb:" + "".join(part.title() for part in call.func.attr.split("_"))
        for call in ast.walk(node)
        if isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and isinstance(call.func.value, ast.Attribute | ast.Name)
        and getattr(call.func.value, "attr", getattr(call.func.value, "id", ""))
        in (
            "client",
            "dynamodb",
        )
    }


def test_the_processor_task_may_make_every_call_it_makes_on_the_state_table():
    """The join state's reads and writes, the table check at start, and the lease-owner
    records of ``stream-processor run`` (an AccessDenied there would fail every batch)."""
    sp = ROOT / "stream_processor"
    calls = (
        _client_calls(sp / "join_state" / "dynamodb.py", "DynamoJoinState")
        | _client_calls(sp / "batch_get.py", "batch_get")  # the join state's reads go through it
        | {"dynamodb:DescribeTable"}  # ensure_table: terraform has made it, only looked at
        | _client_calls(sp / "startup.py", "record_owner")
    )
    assert {"dynamodb:BatchGetItem", "dynamodb:UpdateItem", "dynamodb:PutItem"} <= calls
    policy = next(
        body
        for (t, _), body in DATA.items()
        if t == "aws_iam_policy_document"
        and any(s.get("sid") == "JoinState" for s in body.get("statement", []))
    )
    [statement] = [s for s in policy["statement"] if s.get("sid") == "JoinState"]
    assert statement["resources"] == ["${aws_dynamodb_table.join_state.arn}"]
    assert calls <= set(statement["actions"]), calls - set(statement["actions"])

"""The short path answers DynamoDB and Kinesis calls as moto's own path does.

Both paths run in this process over moto's in-memory backends: each read is asked of both and
must come back the same, status, content type and body; each refused write too (it changes
nothing, so both see the same state).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.test import EnvironBuilder

from local_stack.services.dispatch import CachedDomainDispatcher, handler_for, respond

REGION = "eu-west-2"


def _environ(
    service: str,
    target: str | None,
    body: dict[str, Any] | None,
    *,
    method: str = "POST",
    path: str = "/",
) -> dict[str, Any]:
    headers = {
        "Host": "127.0.0.1:4566",
        "Content-Type": "application/x-amz-json-1.0"
        if service == "dynamodb"
        else "application/x-amz-json-1.1",
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential=testing/20261204/{REGION}/{service}/aws4_request, "
            "SignedHeaders=host;x-amz-date;x-amz-target, Signature=0"
        ),
        "X-Amz-Date": "20261204T000000Z",
    }
    if target:
        headers["X-Amz-Target"] = target
    data = json.dumps(body).encode() if body is not None else b""
    return EnvironBuilder(method=method, path=path, headers=headers, data=data).get_environ()


def _call(app: Any, environ: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:  # noqa: ANN401 - a WSGI app
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:  # noqa: ANN401
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(app(environ, start_response))
    return int(seen["status"].split()[0]), seen["headers"], body


def _short_path(environ: dict[str, Any], start_response: Any) -> list[bytes]:  # noqa: ANN401
    """The short path as a WSGI app, to be called as moto's is."""
    handler = handler_for(environ)
    assert handler is not None, environ.get("HTTP_X_AMZ_TARGET")
    status, headers, body = respond(handler, environ)
    start_response(f"{status} -", headers)
    return [body]


@pytest.fixture(scope="module")
def apps() -> tuple[Any, Any]:
    return _short_path, DomainDispatcherApplication(create_backend_app)


def _same_on_both(
    apps: tuple[Any, Any], service: str, target: str, body: dict[str, Any]
) -> tuple[int, bytes]:
    short, moto_path = apps
    fast = _call(short, _environ(service, target, body))
    slow = _call(moto_path, _environ(service, target, body))
    assert fast[0] == slow[0]
    assert fast[2] == slow[2]
    assert fast[1]["Content-Type"] == slow[1]["Content-Type"]
    assert fast[1]["Content-Length"] == str(len(fast[2]))
    for name in ("x-amz-crc32", "x-amzn-RequestId"):
        assert (name in fast[1]) == (name in slow[1]), name
    return fast[0], fast[2]


def test_dynamodb_reads_and_refused_writes_match_motos_own_path(apps):
    short, _ = apps
    table = f"t{uuid.uuid4().hex[:8]}"
    created = _call(
        short,
        _environ(
            "dynamodb",
            "DynamoDB_20120810.CreateTable",
            {
                "TableName": table,
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "BillingMode": "PAY_PER_REQUEST",
            },
        ),
    )
    assert created[0] == 200
    update = {
        "TableName": table,
        "Key": {"pk": {"S": "row#1"}},
        "UpdateExpression": "SET version = :v",
        "ConditionExpression": "attribute_not_exists(version) OR version < :v",
        "ExpressionAttributeValues": {":v": {"N": "2"}},
    }
    assert _call(short, _environ("dynamodb", "DynamoDB_20120810.UpdateItem", update))[0] == 200

    status, body = _same_on_both(
        apps,
        "dynamodb",
        "DynamoDB_20120810.GetItem",
        {"TableName": table, "Key": {"pk": {"S": "row#1"}}},
    )
    assert status == 200
    assert json.loads(body)["Item"] == {"pk": {"S": "row#1"}, "version": {"N": "2"}}

    status, body = _same_on_both(apps, "dynamodb", "DynamoDB_20120810.UpdateItem", update)
    assert status == 400
    assert json.loads(body)["__type"].endswith("ConditionalCheckFailedException")

    status, body = _same_on_both(
        apps,
        "dynamodb",
        "DynamoDB_20120810.GetItem",
        {"TableName": f"{table}-missing", "Key": {"pk": {"S": "x"}}},
    )
    assert status == 400
    assert json.loads(body)["__type"].endswith("ResourceNotFoundException")


def test_kinesis_reads_match_motos_own_path(apps):
    short, _ = apps
    stream = f"s{uuid.uuid4().hex[:8]}"
    assert (
        _call(
            short,
            _environ(
                "kinesis", "Kinesis_20131202.CreateStream", {"StreamName": stream, "ShardCount": 2}
            ),
        )[0]
        == 200
    )
    put = {
        "StreamName": stream,
        "Records": [{"Data": "aGVsbG8=", "PartitionKey": f"k{i}"} for i in range(10)],
    }
    status, body = _call(short, _environ("kinesis", "Kinesis_20131202.PutRecords", put))[0::2]
    assert status == 200
    assert json.loads(body)["FailedRecordCount"] == 0

    status, body = _same_on_both(
        apps, "kinesis", "Kinesis_20131202.ListShards", {"StreamName": stream}
    )
    shards = [s["ShardId"] for s in json.loads(body)["Shards"]]
    assert len(shards) == 2
    got = 0
    for shard in shards:
        status, body = _same_on_both(
            apps,
            "kinesis",
            "Kinesis_20131202.GetShardIterator",
            {"StreamName": stream, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"},
        )
        iterator = json.loads(body)["ShardIterator"]
        status, body = _same_on_both(
            apps, "kinesis", "Kinesis_20131202.GetRecords", {"ShardIterator": iterator}
        )
        assert status == 200
        got += len(json.loads(body)["Records"])
    assert got == 10

    status, body = _same_on_both(
        apps,
        "kinesis",
        "Kinesis_20131202.DescribeStreamSummary",
        {"StreamName": f"{stream}-missing"},
    )
    assert status == 400
    assert json.loads(body)["__type"] == "ResourceNotFoundException"


def test_only_json_protocol_posts_to_the_two_services_take_the_short_path():
    assert handler_for(_environ("dynamodb", "DynamoDB_20120810.GetItem", {})) is not None
    assert handler_for(_environ("kinesis", "Kinesis_20131202.PutRecords", {})) is not None
    assert handler_for(_environ("dynamodb", "DynamoDBStreams_20120810.ListStreams", {})) is None
    assert handler_for(_environ("secretsmanager", "secretsmanager.GetSecretValue", {})) is None
    assert handler_for(_environ("sqs", "AmazonSQS.ReceiveMessage", {})) is None
    assert handler_for(_environ("s3", None, None, method="GET", path="/bucket/key")) is None
    assert (
        handler_for(_environ("kinesis", "Kinesis_20131202.PutRecords", {}, path="/other")) is None
    )


def test_the_domain_dispatcher_finds_each_hosts_backend_once(monkeypatch):
    import moto.backends

    hosts = [
        "s3.eu-west-2.amazonaws.com",
        "sqs.eu-west-2.amazonaws.com",
        "monitoring.eu-west-2.amazonaws.com",
        "secretsmanager.eu-west-2.amazonaws.com",
        "nothing.example.org",
    ]
    expected = {
        host: DomainDispatcherApplication(create_backend_app).get_backend_for_host(host)
        for host in hosts
    }
    assert expected["s3.eu-west-2.amazonaws.com"] == "s3"
    listings: list[int] = []
    real = moto.backends.list_of_moto_modules

    def counted() -> Any:  # noqa: ANN401
        listings.append(1)
        return real()

    monkeypatch.setattr(moto.backends, "list_of_moto_modules", counted)
    cached = CachedDomainDispatcher(create_backend_app)
    for _ in range(3):
        assert {host: cached.get_backend_for_host(host) for host in hosts} == expected
    assert len(listings) == len(hosts)

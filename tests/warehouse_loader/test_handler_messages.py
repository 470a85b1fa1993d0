"""The handler's reading of SQS messages: whatever a body holds, it is a list of S3 objects or
a ``BadBatch`` for that message alone (no services)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse_loader.errors import BadBatch
from warehouse_loader.handler import objects_of

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
NOTIFICATION = {
    "Records": [
        {
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "b"}, "object": {"key": "manifests/s/1-2.json", "eTag": "e"}},
        }
    ]
}


def test_a_notification_gives_its_objects():
    record = {"eventSource": "aws:sqs", "messageId": "m", "body": json.dumps(NOTIFICATION)}
    assert objects_of(record) == [("b", "manifests/s/1-2.json", "e")]


@settings(max_examples=300, deadline=None)
@given(body=st.one_of(st.text(max_size=40), _json.map(json.dumps)))
def test_any_body_is_objects_or_a_bad_batch(body):
    try:
        objects = objects_of({"eventSource": "aws:sqs", "messageId": "m", "body": body})
    except BadBatch:
        return
    assert isinstance(objects, list)


@settings(max_examples=300, deadline=None)
@given(
    path=st.lists(
        st.sampled_from(["Records", 0, "s3", "bucket", "object", "key"]), min_size=1, max_size=4
    ),
    value=_json,
)
def test_a_mutated_notification_is_objects_or_a_bad_batch(path, value):
    body = json.loads(json.dumps(NOTIFICATION))
    target = body
    try:
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
    except (KeyError, IndexError, TypeError):
        return
    try:
        objects = objects_of({"eventSource": "aws:sqs", "messageId": "m", "body": json.dumps(body)})
    except BadBatch:
        return
    assert isinstance(objects, list)


def test_only_what_passes_is_transient():
    import psycopg
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    from warehouse_loader.handler import _is_transient

    def s3_error(code: str, status: int) -> ClientError:
        return ClientError(
            {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject"
        )

    passing = [
        s3_error("SlowDown", 503),
        s3_error("InternalError", 500),
        EndpointConnectionError(endpoint_url="https://s3"),
        ReadTimeoutError(endpoint_url="https://s3"),
        psycopg.errors.DeadlockDetected(),
        psycopg.errors.SerializationFailure(),
        psycopg.errors.AdminShutdown(),
        psycopg.OperationalError("server closed the connection unexpectedly"),
    ]
    failing = [
        s3_error("AccessDenied", 403),
        NoCredentialsError(),
        psycopg.errors.InvalidPassword(),
        psycopg.errors.QueryCanceled(),  # a statement timeout
        psycopg.errors.DiskFull(),
        ValueError("a bug"),
    ]
    assert [_is_transient(e) for e in passing] == [True] * len(passing)
    assert [_is_transient(e) for e in failing] == [False] * len(failing)


def test_a_deeply_nested_body_is_a_bad_batch_not_a_crash():
    body = "[" * 100_000 + "]" * 100_000
    try:
        objects_of({"eventSource": "aws:sqs", "messageId": "m", "body": body})
    except BadBatch:
        pass
    else:
        raise AssertionError("a body this deep is not an S3 event")

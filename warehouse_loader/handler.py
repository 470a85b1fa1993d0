"""The Lambda entry point: ``warehouse_loader.handler.handler``.

Event: SQS messages whose bodies are S3 event notifications for manifest objects (a direct S3
event is accepted too). Each message's manifests load in their own transactions; a message that
fails is reported in ``batchItemFailures`` (SQS retries it, then dead-letters it) and the others
are unaffected.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus

import boto3
import psycopg

from contracts.batches import S3Store, is_manifest_key
from contracts.events import error, log
from warehouse_loader import config as loader_config
from warehouse_loader.connection import Warehouse
from warehouse_loader.load import BadBatch, load_manifest

_WAREHOUSE: Warehouse | None = None  # cached across warm invocations
_S3: Any = None


def _warehouse() -> Warehouse:
    global _WAREHOUSE, _S3  # noqa: PLW0603 - the Lambda execution environment's cache
    if _WAREHOUSE is None:
        cfg = loader_config.load()
        _WAREHOUSE = Warehouse(
            cfg, boto3.client("secretsmanager") if cfg.warehouse_secret_arn else None
        )
        _S3 = boto3.client("s3")
    return _WAREHOUSE


def s3_objects(notification: dict[str, Any]) -> Iterator[tuple[str, str, str | None]]:
    """(bucket, key, etag) of each object-created record in an S3 event notification."""
    for record in notification.get("Records", []):
        if record.get("eventSource") != "aws:s3" or not record.get(
            "eventName", "ObjectCreated"
        ).startswith("ObjectCreated"):
            continue
        s3 = record["s3"]
        yield s3["bucket"]["name"], unquote_plus(s3["object"]["key"]), s3["object"].get("eTag")


def messages(
    event: dict[str, Any],
) -> Iterator[tuple[str | None, list[tuple[str, str, str | None]]]]:
    """(SQS message id or None, the S3 objects it announces)."""
    for record in event.get("Records", []):
        if record.get("eventSource") == "aws:sqs":
            body = json.loads(record["body"])
            yield record["messageId"], list(s3_objects(body))
        elif record.get("eventSource") == "aws:s3":
            yield None, list(s3_objects({"Records": [record]}))


def load_one(warehouse: Warehouse, s3: Any, bucket: str, key: str, etag: str | None) -> None:  # noqa: ANN401
    try:
        result = load_manifest(warehouse.connection(), S3Store(s3, bucket), key, etag)
    except psycopg.OperationalError:
        warehouse.reset()  # a dropped connection: reconnect once and try again
        result = load_manifest(warehouse.connection(), S3Store(s3, bucket), key, etag)
    log("manifest_loaded", bucket=bucket, **result.to_log())


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:  # noqa: ANN401, ARG001
    warehouse = _warehouse()
    failures: list[str] = []
    for message_id, objects in messages(event):
        try:
            for bucket, key, etag in objects:
                if is_manifest_key(key):
                    load_one(warehouse, _S3, bucket, key, etag)
        except (BadBatch, psycopg.Error) as exc:
            error(
                "manifest_failed",
                message_id=message_id,
                error=f"{type(exc).__name__}: {exc}",
                retryable=not isinstance(exc, BadBatch),
            )
            if message_id is None:
                raise
            failures.append(message_id)
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failures]}


if __name__ == "__main__":  # one event from stdin, for trying the handler by hand
    print(json.dumps(handler(json.load(sys.stdin))))

"""The Lambda entry point: ``warehouse_loader.handler.handler``.

Event: SQS messages whose bodies are S3 event notifications for manifest objects (a direct S3
event is accepted too). Each message's manifests load in their own transactions; a message that
fails is reported in ``batchItemFailures`` (SQS retries it, then dead-letters it) and the others
are unaffected.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus

import boto3
import psycopg
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    ParamValidationError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from contracts.batches import ObjectStore, S3Store, is_manifest_key
from contracts.events import error, log, warning
from contracts.retry import Backoff
from warehouse_loader import config as loader_config
from warehouse_loader.connection import Warehouse
from warehouse_loader.errors import BadBatch, Transient
from warehouse_loader.load import LoadResult, load_manifest

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


def objects_of(record: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """The S3 objects one SQS message (or one direct S3 record) announces; ``BadBatch`` when
    its body is not an S3 event notification."""
    if record.get("eventSource") == "aws:s3":
        return list(s3_objects({"Records": [record]}))
    try:
        body = json.loads(record["body"])
        return list(s3_objects(body))
    except (KeyError, TypeError, AttributeError, RecursionError, json.JSONDecodeError) as exc:
        raise BadBatch(f"the message is not an S3 event notification: {exc!r}") from None


# S3 error codes that pass (throttling, server-side trouble); any 5xx passes too.
TRANSIENT_S3_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout"}
# PostgreSQL conditions that pass: deadlock, serialization failure, the server shutting down
# or restarting (class 57P0x), and any connection exception (class 08).
TRANSIENT_SQLSTATES = {"40P01", "40001", "57P01", "57P02", "57P03"}
LOAD_BACKOFF = Backoff(first_s=0.2, attempts=3)  # waits 0.2 s, then 0.4 s


def _is_transient(exc: Exception) -> bool:
    """Only what passes: S3 throttling or a 5xx, an HTTP connection or timeout failure, a
    deadlock or serialization failure, a dropped or refused database connection. A wrong
    password, a statement timeout, a full disk or missing credentials are not: they fail the
    invocation loudly."""
    if isinstance(exc, HTTPClientError | BotoConnectionError):  # refused, reset, timed out
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return exc.response["Error"]["Code"] in TRANSIENT_S3_CODES or status >= 500
    if isinstance(exc, psycopg.Error):
        state = exc.sqlstate
        if state is None:  # raised by the client: the connection dropped or was refused
            return isinstance(exc, psycopg.OperationalError)
        return state in TRANSIENT_SQLSTATES or state.startswith("08")
    return False


def load_with_retries(
    warehouse: Warehouse, store: ObjectStore, key: str, etag: str | None = None
) -> LoadResult:
    """Load one manifest, retrying what passes (``errors.Transient`` once retries run out).

    A failed attempt's transaction is rolled back whole (``load.load_tables``), so a retry
    starts from nothing of that manifest; ``LoadResult.attempts`` says how many it took. Each
    loader process (a Lambda instance, a local runner, a benchmark worker) runs this on its
    own connection: concurrent loads are safe (docs/warehouse-loader.md, Concurrent loaders)."""
    attempt = 0
    while True:
        attempt += 1
        try:
            result = load_manifest(
                warehouse.connection(), store, key, etag, history=warehouse.config.history
            )
        except ParamValidationError as exc:  # e.g. a bucket name no bucket can have
            raise BadBatch(f"the event names no loadable object: {exc}") from None
        except (psycopg.DataError, psycopg.IntegrityError) as exc:  # rows this batch holds
            raise BadBatch(f"the warehouse refused {key}'s rows: {exc}") from None
        except (BotoCoreError, ClientError, psycopg.Error) as exc:
            if not _is_transient(exc):
                raise
            if warehouse.broken():
                warehouse.reset()  # reconnect (the secret may have been rotated)
            warning("load_retried", manifest=key, attempt=attempt, error=repr(exc))
            if LOAD_BACKOFF.exhausted(attempt):
                raise Transient(f"{type(exc).__name__}: {exc}") from exc
            time.sleep(LOAD_BACKOFF.delay(attempt))
        else:
            result.attempts = attempt
            return result


def load_one(warehouse: Warehouse, s3: Any, bucket: str, key: str, etag: str | None) -> None:  # noqa: ANN401
    """Load one manifest from S3 (``load_with_retries``) and log what it did."""
    result = load_with_retries(warehouse, S3Store(s3, bucket), key, etag)
    log("manifest_loaded", bucket=bucket, attempts=result.attempts, **result.to_log())


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:  # noqa: ANN401, ARG001
    """Each message on its own: a bad one (``BadBatch``) or one that keeps failing for a
    passing reason (``Transient``) is reported in ``batchItemFailures`` and the others load.
    Anything else is a bug or a misconfiguration and fails the invocation."""
    warehouse = _warehouse()
    failures: list[str] = []
    for record in event.get("Records", []):
        if record.get("eventSource") not in ("aws:sqs", "aws:s3"):
            continue  # not an event this function is wired to
        message_id = record.get("messageId") if record.get("eventSource") == "aws:sqs" else None
        try:
            for bucket, key, etag in objects_of(record):
                if is_manifest_key(key):
                    load_one(warehouse, _S3, bucket, key, etag)
        except (BadBatch, Transient) as exc:
            error(
                "manifest_failed",
                message_id=message_id,
                error=f"{type(exc).__name__}: {exc}",
                retryable=isinstance(exc, Transient),
            )
            if message_id is None:
                raise
            failures.append(message_id)
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failures]}


if __name__ == "__main__":  # one event from stdin, for trying the handler by hand
    print(json.dumps(handler(json.load(sys.stdin))))

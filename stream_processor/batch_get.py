"""The one DynamoDB batch read: strongly consistent BatchGetItem, 100 keys a call, with the keys
DynamoDB leaves unprocessed retried after an exponential backoff.

BatchGetItem may answer with part of what was asked (throttling, its 16 MB response limit, an
internal failure) and name the rest in ``UnprocessedKeys``; the API reference asks callers to
retry those keys with exponential backoff, because an immediate retry is likely to be throttled
again ("BatchGetItem", Amazon DynamoDB API Reference,
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html). Keys
still unprocessed once the policy's attempts are spent are raised as the throttling error
DynamoDB gives when it can process none of a batch (``ProvisionedThroughputExceededException``),
so each caller classes it as it classes any throttled call (``edge_errors``, the CLI).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from contracts.retry import Backoff

MAX_KEYS = 100  # BatchGetItem's limit of keys per call
# Waits 0.1, 0.2, 0.4, 0.8, 1.6, then 2 s: nine calls, about 11 s, before giving up.
UNPROCESSED_BACKOFF = Backoff(first_s=0.1, max_s=2.0, attempts=9)

Item = dict[str, Any]


def batch_get(
    client: Any,  # noqa: ANN401 - a boto3 DynamoDB client
    table: str,
    keys: list[Item],
    *,
    backoff: Backoff = UNPROCESSED_BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Item]:
    """The items of ``table`` found at ``keys`` (a missing key has none), read strongly
    consistent. A call's own failure is raised as botocore raises it."""
    found: list[Item] = []
    for start in range(0, len(keys), MAX_KEYS):
        request = {table: {"Keys": keys[start : start + MAX_KEYS], "ConsistentRead": True}}
        calls = 0
        while True:
            response = client.batch_get_item(RequestItems=request)
            calls += 1
            found.extend(response["Responses"].get(table, []))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            if backoff.exhausted(calls):
                left = len(request[table]["Keys"])
                raise ClientError(
                    {
                        "Error": {
                            "Code": "ProvisionedThroughputExceededException",
                            "Message": f"{left} keys of {table} still unprocessed after "
                            f"{calls} BatchGetItem calls",
                        }
                    },
                    "BatchGetItem",
                )
            sleep(backoff.delay(calls))
    return found

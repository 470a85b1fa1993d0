"""How a failure of the processor's edges (the join state in DynamoDB, the batch bucket in S3)
is classed where it enters, after boto3's own retries:

- ``EdgeUnavailable``: the edge failed for reasons the records do not cause (throttled after
  the retries, a 5xx, unreachable, refused for our credentials or configuration). Nothing of the
  call can be trusted to have happened: the shard stops and the KCL restarts it from its last
  checkpoint (``kcl_app``).
- ``EdgeRefused``: the edge refused a request for what it carried (a DynamoDB item over its
  400 KB limit). From the join state, that is the failure of the record the request was for,
  found by processing the call's records again in halves (``shard``). From the object store it
  stops the shard all the same: batch and dead-letter keys and bodies come from the shard and
  sequence numbers, never from a record's content, so a refusal there is ours to fix.

DynamoDB answers a request it refuses for its content with ``ValidationException`` ("Item size
has exceeded the maximum allowed size", "Error handling" in the Amazon DynamoDB Developer
Guide), and throttling with ``ProvisionedThroughputExceededException`` or
``ThrottlingException`` once the SDK's retries are spent; S3 answers ``SlowDown`` / 503 for its
request rate ("Error responses", Amazon S3 API Reference). An unknown code is classed as
unavailable: stopping and re-reading loses nothing, dead-lettering a healthy record would.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from contracts.batches import ObjectStore

# Codes for a request refused for its content: the record it was for fails, not the edge.
REFUSED_CODES = frozenset(
    {
        # DynamoDB: an item or attribute over its size limit; only when the message says size:
        # a wrong key schema or expression is a ValidationException too, and that is ours
        "ValidationException",
        "ItemCollectionSizeLimitExceededException",
        "KeyTooLongError",  # S3
        "EntityTooLarge",
        "InvalidArgument",
    }
)


class EdgeUnavailable(RuntimeError):
    """An edge failed for reasons no record causes: stop the shard, restart from its checkpoint."""


class EdgeRefused(ValueError):
    """An edge refused a request for its content: the failure of the record it was for."""


def classify(edge: str, exc: BotoCoreError | ClientError) -> EdgeUnavailable | EdgeRefused:
    """The class of a botocore failure of ``edge`` ("join state", "object store")."""
    if isinstance(exc, ParamValidationError):  # the request's values, checked before sending
        return EdgeRefused(f"{edge} refused the request: {exc}")
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "?")
        message = exc.response.get("Error", {}).get("Message", "")
        if code in REFUSED_CODES and (code != "ValidationException" or "size" in message.lower()):
            return EdgeRefused(f"{edge} refused the request: {code}: {message}")
        return EdgeUnavailable(f"{edge} unavailable: {code}: {message}")
    return EdgeUnavailable(f"{edge} unavailable: {type(exc).__name__}: {exc}")


@contextmanager
def classed(edge: str) -> Iterator[None]:
    """Raise a botocore failure inside as ``EdgeUnavailable`` or ``EdgeRefused``."""
    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise classify(edge, exc) from exc


class ClassedStore:
    """An ``ObjectStore`` (S3) whose botocore failures are classed (``ObjectMissing`` is no
    botocore error and passes through)."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def put(self, key: str, body: bytes, content_type: str) -> None:
        with classed("object store"):
            self.store.put(key, body, content_type)

    def get(self, key: str) -> bytes:
        with classed("object store"):
            return self.store.get(key)

    def keys(self, prefix: str) -> list[str]:
        with classed("object store"):
            return self.store.keys(prefix)

    def delete(self, key: str) -> None:
        with classed("object store"):
            self.store.delete(key)

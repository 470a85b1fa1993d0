"""Writing records to Kinesis with PutRecords: acknowledged, in order per key, retried.

Order per partition key is kept by construction: a PutRecords batch never holds two records
with the same key, and the next batch is sent only after every record of the previous one is
acknowledged. A partial failure (throttling, internal errors) retries exactly the failed
records with exponential backoff; nothing after them is sent meanwhile.

The rule stays however the records are keyed: PutRecords does not guarantee the order of the
records in one call ("PutRecords", Amazon Kinesis Data Streams API Reference,
https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html). Under
``schema-table`` partitioning (``cdc.capture.records``) every change of a table has the same
key, so a batch holds at most one record per table (~2.6 with ToteSys's traffic mix, against
up to 500 by primary key): 75 times the PutRecords calls, and capture 7 to 20 times slower on
moto (docs/contracts.md, Partitioning, has the measurements).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError

from cdc.capture.records import OutRecord
from contracts.retry import Backoff

MAX_RECORDS = 500  # PutRecords limits
MAX_BYTES = 5 * 1024 * 1024
MAX_RECORD_BYTES = 1024 * 1024
RETRYABLE_CODES = {
    "ProvisionedThroughputExceededException",
    "InternalFailure",
    "ServiceUnavailable",
    "ThrottlingException",
    "KMSThrottlingException",
    "LimitExceededException",
}


class SinkError(RuntimeError):
    """Kinesis refused records for a reason retrying will not fix; the message says which."""


@dataclass
class SinkStats:
    batches: int = 0
    records: int = 0
    retried_records: int = 0


def batches(
    records: Iterable[OutRecord], max_records: int = MAX_RECORDS
) -> Iterator[list[OutRecord]]:
    """Group records, in order, into PutRecords batches with at most one record per key."""
    batch: list[OutRecord] = []
    keys: set[str] = set()
    size = 0
    for record in records:
        if len(record.data) + len(record.partition_key) > MAX_RECORD_BYTES:
            raise SinkError(f"a {record.table} record is larger than Kinesis's 1 MiB limit")
        record_size = len(record.data) + len(record.partition_key)
        if batch and (
            record.partition_key in keys
            or len(batch) == max_records
            or size + record_size > MAX_BYTES
        ):
            yield batch
            batch, keys, size = [], set(), 0
        batch.append(record)
        keys.add(record.partition_key)
        size += record_size
    if batch:
        yield batch


class KinesisSink:
    """Puts records on one stream and returns only when all are acknowledged."""

    def __init__(
        self,
        client: Any,  # noqa: ANN401 - a boto3 Kinesis client
        stream_name: str,
        *,
        max_backoff_s: float = 5.0,
        max_batch_records: int = MAX_RECORDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 1 <= max_batch_records <= MAX_RECORDS:
            raise ValueError(f"max_batch_records must be 1..{MAX_RECORDS}")
        self.client = client
        self.stream_name = stream_name
        self.max_batch_records = max_batch_records
        # Kept sending for ever: a record not acknowledged is not captured (nothing after it
        # is sent meanwhile); jittered so that many capture tasks throttled together spread out.
        self.backoff = Backoff(first_s=0.1, max_s=max_backoff_s, jitter=True)
        self.sleep = sleep
        self.stats = SinkStats()

    def check_stream(self) -> None:
        """Fail early, clearly, when the stream is missing or the credentials are refused."""
        try:
            summary = self.client.describe_stream_summary(StreamName=self.stream_name)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code == "ResourceNotFoundException":
                raise SinkError(f"Kinesis stream '{self.stream_name}' does not exist") from None
            raise SinkError(f"Kinesis refused access to '{self.stream_name}': {code}") from None
        except EndpointConnectionError as exc:
            raise SinkError(f"cannot reach Kinesis: {exc}") from None
        status = summary["StreamDescriptionSummary"]["StreamStatus"]
        if status not in ("ACTIVE", "UPDATING"):
            raise SinkError(f"Kinesis stream '{self.stream_name}' is {status}, not ACTIVE")

    def put(self, records: Iterable[OutRecord]) -> int:
        """Put every record, in order per key; return how many were put."""
        sent = 0
        for batch in batches(records, self.max_batch_records):
            self._put_batch(batch)
            sent += len(batch)
        return sent

    def _put_batch(self, batch: list[OutRecord]) -> None:
        pending = batch
        attempt = 0
        while pending:
            try:
                response = self.client.put_records(
                    StreamName=self.stream_name,
                    Records=[{"Data": r.data, "PartitionKey": r.partition_key} for r in pending],
                )
            except ClientError as exc:
                code = exc.response["Error"]["Code"]
                if code not in RETRYABLE_CODES:
                    raise SinkError(
                        f"PutRecords failed: {code}: {exc.response['Error'].get('Message')}"
                    ) from None
                failed = pending
            except EndpointConnectionError:
                failed = pending  # the endpoint is down for a moment: keep trying
            else:
                failed = [
                    r
                    for r, result in zip(pending, response["Records"], strict=True)
                    if "ErrorCode" in result
                ]
                self.stats.records += len(pending) - len(failed)
            if failed:
                self.stats.retried_records += len(failed)
                attempt += 1
                self.sleep(self.backoff.delay(attempt))
            pending = failed
        self.stats.batches += 1

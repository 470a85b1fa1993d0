"""moto's multi-service WSGI app, for hypercorn to serve.

moto's own server speaks HTTP/1.1 only; the KCL's Kinesis client speaks HTTP/2 cleartext
(h2c, prior knowledge). hypercorn serves the same app over both on one port, so boto3, the
AWS CLI and the KCL's Java SDK all reach S3, SQS, DynamoDB, Kinesis, Secrets Manager,
CloudWatch and SNS at one endpoint.

One repair to moto's Kinesis shard, which otherwise makes the local stack slow down as a
stream fills: moto finds a shard's newest sequence number by copying every key
(``list(records)[-1]``) on each put, and GetRecords scans the shard from its first record.
Sequence numbers in a moto shard are consecutive integers from 1, so both become direct
lookups here, with the same results (tests/local_stack/test_stack.py checks them).
"""

from __future__ import annotations

from moto.kinesis.models import Record, Shard
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


def _min_sequence_number(self: Shard) -> int:
    return next(iter(self.records)) if self.records else 0


def _max_sequence_number(self: Shard) -> int:
    return next(reversed(self.records)) if self.records else 0


def _get_records(
    self: Shard, last_sequence_id: str, limit: int | None
) -> tuple[list[Record], int, int]:
    last = int(last_sequence_id)
    results: list[Record] = []
    behind_s = 0.0
    if self.records:
        newest_seq = next(reversed(self.records))
        newest = self.records[newest_seq]
        seq = max(last + 1, next(iter(self.records)))
        while seq <= newest_seq and (limit is None or len(results) < limit):
            record = self.records.get(seq)
            if record is not None:
                results.append(record)
                last = seq
                behind_s = newest.created_at - record.created_at
            seq += 1
    return results, last, int(behind_s * 1000)


Shard.get_min_sequence_number = _min_sequence_number
Shard.get_max_sequence_number = _max_sequence_number
Shard.get_records = _get_records

app = DomainDispatcherApplication(create_backend_app)

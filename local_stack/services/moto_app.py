"""moto's multi-service app, for hypercorn to serve.

moto's own server speaks HTTP/1.1 only; the KCL's Kinesis client speaks HTTP/2 cleartext
(h2c, prior knowledge). hypercorn serves the same app over both on one port, so boto3, the
AWS CLI and the KCL's Java SDK all reach S3, SQS, DynamoDB, Kinesis, Secrets Manager,
CloudWatch and SNS at one endpoint.

hypercorn serves it as an ASGI app (``local_stack.services.asgi``): DynamoDB and Kinesis calls
reach moto's handlers directly, on the event loop (``local_stack.services.dispatch``); the rest
go through moto's domain dispatcher, each host's backend remembered, on a thread pool.

Repairs to moto's Kinesis (tests/local_stack/services/test_stack.py checks each):

- **Speed.** moto finds a shard's newest sequence number by copying every key
  (``list(records)[-1]``) on each put, and GetRecords scans the shard from its first record,
  so the stack slowed down as a stream filled. Sequence numbers in a moto shard are
  consecutive integers from 1, so both become direct lookups, with the same results. And
  GetRecords and PutRecords write their JSON bodies directly: moto's generic response
  serializer took half of the emulation's time at a 1M-row full load (py-spy), decoding each
  record's base64 data only to encode it again. The bodies hold what moto's held.
- **Resharding, as Kinesis documents it** ("Resharding a stream", "SplitShard", "MergeShards"
  and "GetRecords" in the Amazon Kinesis Data Streams documentation). moto re-puts a split
  parent's records into its children and copies merged parents' records into the child, so a
  consumer would read them twice under new sequence numbers; after a split it still routes
  new records to the closed parent (it looks up the hash key in every shard, open or not);
  its merge accepts shards that are not adjacent; and GetRecords on a closed shard never
  ends. Kinesis keeps a closed parent's records where they are (readable for the retention
  period), sends new records only to open shards, and at the end of a closed shard answers
  GetRecords with no ``NextShardIterator`` and the ``ChildShards`` (each with its
  ``ParentShards`` and ``HashKeyRange``). The KCL needs exactly that: it takes a response
  with neither a next iterator nor child shards as invalid and retries it forever
  (``DataRetrievalUtil.isValidResult``), and it creates the children's leases from
  ``ChildShards`` when the parent's record processor has checkpointed at SHARD_END.
"""

from __future__ import annotations

import calendar
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from moto.kinesis.exceptions import InvalidArgumentError
from moto.kinesis.models import Record, Shard, Stream
from moto.kinesis.responses import KinesisResponse
from moto.kinesis.utils import decompose_shard_iterator
from moto.moto_server.werkzeug_app import create_backend_app
from moto.utilities.utils import md5_hash

from local_stack.services.asgi import REQUEST_THREADS, EmulationApp
from local_stack.services.dispatch import CachedDomainDispatcher


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


def _next_shard_id(stream: Stream) -> int:
    return max(shard._shard_id for shard in stream.shards.values()) + 1  # noqa: SLF001


def _open_shard(stream: Stream, shard_id: str) -> Shard:
    shard = stream.get_shard(shard_id)
    if not shard.is_open:
        raise InvalidArgumentError(
            f"Shard {shard_id} in stream {stream.stream_name} has already been merged or "
            "split, and thus is not eligible for merging or splitting."
        )
    return shard


# moto holds no lock of its own, and requests run on many threads: a record routed to a shard
# that a split or merge closes before the record is appended would land after the shard's
# end, unseen by a reader that has been handed the ChildShards. Routing and appending a record
# and resharding exclude each other.
_RESHARDING = threading.RLock()


def _put_record(self: Stream, partition_key: str, explicit_hash_key: str, data: str) -> Any:  # noqa: ANN401
    with _RESHARDING:
        return _ORIGINAL_PUT_RECORD(self, partition_key, explicit_hash_key, data)


def _split_shard(self: Stream, shard_to_split: str, new_starting_hash_key: str) -> None:
    with _RESHARDING:
        _split(self, shard_to_split, new_starting_hash_key)


def _merge_shards(self: Stream, shard_to_merge: str, adjacent_shard_to_merge: str) -> None:
    with _RESHARDING:
        _merge(self, shard_to_merge, adjacent_shard_to_merge)


def _split(self: Stream, shard_to_split: str, new_starting_hash_key: str) -> None:
    parent, split_at = _open_shard(self, shard_to_split), int(new_starting_hash_key)
    if not parent.starting_hash < split_at <= parent.ending_hash:
        raise InvalidArgumentError(
            f"NewStartingHashKey {split_at} is not within shard {shard_to_split}'s hash key "
            f"range ({parent.starting_hash + 1} to {parent.ending_hash})."
        )
    first = _next_shard_id(self)
    for index, (start, end) in enumerate(
        [(parent.starting_hash, split_at - 1), (split_at, parent.ending_hash)]
    ):
        child = Shard(first + index, start, end, parent=parent.shard_id)
        self.shards[child.shard_id] = child
    parent.is_open = False


def _merge(self: Stream, shard_to_merge: str, adjacent_shard_to_merge: str) -> None:
    shard, adjacent = _open_shard(self, shard_to_merge), _open_shard(self, adjacent_shard_to_merge)
    low, high = sorted([shard, adjacent], key=lambda s: s.starting_hash)
    if low.ending_hash + 1 != high.starting_hash:
        raise InvalidArgumentError(
            f"Shards {shard_to_merge} and {adjacent_shard_to_merge} in stream "
            f"{self.stream_name} are not adjacent."
        )
    child = Shard(
        _next_shard_id(self),
        low.starting_hash,
        high.ending_hash,
        parent=shard.shard_id,
        adjacent_parent=adjacent.shard_id,
    )
    self.shards[child.shard_id] = child
    shard.is_open = adjacent.is_open = False


def _get_shard_for_key(self: Stream, partition_key: str, explicit_hash_key: str) -> Shard | None:
    """The open shard whose hash key range holds the record's hash key (ranges are inclusive)."""
    if not isinstance(partition_key, str) or len(partition_key) > 256:
        raise InvalidArgumentError("partition_key")
    if explicit_hash_key:
        key = int(explicit_hash_key)
        if key >= 2**128:
            raise InvalidArgumentError("explicit_hash_key")
    else:
        key = int(md5_hash(partition_key.encode("utf-8")).hexdigest(), 16)
    for shard in self.shards.values():
        if shard.is_open and shard.starting_hash <= key <= shard.ending_hash:
            return shard
    return None


def child_shards(stream: Stream, shard_id: str) -> list[dict[str, Any]]:
    """What GetRecords answers at the end of a closed shard: the shards made from it."""
    return [
        {
            "ShardId": child.shard_id,
            "ParentShards": [p for p in (child.parent, child.adjacent_parent) if p],
            "HashKeyRange": {
                "StartingHashKey": str(child.starting_hash),
                "EndingHashKey": str(child.ending_hash),
            },
        }
        for child in stream.shards.values()
        if shard_id in (child.parent, child.adjacent_parent)
    ]


def _arrival(record: Record) -> float:
    """ApproximateArrivalTimestamp as moto's serializer writes it: epoch seconds, truncated to
    milliseconds."""
    at = record.created_at_datetime
    return calendar.timegm(at.timetuple()) + (at.microsecond // 1000) / 1000


def _json_response(body: dict[str, Any]) -> tuple[int, dict[str, str], str]:
    return 200, {"Content-Type": JSON_CONTENT_TYPE}, json.dumps(body)


def _get_records_response(self: KinesisResponse) -> tuple[int, dict[str, str], str]:
    """GetRecords as Kinesis answers it, including at the end of a closed shard; the body
    written directly (a record's data is kept as the base64 text PutRecords received)."""
    iterator = self._get_param("ShardIterator")
    next_iterator, records, behind_ms = self.kinesis_backend.get_records(
        self._get_param("StreamARN"), iterator, self._get_param("Limit")
    )
    body: dict[str, Any] = {
        "Records": [
            {
                "SequenceNumber": str(r.sequence_number),
                "ApproximateArrivalTimestamp": _arrival(r),
                "Data": r.data,
                "PartitionKey": r.partition_key,
            }
            for r in records
        ],
        "NextShardIterator": next_iterator,
        "MillisBehindLatest": behind_ms,
    }
    stream_name, shard_id, _ = decompose_shard_iterator(iterator)
    stream = self.kinesis_backend.describe_stream(
        stream_arn=self._get_param("StreamARN"), stream_name=stream_name
    )
    shard = stream.get_shard(shard_id)
    if not shard.is_open:
        _, _, position = decompose_shard_iterator(next_iterator)
        if int(position) >= shard.get_max_sequence_number():
            del body["NextShardIterator"]
            body["ChildShards"] = child_shards(stream, shard_id)
    return _json_response(body)


def _put_records_response(self: KinesisResponse) -> tuple[int, dict[str, str], str]:
    """PutRecords, its body written directly."""
    result = self.kinesis_backend.put_records(
        self._get_param("StreamARN"), self._get_param("StreamName"), self._get_param("Records")
    )
    return _json_response(result)


_ORIGINAL_PUT_RECORD = Stream.put_record

# The Kinesis JSON protocol's content type (the AWS SDKs send and expect it).
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"

Shard.get_min_sequence_number = _min_sequence_number
Shard.get_max_sequence_number = _max_sequence_number
Shard.get_records = _get_records
Stream.put_record = _put_record
Stream.split_shard = _split_shard
Stream.merge_shards = _merge_shards
Stream.get_shard_for_key = _get_shard_for_key
KinesisResponse.get_records = _get_records_response
KinesisResponse.put_records = _put_records_response

app = EmulationApp(
    CachedDomainDispatcher(create_backend_app),
    ThreadPoolExecutor(REQUEST_THREADS, thread_name_prefix="aws-emulation"),
)

"""One shard's processing: decode → transform → micro-batch → flush, and dead letters.

Everything here but the injected state and object store is pure; the KCL record processor
(``kcl_app``) is the shell around it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from stream_processor.batch import Batch, FlushResult, dead_letter, flush
from stream_processor.config import ProcessorConfig
from stream_processor.decode import Change, Control, DecodeError, decode
from stream_processor.join_batch import BulkJoinState, prepare
from stream_processor.object_store import ObjectStore
from stream_processor.transform import transform


def log(event: str, **fields: Any) -> None:  # noqa: ANN401
    """One JSON object per line on stderr (stdout belongs to the KCL protocol)."""
    print(
        json.dumps({"ts": datetime.now(UTC).isoformat(), "event": event, **fields}, default=str),
        file=sys.stderr,
        flush=True,
    )


@dataclass
class Metrics:
    records_in: int = 0
    rows_out: dict[str, int] = field(default_factory=dict)
    batches_flushed: int = 0
    dead_letters: int = 0
    control_records: int = 0
    millis_behind_latest: int | None = None


class ShardPipeline:
    def __init__(
        self,
        shard_id: str,
        state: BulkJoinState,
        store: ObjectStore,
        config: ProcessorConfig,
        publish: Callable[[str, dict[str, float]], None] | None = None,
    ) -> None:
        """``publish`` receives each flush's figures (CloudWatch in AWS; None: logs only)."""
        self.publish = publish
        self.shard_id = shard_id
        self.state = state
        self.store = store
        self.config = config
        self.batch = Batch(shard_id)
        self.metrics = Metrics()

    def process(self, sequence_number: str, partition_key: str, data: bytes) -> None:
        """One Kinesis record (see ``process_many``)."""
        self.process_many([(sequence_number, partition_key, data)])

    def process_many(self, records: Sequence[tuple[str, str, bytes]]) -> None:
        """Kinesis records (sequence number, partition key, data), in shard order. A record
        that cannot be decoded or transformed goes to the dead-letter prefix with its reason;
        the shard keeps moving. A shared join state (DynamoDB) is read and written once for
        the whole batch (``join_batch``)."""
        decoded: list[tuple[str, str, bytes, Change | Control | str]] = []
        for sequence_number, partition_key, data in records:
            try:
                item: Change | Control | str = decode(data)
            except DecodeError as exc:
                item = str(exc)
            decoded.append((sequence_number, partition_key, data, item))
        state = prepare(self.state, [i for *_, i in decoded if isinstance(i, Change)])
        for sequence_number, partition_key, data, item in decoded:
            self.metrics.records_in += 1
            rows = []
            if isinstance(item, Control):
                self.metrics.control_records += 1
                log(
                    "control_record",
                    shard=self.shard_id,
                    table=item.table,
                    operation=item.operation,
                )
            elif isinstance(item, str):
                self._dead_letter(sequence_number, partition_key, data, item)
            else:
                try:
                    rows = transform(item, state)
                except (ValueError, KeyError, TypeError) as exc:
                    reason = f"transform failed: {type(exc).__name__}: {exc}"
                    self._dead_letter(sequence_number, partition_key, data, reason)
            self.batch.add_record(sequence_number, rows)

    def _dead_letter(
        self, sequence_number: str, partition_key: str, data: bytes, reason: str
    ) -> None:
        key = dead_letter(
            self.store,
            self.config.dead_letter_prefix,
            shard_id=self.shard_id,
            sequence_number=sequence_number,
            partition_key=partition_key,
            raw=data,
            reason=reason,
        )
        self.metrics.dead_letters += 1
        self.batch.dead_letters += 1
        log(
            "dead_letter",
            shard=self.shard_id,
            sequence_number=sequence_number,
            reason=reason,
            key=key,
        )

    def due(self) -> bool:
        cfg = self.config
        return self.batch.due(
            max_rows=cfg.max_batch_rows,
            max_bytes=cfg.max_batch_bytes,
            max_age_s=cfg.max_batch_age_s,
        )

    def flush(self) -> FlushResult | None:
        """Write the batch (files, then manifest); None when there was nothing buffered."""
        if self.batch.empty:
            return None
        batch, self.batch = self.batch, Batch(self.shard_id)
        started = datetime.now(UTC)
        result = flush(
            batch,
            self.store,
            batch_prefix=self.config.batch_prefix,
            manifest_prefix=self.config.manifest_prefix,
            compression=self.config.compression,
        )
        self.metrics.batches_flushed += 1
        for table, n in result.files.items():
            self.metrics.rows_out[table] = self.metrics.rows_out.get(table, 0) + n
        flush_ms = round((datetime.now(UTC) - started).total_seconds() * 1000, 1)
        log(
            "batch_flushed",
            shard=self.shard_id,
            manifest=result.manifest_key,
            records=batch.records,
            rows=result.files,
            dead_letters=batch.dead_letters,
            last_sequence_number=result.last_seq,
            flush_ms=flush_ms,
            millis_behind_latest=self.metrics.millis_behind_latest,
        )
        if self.publish is not None:
            self.publish(
                self.shard_id,
                {
                    "RecordsIn": batch.records,
                    "RowsOut": sum(result.files.values()),
                    "DeadLetters": batch.dead_letters,
                    "FlushLatencyMs": flush_ms,
                    "MillisBehindLatest": self.metrics.millis_behind_latest or 0,
                },
            )
        return result

    def drop(self) -> None:
        """The lease is gone: forget the buffer; the next owner reprocesses from the checkpoint."""
        self.batch = Batch(self.shard_id)

"""Micro-batches: rows buffered per target table, flushed as parquet files plus a manifest.

Contract C (DESIGN.md §5). The flush is one commit protocol, in order:

1. one parquet file per table touched, with the table's explicit Arrow schema;
2. the manifest, last, listing the files, their row counts, the shard and the sequence range;
3. (the caller) the KCL checkpoint at the batch's last sequence number.

Keys are deterministic from (shard, first sequence, last sequence), so writing the same batch
twice overwrites the same objects, and the loader, triggered by manifests only, never sees
half a batch.
"""

from __future__ import annotations

import base64
import io
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from stream_processor.object_store import ObjectStore
from stream_processor.output_schema import SCHEMA_VERSION, SCHEMAS
from stream_processor.transform import OutRow

SEQ_WIDTH = 56  # Kinesis sequence numbers have up to 56 digits; padding keeps keys sortable


def seq_key(sequence_number: str) -> str:
    return sequence_number.zfill(SEQ_WIDTH)


def to_parquet(table: str, rows: list[dict[str, Any]], compression: str = "zstd") -> bytes:
    """Rows as a parquet file with the table's explicit schema (never inferred)."""
    schema = SCHEMAS[table]
    arrow = pa.Table.from_pylist(rows, schema=schema)
    sink = io.BytesIO()
    pq.write_table(arrow, sink, compression=compression)
    return sink.getvalue()


@dataclass
class Batch:
    """Rows of one shard since the last flush, and the sequence range they came from."""

    shard_id: str
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    first_seq: str | None = None
    last_seq: str | None = None
    records: int = 0
    row_count: int = 0
    approx_bytes: int = 0
    started: float | None = None  # monotonic time of the oldest record
    dead_letters: int = 0
    dates: set[Any] = field(default_factory=set)

    def add_record(self, sequence_number: str, rows: list[OutRow]) -> None:
        if self.first_seq is None:
            self.first_seq = sequence_number
            self.started = time.monotonic()
        self.last_seq = sequence_number
        self.records += 1
        for row in rows:
            if row.table == "dim_date":  # one row per date per batch: they never differ
                if row.values["date_id"] in self.dates:
                    continue
                self.dates.add(row.values["date_id"])
            self.rows.setdefault(row.table, []).append(row.values)
            self.row_count += 1
            self.approx_bytes += 40 * len(row.values)

    @property
    def empty(self) -> bool:
        return self.first_seq is None

    def age_s(self) -> float:
        return 0.0 if self.started is None else time.monotonic() - self.started

    def due(self, *, max_rows: int, max_bytes: int, max_age_s: float) -> bool:
        return not self.empty and (
            self.row_count >= max_rows
            or self.approx_bytes >= max_bytes
            or self.age_s() >= max_age_s
        )


@dataclass(frozen=True)
class FlushResult:
    manifest_key: str | None
    files: dict[str, int]
    last_seq: str


def flush(
    batch: Batch,
    store: ObjectStore,
    *,
    batch_prefix: str,
    manifest_prefix: str,
    compression: str = "zstd",
) -> FlushResult:
    """Steps 1 and 2 of the commit protocol; the caller checkpoints at ``last_seq`` after."""
    assert batch.first_seq is not None and batch.last_seq is not None
    span = f"{seq_key(batch.first_seq)}-{seq_key(batch.last_seq)}"
    files = []
    for table, rows in sorted(batch.rows.items()):  # 1
        key = f"{batch_prefix}/{table}/{batch.shard_id}/{span}.parquet"
        store.put(key, to_parquet(table, rows, compression), "application/vnd.apache.parquet")
        files.append({"table": table, "key": key, "rows": len(rows)})
    if not files:
        return FlushResult(None, {}, batch.last_seq)
    manifest_key = f"{manifest_prefix}/{batch.shard_id}/{span}.json"
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "shard_id": batch.shard_id,
        "first_sequence_number": batch.first_seq,
        "last_sequence_number": batch.last_seq,
        "records": batch.records,
        "dead_letters": batch.dead_letters,
        "files": files,
        "written_at": datetime.now(UTC).isoformat(),
    }
    store.put(manifest_key, json.dumps(manifest, indent=1).encode(), "application/json")  # 2
    return FlushResult(manifest_key, {f["table"]: f["rows"] for f in files}, batch.last_seq)


def dead_letter(
    store: ObjectStore,
    prefix: str,
    *,
    shard_id: str,
    sequence_number: str,
    partition_key: str,
    raw: bytes,
    reason: str,
) -> str:
    """Keep a record that cannot be decoded or transformed, with why and where it was."""
    key = f"{prefix}/{shard_id}/{seq_key(sequence_number)}.json"
    body = {
        "reason": reason,
        "shard_id": shard_id,
        "sequence_number": sequence_number,
        "partition_key": partition_key,
        "raw_base64": base64.b64encode(raw).decode(),  # exactly the bytes received, for a replay
        "raw_text": raw.decode("utf-8", errors="replace"),  # for people reading the dead letter
        "dead_lettered_at": datetime.now(UTC).isoformat(),
    }
    store.put(key, json.dumps(body).encode(), "application/json")
    return key

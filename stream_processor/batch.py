"""Micro-batches: rows buffered per target table, written as parquet files plus a manifest
(Contract C, ``contracts.batches``). The order they are written in, and the checkpoint after
them, is ``shard.ShardProcessor.commit``'s.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from contracts.batches import (
    BatchFile,
    DeadLetter,
    Manifest,
    ObjectStore,
    batch_file_key,
    dead_letter_key,
    manifest_key,
)
from contracts.generation import GENERATION
from contracts.star_schema import schema_of
from stream_processor.transform import OutRow


def to_parquet(table: str, rows: list[dict[str, Any]], compression: str = "zstd") -> bytes:
    """Rows as a parquet file with the table's explicit schema (never inferred), converted
    column by column (a column missing from a row is null)."""
    schema = schema_of(table)
    columns = {name: list(map(dict.get, rows, repeat(name))) for name in schema.names}
    arrow = pa.Table.from_pydict(columns, schema=schema)
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
    processor_errors: int = 0

    def add_record(self, sequence_number: str, rows: tuple[OutRow, ...] | list[OutRow]) -> None:
        if self.first_seq is None:
            self.first_seq = sequence_number
            self.started = time.monotonic()
        self.last_seq = sequence_number
        self.records += 1
        for row in rows:
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


def write_files(batch: Batch, store: ObjectStore, compression: str = "zstd") -> list[BatchFile]:
    """One parquet file per table touched, under keys from the batch's sequence range."""
    assert batch.first_seq is not None and batch.last_seq is not None
    files = []
    for table, rows in sorted(batch.rows.items()):
        key = batch_file_key(table, batch.shard_id, batch.first_seq, batch.last_seq)
        store.put(key, to_parquet(table, rows, compression), "application/vnd.apache.parquet")
        files.append(BatchFile(table, key, len(rows)))
    return files


def write_manifest(batch: Batch, files: list[BatchFile], store: ObjectStore) -> str:
    """The manifest listing ``files``, with the transform generation that made them; returns
    its key."""
    assert batch.first_seq is not None and batch.last_seq is not None
    manifest = Manifest.now(
        shard_id=batch.shard_id,
        first_sequence_number=batch.first_seq,
        last_sequence_number=batch.last_seq,
        records=batch.records,
        dead_letters=batch.dead_letters,
        files=tuple(files),
        generation=GENERATION,
    )
    key = manifest_key(batch.shard_id, batch.first_seq, batch.last_seq)
    store.put(key, manifest.to_json(), "application/json")
    return key


def dead_letter(store: ObjectStore, letter: DeadLetter) -> str:
    """Keep a record that cannot be decoded or transformed, with why and where it was."""
    key = dead_letter_key(letter.shard_id, letter.sequence_number)
    store.put(key, letter.to_json(), "application/json")
    return key

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


def to_arrow(table: str, rows: list[dict[str, Any]]) -> pa.Table:
    """Rows as an Arrow table with the table's explicit schema (never inferred), converted
    column by column (a column missing from a row is null). Raises what pyarrow raises for a
    value the schema cannot hold (``UNWRITABLE``)."""
    schema = schema_of(table)
    columns = {name: list(map(dict.get, rows, repeat(name))) for name in schema.names}
    return pa.Table.from_pydict(columns, schema=schema)


# What converting a value to its Arrow type raises when the type cannot hold it (too wide for
# its decimal, outside its integer or date range, of another type).
UNWRITABLE = (pa.ArrowException, OverflowError, ValueError, TypeError)


def parquet_bytes(arrow: pa.Table, compression: str = "zstd") -> bytes:
    sink = io.BytesIO()
    pq.write_table(arrow, sink, compression=compression)
    return sink.getvalue()


def unwritable_rows(table: str, rows: list[dict[str, Any]]) -> dict[int, str]:
    """Index → reason of each row of ``rows`` that cannot be converted to ``table``'s Arrow
    schema, found by bisection: a batch with one such row costs about 2 log2(n) conversions
    of ever smaller halves, and a batch without any costs one."""
    try:
        to_arrow(table, rows)
        return {}
    except UNWRITABLE as exc:
        if len(rows) == 1:
            return {0: f"its {table} row cannot be written as parquet: {type(exc).__name__}: {exc}"}
    middle = len(rows) // 2
    found = unwritable_rows(table, rows[:middle])
    found |= {middle + i: why for i, why in unwritable_rows(table, rows[middle:]).items()}
    return found


@dataclass
class Batch:
    """Rows of one shard since the last flush, the sequence range they came from, and each
    row's record (``row_records``) with the record's raw data (``sources``), so that a record
    whose rows cannot be written can be found and dead-lettered at commit."""

    shard_id: str
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    row_records: dict[str, list[str]] = field(default_factory=dict)  # table → row's sequence no.
    sources: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # seq → (key, data)
    first_seq: str | None = None
    last_seq: str | None = None
    records: int = 0
    row_count: int = 0
    approx_bytes: int = 0
    started: float | None = None  # monotonic time of the oldest record
    dead_letters: int = 0
    processor_errors: int = 0

    def add_record(
        self,
        sequence_number: str,
        rows: tuple[OutRow, ...] | list[OutRow],
        source: tuple[str, bytes] | None = None,
    ) -> None:
        """``source``: the record's (partition key, data), kept while it has rows here."""
        if self.first_seq is None:
            self.first_seq = sequence_number
            self.started = time.monotonic()
        self.last_seq = sequence_number
        self.records += 1
        if rows and source is not None:
            self.sources[sequence_number] = source
        for row in rows:
            self.rows.setdefault(row.table, []).append(row.values)
            self.row_records.setdefault(row.table, []).append(sequence_number)
            self.row_count += 1
            self.approx_bytes += 40 * len(row.values)

    def remove_rows_of(self, sequence_numbers: set[str]) -> None:
        """Take every row of these records out of the batch (the records stay counted in its
        range: they are dead letters now)."""
        for table in list(self.rows):
            kept = [
                (row, seq)
                for row, seq in zip(self.rows[table], self.row_records[table], strict=True)
                if seq not in sequence_numbers
            ]
            self.row_count -= len(self.rows[table]) - len(kept)
            if kept:
                self.rows[table] = [row for row, _ in kept]
                self.row_records[table] = [seq for _, seq in kept]
            else:
                del self.rows[table], self.row_records[table]

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


def encode_files(
    batch: Batch, compression: str = "zstd"
) -> tuple[dict[str, bytes], dict[str, str]]:
    """Pure: each table's parquet file, and the records (sequence number → reason) whose rows
    parquet cannot hold. Those records' rows are first taken out of the batch, in every table
    (a record is whole or not at all), so that one such value is one dead letter instead of a
    batch that fails at every commit. Each table is converted to Arrow once; only a table that
    fails is bisected (``unwritable_rows``) and, once the records are out, converted again."""
    arrow: dict[str, pa.Table] = {}
    refused: dict[str, str] = {}
    for table, rows in sorted(batch.rows.items()):
        try:
            arrow[table] = to_arrow(table, rows)
        except UNWRITABLE:
            for index, reason in unwritable_rows(table, rows).items():
                refused.setdefault(batch.row_records[table][index], reason)
    if refused:
        batch.remove_rows_of(set(refused))
        arrow = {  # every table held rows of those records, not only the ones that failed
            table: to_arrow(table, rows) for table, rows in sorted(batch.rows.items())
        }
    files = {table: parquet_bytes(data, compression) for table, data in sorted(arrow.items())}
    return files, refused


def put_files(batch: Batch, files: dict[str, bytes], store: ObjectStore) -> list[BatchFile]:
    """The encoded files under keys from the batch's sequence range."""
    assert batch.first_seq is not None and batch.last_seq is not None
    written = []
    for table, body in files.items():
        key = batch_file_key(table, batch.shard_id, batch.first_seq, batch.last_seq)
        store.put(key, body, "application/vnd.apache.parquet")
        written.append(BatchFile(table, key, len(batch.rows[table])))
    return written


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

"""Rows the warehouse refused: the loader's dead letters, one per row, in the batch bucket.

A row PostgreSQL refuses for its data (a value too long for its column, a NUL character, a
number out of range, a ``NOT NULL`` or ``CHECK`` violation: ``load.REFUSALS``) is set aside
by the load and the rest of its manifest loads (``load.copy_rows``). Before the load commits,
each such row is written here as a letter, like the processor's dead letters
(``contracts.batches.DeadLetter``): what was refused, why, and where it came from.

Keys: ``loader-rejected/<manifest key without manifests/ and .json>/g<generation>/<table>/
<row index in its file>.json``, deterministic, so a retried load writes the same letters
again. A letter's ``row`` holds the row's values as JSON (decimals as strings, dates, times
and timestamps in ISO 8601), which an operator may correct in place before a redrive
(``warehouse_tools.redrive``); letters redriven into the warehouse move to
``loader-rejected-redriven/`` (same name), with what became of them. Nothing is deleted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from contracts.batches import (
    MANIFEST_PREFIX,
    REJECTED_PREFIX,
    REJECTED_REDRIVEN_PREFIX,
    ObjectStore,
)
from contracts.star_schema import PUBLISHED, schema_of

if TYPE_CHECKING:  # load imports this module to write letters
    from warehouse_loader.load import Refusal


class RejectedLetterError(ValueError):
    """Bytes under ``loader-rejected/`` that are not a letter, or a letter whose row does not
    fit its table's published schema (e.g. a value mistyped when it was corrected)."""


def letter_key(manifest_key: str, generation: int, table: str, position: int) -> str:
    stem = manifest_key.removeprefix(MANIFEST_PREFIX + "/").removesuffix(".json")
    return f"{REJECTED_PREFIX}/{stem}/g{generation}/{table}/{position:07d}.json"


def redriven_key(key: str) -> str:
    """Where a letter is kept once redriven: the same name under its own prefix."""
    return REJECTED_REDRIVEN_PREFIX + key.removeprefix(REJECTED_PREFIX)


def _json_value(value: Any) -> Any:  # noqa: ANN401 - a value as Arrow gives it
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


def _arrow_value(value: Any, kind: pa.DataType) -> Any:  # noqa: ANN401 - a JSON value
    if value is None:
        return None
    if pa.types.is_decimal(kind):
        return Decimal(value)
    if pa.types.is_timestamp(kind):
        return datetime.fromisoformat(value)
    if pa.types.is_date(kind):
        return date.fromisoformat(value)
    if pa.types.is_time(kind):
        return time.fromisoformat(value)
    return value


@dataclass(frozen=True)
class RejectedRow:
    """One refused row: its table and values, PostgreSQL's reason, and the manifest (and its
    generation, shard and file position) it came in."""

    table: str
    row: dict[str, Any]  # JSON-safe values, by column
    sqlstate: str
    error: str  # the driver's exception class, e.g. StringDataRightTruncation
    reason: str
    manifest: str
    generation: int
    shard_id: str
    position: int
    rejected_at: datetime
    attempts: int = 1  # loads that refused it: the first, then each redrive that still did
    redriven: dict[str, Any] | None = None  # set when moved under REJECTED_REDRIVEN_PREFIX

    @classmethod
    def of(cls, refusal: Refusal, manifest_key: str, generation: int, shard_id: str) -> RejectedRow:
        return cls(
            table=refusal.table,
            row={k: _json_value(v) for k, v in refusal.values.items()},
            sqlstate=refusal.sqlstate,
            error=refusal.error,
            reason=refusal.message,
            manifest=manifest_key,
            generation=generation,
            shard_id=shard_id,
            position=refusal.position,
            rejected_at=datetime.now(UTC),
        )

    @property
    def key(self) -> str:
        return letter_key(self.manifest, self.generation, self.table, self.position)

    def to_json(self) -> bytes:
        body: dict[str, Any] = {
            "table": self.table,
            "sqlstate": self.sqlstate,
            "error": self.error,
            "reason": self.reason,
            "manifest": self.manifest,
            "generation": self.generation,
            "shard_id": self.shard_id,
            "position": self.position,
            "rejected_at": self.rejected_at.isoformat(),
            "attempts": self.attempts,
            "row": self.row,
        }
        if self.redriven is not None:
            body["redriven"] = self.redriven
        return json.dumps(body, indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes) -> RejectedRow:
        try:
            raw = json.loads(data)
            letter = cls(
                table=raw["table"],
                row=dict(raw["row"]),
                sqlstate=raw["sqlstate"],
                error=raw["error"],
                reason=raw["reason"],
                manifest=raw["manifest"],
                generation=int(raw["generation"]),
                shard_id=raw["shard_id"],
                position=int(raw["position"]),
                rejected_at=datetime.fromisoformat(raw["rejected_at"]),
                attempts=int(raw.get("attempts", 1)),
                redriven=raw.get("redriven"),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise RejectedLetterError(f"not a letter: {type(exc).__name__}: {exc}") from None
        if letter.table not in PUBLISHED:
            raise RejectedLetterError(f"not a letter: unknown table {letter.table!r}")
        return letter

    def arrow_row(self) -> dict[str, Any]:
        """The row as Arrow takes it in the table's published schema (``RejectedLetterError``
        if a column is missing or extra, or a value is not of its column's type)."""
        schema = schema_of(self.table)
        if set(self.row) != set(schema.names):
            raise RejectedLetterError(
                f"{self.key}: the row's columns are not {self.table}'s: "
                f"missing {sorted(set(schema.names) - set(self.row))}, "
                f"extra {sorted(set(self.row) - set(schema.names))}"
            )
        try:
            return {f.name: _arrow_value(self.row[f.name], f.type) for f in schema}
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise RejectedLetterError(f"{self.key}: {type(exc).__name__}: {exc}") from None


def rows_of(letters: list[RejectedRow]) -> pa.Table:
    """The letters' rows (all of one table) as an Arrow table in its published schema."""
    (table,) = {letter.table for letter in letters}
    try:
        return pa.Table.from_pylist([r.arrow_row() for r in letters], schema=schema_of(table))
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        raise RejectedLetterError(f"rows of {table}: {type(exc).__name__}: {exc}") from None


def write(
    store: ObjectStore,
    manifest_key: str,
    generation: int,
    shard_id: str,
    refusals: list[Refusal],
) -> list[str]:
    """A letter per refused row of the manifest (``load.load_manifest``, before commit);
    returns their keys."""
    keys = []
    for refusal in refusals:
        letter = RejectedRow.of(refusal, manifest_key, generation, shard_id)
        store.put(letter.key, letter.to_json(), "application/json")
        keys.append(letter.key)
    return keys


def letters(
    store: ObjectStore,
    *,
    table: str | None = None,
    reason: str | None = None,
    manifest: str | None = None,
) -> Iterator[tuple[str, RejectedRow]]:
    """(key, letter) of every letter not yet redriven, in key order (by manifest, table,
    position), filtered by table, a substring of the reason, and a prefix of the manifest
    key."""
    for key in store.keys(REJECTED_PREFIX + "/"):
        try:
            letter = RejectedRow.from_json(store.get(key))
        except RejectedLetterError as exc:
            raise RejectedLetterError(f"{key}: {exc}") from None
        if table is not None and letter.table != table:
            continue
        if reason is not None and reason not in letter.reason:
            continue
        if manifest is not None and not letter.manifest.startswith(manifest):
            continue
        yield key, letter

"""Join state: the latest image of every source row a joined dimension needs.

dim_staff joins staff to department, dim_counterparty joins counterparty to its legal
address; either side may arrive first, on any shard, at any worker. The store keeps, per
row, its newest image (a ``Put`` only ever moves a row forward in version; a delete is kept as
a tombstone) and, per parent, the children that reference it (``AddMember``).

Why two workers racing on the two sides of a join cannot both miss each other: each writes
its own side *before* reading the other (``join_batch`` writes a whole batch first), and the
store is linearizable (DynamoDB strongly consistent reads; a dict here). Whichever write lands
second, its writer reads the first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from contracts.change_records import DATE_TEXT, NUMERIC, SOURCE_TABLES, TIMESTAMP
from stream_processor.transform import AddMember, Image, Put, Versioned, Write

RowKey = tuple[str, int]  # (source table, key)


def encode_image(image: Image | None) -> str:
    """An image as JSON text (timestamps, dates and decimals as strings)."""

    def plain(value: Any) -> Any:  # noqa: ANN401
        if isinstance(value, datetime | date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        return value

    return json.dumps(
        None if image is None else {k: plain(v) for k, v in image.items()}, sort_keys=True
    )


def decode_image(table: str, text: str) -> Image | None:
    raw = json.loads(text)
    if raw is None:
        return None
    kinds = SOURCE_TABLES[table]
    out: Image = {}
    for column, value in raw.items():
        kind = kinds.get(column)
        if value is None or kind is None:
            out[column] = value
        elif kind == TIMESTAMP:
            out[column] = datetime.fromisoformat(value)
        elif kind == DATE_TEXT:
            out[column] = date.fromisoformat(value)
        elif kind == NUMERIC:
            out[column] = Decimal(value)
        else:
            out[column] = value
    return out


class MemoryJoinState:
    """In one process: unit tests, and the snapshot a batch is transformed against
    (``join_batch.BatchView``). A ``transform.JoinView``."""

    def __init__(self) -> None:
        self.rows: dict[RowKey, tuple[int, str]] = {}
        self.children: dict[RowKey, set[int]] = {}

    def get(self, table: str, key: int) -> Versioned | None:
        found = self.rows.get((table, key))
        return None if found is None else (found[0], decode_image(table, found[1]))

    def members(self, parent_table: str, parent_key: int) -> set[int]:
        return set(self.children.get((parent_table, parent_key), set()))

    def apply(self, writes: Iterable[Write]) -> None:
        """Apply a transform's writes (a put only moves a row forward in version)."""
        for w in writes:
            if isinstance(w, Put):
                current = self.rows.get((w.table, w.key))
                if current is None or w.version > current[0]:
                    self.rows[(w.table, w.key)] = (w.version, encode_image(w.image))
            elif isinstance(w, AddMember):
                self.children.setdefault((w.parent_table, w.parent_key), set()).add(w.child_key)
            else:
                raise TypeError(f"not a join-state write: {w!r}")

    # --- bulk (join_batch.BulkJoinState) --------------------------------------------------

    def write_many(self, plan: Any) -> None:  # noqa: ANN401 - a join_batch.Plan
        self.apply(plan.writes())

    def get_many(self, keys: set[RowKey]) -> dict[RowKey, tuple[int, str]]:
        return {k: self.rows[k] for k in keys if k in self.rows}

    def members_many(self, parents: set[RowKey]) -> dict[RowKey, set[int]]:
        return {k: set(self.children[k]) for k in parents if k in self.children}

"""Join state: the latest image of every source row a joined dimension needs.

dim_staff joins staff to department, dim_counterparty joins counterparty to its legal
address; either side may arrive first, on any shard, at any worker. The store keeps, per
row, its newest image (``put`` only ever moves a row forward in version; a delete is kept as
a tombstone) and, per parent, the children that reference it (``add_member``).

Why two workers racing on the two sides of a join cannot both miss each other: each writes
its own side *before* reading the other (``transform`` does so), and the store is
linearizable (DynamoDB strongly consistent reads; a dict here). Whichever write lands second,
its writer reads the first.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from stream_processor.source_tables import SOURCE_TABLES

Image = dict[str, Any]


class JoinState(Protocol):
    def put(self, table: str, key: int, version: int, image: Image | None) -> None:
        """Record ``image`` (None: deleted) unless a newer or equal version is stored."""

    def get(self, table: str, key: int) -> tuple[int, Image | None] | None:
        """(version, image or None when deleted), or None when the row was never seen."""

    def add_member(self, parent_table: str, parent_key: int, child_key: int) -> None:
        """Note that ``child_key`` references ``parent_key`` (never removed: readers re-check)."""

    def members(self, parent_table: str, parent_key: int) -> set[int]:
        """Children that have referenced ``parent_key``."""


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
        elif kind == "timestamp":
            out[column] = datetime.fromisoformat(value)
        elif kind == "date_text":
            out[column] = date.fromisoformat(value)
        elif kind == "numeric":
            out[column] = Decimal(value)
        else:
            out[column] = value
    return out


class MemoryJoinState:
    """In one process, for unit tests and single-worker runs."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], tuple[int, str]] = {}
        self.children: dict[tuple[str, int], set[int]] = {}

    def put(self, table: str, key: int, version: int, image: Image | None) -> None:
        current = self.rows.get((table, key))
        if current is None or version > current[0]:
            self.rows[(table, key)] = (version, encode_image(image))

    def get(self, table: str, key: int) -> tuple[int, Image | None] | None:
        found = self.rows.get((table, key))
        return None if found is None else (found[0], decode_image(table, found[1]))

    def add_member(self, parent_table: str, parent_key: int, child_key: int) -> None:
        self.children.setdefault((parent_table, parent_key), set()).add(child_key)

    def members(self, parent_table: str, parent_key: int) -> set[int]:
        return set(self.children.get((parent_table, parent_key), set()))

    # --- bulk (join_batch) ----------------------------------------------------------------

    def write_many(self, plan: Any) -> None:  # noqa: ANN401 - a join_batch.Plan
        for (table, key), (version, image) in plan.puts.items():
            self.put(table, key, version, image)
        for (table, key), children in plan.members.items():
            self.children.setdefault((table, key), set()).update(children)

    def get_many(self, keys: set[tuple[str, int]]) -> dict[tuple[str, int], tuple[int, str]]:
        return {k: self.rows[k] for k in keys if k in self.rows}

    def members_many(self, parents: set[tuple[str, int]]) -> dict[tuple[str, int], set[int]]:
        return {k: set(self.children[k]) for k in parents if k in self.children}

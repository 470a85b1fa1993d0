"""The join state in one process: unit tests, and the snapshot a batch is transformed against
(``join_batch.BatchView``)."""

from __future__ import annotations

from collections.abc import Iterable

from stream_processor.join_state.codec import decode_image, encode_image
from stream_processor.join_state.interface import BatchWrites, RowKey
from stream_processor.transform import AddMember, Put, Versioned, Write


class MemoryJoinState:
    """A ``JoinState`` (``interface``) and, change by change, a ``transform.JoinView``."""

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

    # --- bulk (interface.JoinState) -------------------------------------------------------

    def write_many(self, writes: BatchWrites) -> None:
        self.apply(writes.writes())

    def get_many(self, keys: set[RowKey]) -> dict[RowKey, tuple[int, str]]:
        return {k: self.rows[k] for k in keys if k in self.rows}

    def members_many(self, parents: set[RowKey]) -> dict[RowKey, set[int]]:
        return {k: set(self.children[k]) for k in parents if k in self.children}

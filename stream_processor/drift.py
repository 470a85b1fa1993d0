"""Schema drift as the processor reports it: each distinct drift (``contracts.schema_drift``:
table, kind, column, detail) once per process, however many records show it.

The record processor is one process per shard (the MultiLangDaemon starts one per lease), so
``SEEN``, the process's registry, reports a drift once per shard and again after a restart:
what an operator needs to see it, not once per record. The count of new drifts is the
``SchemaDrift`` figure each commit publishes (``ShardProcessor.commit``).
"""

from __future__ import annotations

from collections.abc import Iterable

from contracts.events import warning
from contracts.schema_drift import COLUMN_TYPE_CHANGED, Drift


class DriftRegistry:
    """The drifts one process has reported."""

    def __init__(self) -> None:
        self.seen: set[Drift] = set()
        # (table, column) → its type change: named in the reason of a value that fails to decode
        self.types: dict[tuple[str, str], Drift] = {}

    def note(self, drifts: Iterable[Drift], *, policy: str, **context: object) -> list[Drift]:
        """Report each drift not seen before (a ``schema_drift`` WARNING event with
        ``context``: the shard, the record's sequence number); return those."""
        new = []
        for drift in drifts:
            if drift in self.seen:
                continue
            self.seen.add(drift)
            if drift.kind == COLUMN_TYPE_CHANGED:
                self.types[(drift.table, drift.column)] = drift
            warning(
                "schema_drift",
                table=drift.table,
                kind=drift.kind,
                column=drift.column or None,
                detail=drift.detail,
                breaking=drift.breaking,
                policy=policy,
                **context,
            )
            new.append(drift)
        return new

    def type_change(self, column: str | None) -> Drift | None:
        """The type change seen for ``table.column``, if any."""
        if column is None:
            return None
        table, _, name = column.partition(".")
        return self.types.get((table, name))


SEEN = DriftRegistry()

"""Factories: Contract A records built with the capture engine's own encoder."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cdc.capture.records import TransactionPosition, data_record, pg_text, table_def

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def record(
    table: str,
    row: dict[str, Any],
    operation: str = "insert",
    commit: int = 0x1000,
    record_id: int = 1,
) -> bytes:
    """The bytes DMS (and cdc capture) write for ``row``; ``commit`` sets the version."""
    tdef = table_def(table)
    if operation == "delete":
        row = {c.name: (row[c.name] if c.name == f"{table}_id" else None) for c in tdef.columns}
    values = [pg_text(row.get(c.name)) for c in tdef.columns]
    position = (
        None
        if operation == "load"
        else TransactionPosition(
            xid=7,
            record_id=record_id,
            commit_lsn=commit,
            change_lsn=commit - 8,
            commit_time=NOW,
            previous=None,
        )
    )
    return data_record(tdef, operation, values, now=NOW, position=position).data

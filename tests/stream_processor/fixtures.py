"""Factories: Contract A records built with the capture engine's own encoder."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from cdc.capture.records import ColumnDef, TableDef, TransactionPosition, data_record
from stream_processor.source_tables import SOURCE_TABLES

OIDS = {"int": 23, "text": 25, "numeric": 1700, "bool": 16, "timestamp": 1114, "date_text": 25}
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def table_def(table: str) -> TableDef:
    kinds = SOURCE_TABLES[table]
    return TableDef(
        "public",
        table,
        tuple(ColumnDef(c, OIDS[k], True) for c, k in kinds.items()),
        (f"{table}_id",),
    )


def pg_text(value: Any) -> str | None:  # noqa: ANN401
    """A Python value as PostgreSQL prints it (what pgoutput sends)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | Decimal | int):
        return str(value)
    return value


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

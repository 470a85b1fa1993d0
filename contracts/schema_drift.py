"""Schema drift: how what the source sends differs from Contract A (``change_records``). Pure:
the stream processor compares every record with it (``stream_processor.decode``), and ``cdc
monitor`` the live catalogue.

A drift is one difference, named by (table, kind, column, detail):

- ``column_added``: a column Contract A does not have (an ``ALTER TABLE ... ADD COLUMN``, or
  the new name of a renamed column). Not carried: nothing downstream has a place for it until
  the contract does (docs/contracts.md's evolution procedure).
- ``column_gone``: a column of Contract A the source no longer sends (a ``DROP COLUMN``, or the
  old name of a renamed one). Nullable in the contract: loads as NULL from then on; NOT NULL:
  the table's insert, update and load records are refused (``breaking``).
- ``column_type_changed``: a column whose source type is no longer the contract kind's. Whether
  its values still decode is ``TAKES``: a type whose values the kind does not take (text that
  became an integer) is ``breaking``; a wider one (integer to bigint) decodes while the values
  fit the contract and refuses those that do not.
- ``table_added``: records, or control records, for a table Contract A does not have. Its
  records are refused (they have nowhere to go), so ``breaking``.
- ``table_dropped``: a ``drop-table`` control record for a table of Contract A.

Types are DMS's own names, the ones a control record's ``table-def`` carries for each column
(``"type": "INT4"``): "Data types for AWS Database Migration Service", AWS DMS User Guide,
https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Reference.DataTypes.html (STRING,
WSTRING, BOOLEAN, BYTE, DATE, TIME, DATETIME, INT1..INT8, NUMERIC, REAL4, REAL8, UINT1..UINT8,
BLOB, CLOB, NCLOB). A PostgreSQL source's types become them as "Source data types for
PostgreSQL" (the same guide) lists: integer INT4, smallint INT2, bigint INT8, numeric(p, s)
NUMERIC, varchar WSTRING, text NCLOB, boolean BOOLEAN, timestamp DATETIME, date DATE. A
control record DMS published to Kinesis from an RDS PostgreSQL source names integers by their
bits (``"type": "INT32"``, text ``STRING``: crate/cratedb-toolkit, tests/io/kinesis/data.py),
as the local capture engine does: INT16/INT32/INT64 are read as INT2/INT4/INT8 (and INT8 as the
guide's eight-byte integer, PostgreSQL having no one-byte one), the engine's TIMESTAMP as
DATETIME.

Where a record's key set is enough (a data record carries no types), ``drift_of_keys``; a
control record, ``drift_of_table_def``; both come down to ``drift_of_columns``. DMS's own
control tables (``awsdms_*``, which DMS announces with create-table records of its own,
docs/capture.md, Records in DMS's own shapes) are never drift.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

from contracts.change_records import (
    BOOL,
    DATE_TEXT,
    INT,
    NULLABLE,
    NUMERIC,
    SOURCE_TABLES,
    TEXT,
    TIMESTAMP,
)

COLUMN_ADDED: Final = "column_added"
COLUMN_GONE: Final = "column_gone"
COLUMN_TYPE_CHANGED: Final = "column_type_changed"
TABLE_ADDED: Final = "table_added"
TABLE_DROPPED: Final = "table_dropped"
KINDS = (COLUMN_ADDED, COLUMN_GONE, COLUMN_TYPE_CHANGED, TABLE_ADDED, TABLE_DROPPED)

_CONTRACT_KINDS = frozenset({INT, TEXT, NUMERIC, BOOL, TIMESTAMP, DATE_TEXT})
_TEXTS = frozenset({"STRING", "WSTRING", "CLOB", "NCLOB"})
_INTEGERS = frozenset({"INT1", "INT2", "INT4", "INT8", "UINT1", "UINT2", "UINT4", "UINT8"})

# The DMS types each Contract A kind is, for a ToteSys column as it is today (no drift).
SAME: dict[str, frozenset[str]] = {
    INT: frozenset({"INT4"}),
    TEXT: _TEXTS,
    NUMERIC: frozenset({"NUMERIC"}),
    BOOL: frozenset({"BOOLEAN"}),
    TIMESTAMP: frozenset({"DATETIME"}),
    DATE_TEXT: _TEXTS,  # business dates are text in ToteSys
}
# The DMS types whose JSON values decode as each kind (``stream_processor.decode``'s
# converters), all of them or while they fit the kind's limits: integers as numbers, NUMERIC as
# its text, DATETIME and DATE as ISO text, strings as strings.
TAKES: dict[str, frozenset[str]] = {
    INT: _INTEGERS,
    TEXT: _TEXTS | {"NUMERIC", "DATE", "TIME", "DATETIME"},
    NUMERIC: _INTEGERS | {"NUMERIC"},
    BOOL: frozenset({"BOOLEAN"}),
    TIMESTAMP: frozenset({"DATETIME", "DATE"}),
    DATE_TEXT: _TEXTS | {"DATE"},
}
# What the local capture engine (cdc.capture.records.dms_type) wrote before it used DMS's names.
_ALIASES = {"INT16": "INT2", "INT32": "INT4", "INT64": "INT8", "TIMESTAMP": "DATETIME"}


@dataclass(frozen=True, order=True)
class Drift:
    """One difference between the source and Contract A. ``column`` is "" for a table's own
    drift (added, dropped); ``detail`` says what the source has now and what follows from it;
    ``breaking``: records of the table are refused for it (dead-lettered) even when the policy
    is lenient."""

    table: str
    kind: str
    column: str
    detail: str
    breaking: bool = False

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        return f"schema drift: {where} {self.kind.replace('_', ' ')} ({self.detail})"


def dms_type(name: str) -> str:
    """A column type as a control record names it, as DMS's own upper-case name."""
    upper = name.strip().upper()
    return _ALIASES.get(upper, upper)


def is_dms_table(table: str) -> bool:
    """DMS's own control tables (``awsdms_apply_exceptions``, ``awsdms_status``, ...)."""
    return table.lower().startswith("awsdms_")


def _gone(table: str, column: str) -> Drift:
    if column in NULLABLE.get(table, ()):
        return Drift(table, COLUMN_GONE, column, "nullable in Contract A: loads as NULL")
    return Drift(
        table,
        COLUMN_GONE,
        column,
        "NOT NULL in Contract A: the table's insert, update and load records are refused",
        breaking=True,
    )


def _type_drift(table: str, column: str, kind: str, given: str) -> Drift | None:
    if given in _CONTRACT_KINDS:
        if given == kind:
            return None
        return Drift(
            table,
            COLUMN_TYPE_CHANGED,
            column,
            f"now {given}, Contract A has {kind}",
            breaking=True,
        )
    name = dms_type(given)
    if name in SAME[kind]:
        return None
    if name in TAKES[kind]:
        detail = f"now {name}, Contract A has {kind}: values decode while they fit {kind}"
        return Drift(table, COLUMN_TYPE_CHANGED, column, detail)
    detail = f"now {name}, Contract A has {kind}: its values do not decode as {kind}"
    return Drift(table, COLUMN_TYPE_CHANGED, column, detail, breaking=True)


def drift_of_columns(table: str, columns: Mapping[str, str]) -> list[Drift]:
    """How the source's table ``table`` with ``columns`` differs from Contract A, sorted.

    ``columns`` maps each column the source has now to its type: a Contract A kind (``"int"``,
    ``"text"``, ... as ``change_records`` names them) or a DMS type name (``"INT4"``,
    ``"WSTRING"``, ... case-insensitive); an empty string compares the name only. A table
    Contract A does not have is one ``table_added`` drift (none for DMS's own ``awsdms_*``
    tables). Every column of the table counts, so ``columns`` must be the whole table: a
    column missing from it is ``column_gone``."""
    if table not in SOURCE_TABLES:
        if is_dms_table(table):
            return []
        return [Drift(table, TABLE_ADDED, "", "not in Contract A: its records are refused", True)]
    contract = SOURCE_TABLES[table]
    out = [
        Drift(table, COLUMN_ADDED, c, "not in Contract A: not carried")
        for c in columns
        if c not in contract
    ]
    out += [_gone(table, c) for c in contract if c not in columns]
    for column, given in columns.items():
        kind = contract.get(column)
        if kind is not None and given:
            drift = _type_drift(table, column, kind, given)
            if drift is not None:
                out.append(drift)
    return sorted(out)


def drift_of_keys(table: str, operation: str, keys: Collection[str]) -> list[Drift]:
    """How a data record's columns (``keys``, the keys of its ``data``) differ from Contract A.

    Our DMS endpoint sends every column, NULLs included (``IncludeNullAndEmpty``, cdc.dms_task),
    so a column an insert, update or load record lacks is gone from the source. A delete
    carries only what the source logged (the key, under PostgreSQL's default replica
    identity): its missing columns are no drift, its extra ones are."""
    if operation == "delete":
        if table not in SOURCE_TABLES:
            return drift_of_columns(table, {})
        contract = SOURCE_TABLES[table]
        return sorted(
            Drift(table, COLUMN_ADDED, c, "not in Contract A: not carried")
            for c in keys
            if c not in contract
        )
    return drift_of_columns(table, dict.fromkeys(keys, ""))


def drift_of_table_def(
    table: str, operation: str, table_def: Mapping[str, Any] | None
) -> list[Drift]:
    """How a control record (``operation``: create-table, add-column, drop-column,
    rename-column, column-type-change, drop-table, ...) with ``control.table-def`` differs
    from Contract A. ``table_def["columns"]`` maps each column to its definition, ``{"type":
    "INT4", "nullable": false, ...}``: the table as it is after the change. ``drop-table`` of a
    Contract A table is ``table_dropped``; a record without column definitions
    (IncludeControlDetails off) compares nothing but the table."""
    if operation == "drop-table":
        if table in SOURCE_TABLES:
            return [
                Drift(
                    table,
                    TABLE_DROPPED,
                    "",
                    "dropped at the source: no more changes come; the warehouse keeps its rows",
                )
            ]
        return []
    columns = table_def.get("columns") if isinstance(table_def, Mapping) else None
    if not isinstance(columns, Mapping) or not columns:
        return [] if table in SOURCE_TABLES else drift_of_columns(table, {})
    types = {
        str(name): str(d.get("type", "")) if isinstance(d, Mapping) else ""
        for name, d in columns.items()
    }
    return drift_of_columns(table, types)

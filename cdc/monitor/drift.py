"""The source side of schema drift: ToteSys's live catalogue against Contract A.

``cdc monitor`` reads every table of the source's ``public`` schema from ``pg_catalog`` (its
columns, in order, with their types), names each type as DMS does, and compares the tables with
Contract A through ``contracts.schema_drift`` (the comparison the stream processor makes of
every record): columns added, gone or of another type, tables added or dropped. A drift that
breaks the contract (a NOT NULL column gone, a type whose values no longer decode as the
column's kind) is a problem, so ``cdc monitor --check`` fails on it; the others are shown.

This sees a change the moment it is committed, before any record of the table has been
written, and whichever engine captures (the local engine or a DMS task): the catalogue is the
source's own. What the processor has seen is its ``schema_drift`` events and metric.
"""

from __future__ import annotations

import dataclasses

import psycopg

from cdc.monitor.model import TaskHealth
from contracts.change_records import SOURCE_TABLES
from contracts.schema_drift import TABLE_ADDED, TABLE_DROPPED, Drift, drift_of_columns, is_dms_table

SCHEMA = "public"

# What DMS calls a PostgreSQL type ("Source data types for PostgreSQL", AWS DMS User Guide,
# https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Source.PostgreSQL.html), by pg_type's
# typname. Enums are text to DMS (the capture engine writes them as strings). A type not here
# keeps its own name (upper case), which no Contract A kind takes: its column is drift.
PG_DMS_TYPES = {
    "int2": "INT2",
    "int4": "INT4",
    "int8": "INT8",
    "numeric": "NUMERIC",
    "float4": "REAL4",
    "float8": "REAL8",
    "bool": "BOOLEAN",
    "varchar": "WSTRING",
    "bpchar": "WSTRING",
    "text": "NCLOB",
    "json": "NCLOB",
    "jsonb": "NCLOB",
    "timestamp": "DATETIME",
    "timestamptz": "DATETIME",
    "date": "DATE",
    "time": "TIME",
    "bytea": "BLOB",
}
ENUM = "WSTRING"


def dms_type(typname: str, typtype: str = "b") -> str:
    """A PostgreSQL type (``pg_type.typname``, ``typtype``) as DMS names it."""
    if typtype == "e":
        return ENUM
    return PG_DMS_TYPES.get(typname, typname.upper())


def catalogue(conn: psycopg.Connection, schema: str = SCHEMA) -> dict[str, dict[str, str]]:
    """Each ordinary or partitioned table of ``schema`` now: its columns in order, each with
    its DMS type name."""
    rows = conn.execute(
        "SELECT c.relname, a.attname, t.typname, t.typtype FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND a.attnum > 0 "
        "AND NOT a.attisdropped ORDER BY c.relname, a.attnum",
        (schema,),
    ).fetchall()
    tables: dict[str, dict[str, str]] = {}
    for table, column, typname, typtype in rows:
        tables.setdefault(table, {})[column] = dms_type(typname, typtype)
    return tables


def source_drift(tables: dict[str, dict[str, str]]) -> list[Drift]:
    """How a catalogue (``catalogue``'s shape) differs from Contract A, sorted. Pure.

    A table of the source that Contract A does not have is not captured (the DMS task's
    selection rules and the local engine's publication name Contract A's tables), so it is
    drift that breaks nothing; a Contract A table missing from the source is one
    ``table_dropped`` (not a ``column_gone`` for each of its columns). DMS's own tables
    (``awsdms_*``) are never drift."""
    found: list[Drift] = []
    for table in sorted(set(tables) | set(SOURCE_TABLES)):
        if table not in tables:
            found.append(
                Drift(table, TABLE_DROPPED, "", "not in the source: no more changes come from it")
            )
        elif table not in SOURCE_TABLES:
            if not is_dms_table(table):
                found.append(
                    Drift(table, TABLE_ADDED, "", "not in Contract A: not captured, not carried")
                )
        else:
            found += drift_of_columns(table, tables[table])
    return sorted(found)


def read(dsn: str, schema: str = SCHEMA) -> list[Drift]:
    """The source's drift from Contract A, read from its catalogue now."""
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        return source_drift(catalogue(conn, schema))


def with_source_drift(health: TaskHealth, dsn: str | None) -> TaskHealth:
    """``health`` with the source's drift (``TaskHealth.source_drift``), or with a note saying
    why it was not read (no DSN, or the source could not be read)."""
    if not dsn:
        note = (
            "source schema not checked against Contract A: set TOTESYS_CDC_SOURCE_DSN "
            "(or --source-dsn) to read the source's catalogue"
        )
        return dataclasses.replace(health, notes=[*health.notes, note])
    try:
        drift = read(dsn)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        note = f"source schema not checked against Contract A: {first}"
        return dataclasses.replace(health, notes=[*health.notes, note])
    return dataclasses.replace(health, source_drift=drift)


def summary(drift: list[Drift] | None) -> str:
    """The monitor's line: ``as Contract A``, or each drift, breaking ones marked."""
    if drift is None:
        return "not checked"
    if not drift:
        return "as Contract A"
    return "; ".join(
        ("BREAKING " if d.breaking else "") + str(d).removeprefix("schema drift: ") for d in drift
    )

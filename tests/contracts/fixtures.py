"""Shared by the contract tests: how a table spec and the migrations' DDL of its table
disagree (the DDL contract test's comparison, which ``migrations new``'s tests reuse)."""

from __future__ import annotations

import pyarrow as pa

from contracts.star_schema import TableSpec
from warehouse_tools.ddl import DdlTable


def pg_type(arrow: pa.DataType, length: int | None = None) -> set[str]:
    """The PostgreSQL types (as ``ddl`` normalises them) an Arrow type (and a text column's
    length) may be stored as: text of a length is ``varchar(n)``, unbounded text ``text``."""
    if pa.types.is_decimal(arrow):
        return {f"numeric({arrow.precision},{arrow.scale})"}
    if pa.types.is_string(arrow):
        return {"text"} if length is None else {f"varchar({length})"}
    if pa.types.is_timestamp(arrow):
        return {"timestamptz"} if arrow.tz else {"timestamp(3)"}
    return {
        pa.int32(): {"integer"},
        pa.int64(): {"bigint"},
        pa.bool_(): {"boolean"},
        pa.date32(): {"date"},
        pa.time32("ms"): {"time(3)"},
    }[arrow]


def differences(spec: TableSpec, table: DdlTable) -> list[str]:
    """Every way ``spec`` and the DDL's ``table`` disagree."""
    out = []
    names = [c.name for c in spec.columns]
    if names != [c.name for c in table.columns]:
        out.append(f"{spec.name}: columns {names} != DDL {[c.name for c in table.columns]}")
        return out
    for mine, theirs in zip(spec.columns, table.columns, strict=True):
        if theirs.type not in pg_type(mine.type, mine.length):
            out.append(f"{spec.name}.{mine.name}: {mine.type} but DDL {theirs.type}")
        if mine.length != theirs.length:
            out.append(f"{spec.name}.{mine.name}: length {mine.length} but DDL {theirs.type}")
        if mine.nullable != theirs.nullable:
            out.append(f"{spec.name}.{mine.name}: nullable {mine.nullable} but DDL differs")
        if mine.references != theirs.references:
            out.append(
                f"{spec.name}.{mine.name}: references {mine.references}, DDL {theirs.references}"
            )
    if spec.name.endswith("_history"):  # one row per interval: indexed, with no key
        if table.primary_key:
            out.append(f"{spec.name}: primary key {table.primary_key}, a history has none")
    elif spec.is_fact:
        if table.primary_key != (spec.record_id,):
            out.append(f"{spec.name}: primary key {table.primary_key}, spec {spec.record_id}")
        if (spec.key, "cdc_version") not in table.unique:
            out.append(f"{spec.name}: no UNIQUE ({spec.key}, cdc_version)")
    elif table.primary_key != (spec.key,):
        out.append(f"{spec.name}: primary key {table.primary_key}, spec {spec.key}")
    return out

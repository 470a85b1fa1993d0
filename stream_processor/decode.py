"""Decoding Contract A records (``contracts.change_records``: what DMS writes to Kinesis) into
typed changes. Pure.

Anything malformed is rejected with ``DecodeError`` and a precise reason: not JSON, no
``metadata``, an unknown table or operation, a value of the wrong type, a missing primary key.
Control records (table DDL) decode to ``Control`` and never fail the shard.

JSON is parsed by orjson, about three times faster than the standard library's ``json`` on
these records (the largest single cost of the processor, measured: docs/benchmarks.md). It
returns the same Python types for Contract A's values; it is stricter about what is not JSON
(invalid UTF-8, lone surrogates, a byte-order mark, NaN or Infinity, UTF-16: all "not JSON"),
and an integer beyond 64 bits, which no PostgreSQL integer column holds, becomes a float.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from contracts.change_records import (
    BEFORE_IMAGE_FIELD,
    BOOL,
    DATA_OPERATIONS,
    DATE_TEXT,
    INT,
    INT_RANGE,
    NULLABLE,
    NUMERIC,
    NUMERIC_PRECISION,
    NUMERIC_SCALE,
    SOURCE_TABLES,
    TEXT,
    TIMESTAMP,
    primary_key,
    version_of,
)


class DecodeError(ValueError):
    """A record that is not a valid Contract A record; ``str()`` is the reason."""


@dataclass(frozen=True)
class Change:
    """One captured version of one ToteSys row."""

    table: str
    operation: str  # load | insert | update | delete
    key: int
    version: int
    image: dict[str, Any]  # typed values; a delete carries only what the source logged
    transaction_id: int | None = None
    # an update that changed the primary key: the key before (from the record's before-image)
    previous_key: int | None = None


@dataclass(frozen=True)
class Control:
    """A DDL notice (create-table, add-column, ...): noted, nothing to transform."""

    table: str
    operation: str
    columns: tuple[str, ...]


def parse_timestamp(value: Any) -> datetime:  # noqa: ANN401
    """Lenient: with or without fraction, 'T' or space, 'Z' or an offset or nothing (UTC).
    Returned naive in UTC at millisecond precision, as ToteSys stores it."""
    if not isinstance(value, str):
        raise TypeError("expected an ISO 8601 timestamp string")
    if value.endswith("Z"):  # DMS's own form: UTC already
        moment = datetime.fromisoformat(value[:-1])
    else:
        moment = datetime.fromisoformat(value.strip())
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    if moment.microsecond % 1000:
        moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    return moment


def _int(value: Any) -> int:  # noqa: ANN401
    if type(value) is int:
        number = value
    elif isinstance(value, str) and value.lstrip("-").isdigit():
        number = int(value)
    else:
        raise TypeError("expected an integer")
    if not INT_RANGE[0] <= number <= INT_RANGE[1]:
        # PostgreSQL's integer, and the warehouse's int32: such a value is no ToteSys row's,
        # and would fail the whole batch when its file is written.
        raise TypeError("out of range for a 32-bit integer")
    return number


def _text(value: Any) -> str:  # noqa: ANN401
    if type(value) is str:
        return value
    raise TypeError("expected a string")


_CENTS = Decimal(1).scaleb(-NUMERIC_SCALE)
_NUMERIC_LIMIT = Decimal(10) ** (NUMERIC_PRECISION - NUMERIC_SCALE)


def _numeric(value: Any) -> Decimal:  # noqa: ANN401
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError("expected a decimal number")
    try:
        number = Decimal(value) if isinstance(value, str | int) else Decimal(str(value))
    except InvalidOperation:
        raise TypeError("expected a decimal number") from None
    if not number.is_finite():
        raise TypeError("expected a finite decimal number")
    if abs(number) >= _NUMERIC_LIMIT or number != number.quantize(_CENTS):
        raise TypeError(f"does not fit numeric({NUMERIC_PRECISION}, {NUMERIC_SCALE})")
    return number


def _bool(value: Any) -> bool:  # noqa: ANN401
    if type(value) is bool:
        return value
    if isinstance(value, str) and value.lower() in ("true", "t", "false", "f"):
        return value.lower() in ("true", "t")
    raise TypeError("expected a boolean")


def _date(value: Any) -> date:  # noqa: ANN401
    if not isinstance(value, str):
        raise TypeError("expected a 'YYYY-MM-DD' date")
    return date.fromisoformat(value)


CONVERTERS = {
    INT: _int,
    TEXT: _text,
    NUMERIC: _numeric,
    BOOL: _bool,
    TIMESTAMP: parse_timestamp,
    DATE_TEXT: _date,
}
# A value of exactly this Python type is already what its converter would return (the common
# case, checked inline: most columns then cost no call).
_TYPED = {TEXT: str, BOOL: bool}
# Per table: (column, its typed Python type or None, converter, may be null) in order, resolved
# once.
_PLAN = {
    table: tuple(
        (column, _TYPED.get(kind), CONVERTERS[kind], column in NULLABLE.get(table, ()))
        for column, kind in kinds.items()
    )
    for table, kinds in SOURCE_TABLES.items()
}
_KEYS = {table: primary_key(table) for table in SOURCE_TABLES}


def decode(raw: bytes) -> Change | Control:
    """One Kinesis record's data."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"not JSON: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict):
        raise DecodeError("no 'metadata' object: not a DMS record")
    meta = body["metadata"]
    table, operation = meta.get("table-name"), meta.get("operation")
    if meta.get("record-type") == "control":
        control = body.get("control")
        table_def = control.get("table-def") if isinstance(control, dict) else None
        columns = table_def.get("columns") if isinstance(table_def, dict) else None
        return Control(
            str(table), str(operation), tuple(columns) if isinstance(columns, dict) else ()
        )
    if meta.get("record-type") != "data":
        raise DecodeError(f"unknown record-type {meta.get('record-type')!r}")
    if not isinstance(table, str) or table not in SOURCE_TABLES:
        raise DecodeError(f"unknown table {meta.get('schema-name')}.{table}")
    if operation not in DATA_OPERATIONS:
        raise DecodeError(f"unknown operation {operation!r} on {table}")
    data = body.get("data")
    if not isinstance(data, dict):
        raise DecodeError(f"{table} {operation} record without a 'data' object")
    key_column = _KEYS[table]
    if data.get(key_column) is None:
        raise DecodeError(f"{table} {operation} record without its primary key {key_column}")
    try:
        version = version_of(meta)
    except (ValueError, TypeError) as exc:
        raise DecodeError(f"{table} {operation}: {exc}") from None
    image: dict[str, Any] = {}
    deleting = operation == "delete"
    for column, typed, convert, nullable in _PLAN[table]:
        value = data.get(column)
        if type(value) is typed:
            image[column] = value
        elif value is None:
            if not deleting and not nullable:
                if column not in data:
                    raise DecodeError(f"{table} {operation} record is missing column {column}")
                raise DecodeError(f"{table}.{column} is null in a {operation} record")
            image[column] = None
        else:
            try:
                image[column] = convert(value)
            except (TypeError, ValueError) as exc:
                raise DecodeError(f"{table}.{column} = {value!r}: {exc}") from None
    transaction_id = meta.get("transaction-id")
    key = image[key_column]
    return Change(
        table,
        operation,
        key,
        version,
        image,
        transaction_id if isinstance(transaction_id, int) else None,
        _previous_key(body, table, key_column, key) if operation == "update" else None,
    )


def _previous_key(body: dict[str, Any], table: str, key_column: str, key: int) -> int | None:
    """The key an update's before-image holds, when it differs from the row's key now."""
    before = body.get(BEFORE_IMAGE_FIELD)
    if not isinstance(before, dict) or before.get(key_column) is None:
        return None
    try:
        old = _int(before[key_column])
    except (TypeError, ValueError) as exc:
        raise DecodeError(f"{table}.{key_column} in the before-image: {exc}") from None
    return None if old == key else old

"""Decoding Contract A records (``contracts.change_records``: what DMS writes to Kinesis) into
typed changes. Pure.

Anything malformed is rejected with ``DecodeError`` and a precise reason: not JSON, no
``metadata``, an unknown table or operation, a value of the wrong type, a missing primary key.
So is anything the stages after decode could not hold, a value outside the limits
``contracts.limits`` derives from the specs: an integer beyond 32 bits, a decimal that does not
fit numeric(10, 2), text longer than a warehouse column's ``varchar(n)`` or holding a NUL
character, a timestamp beyond the calendar once converted to UTC, a version outside
cdc_version's numeric(38, 0). Whatever a converter raises, the record is refused with
``table.column``, the value and why: such a record is one dead letter, never a batch file that
cannot be written or a load that fails. Control records (table DDL) decode to ``Control`` and
never fail the shard.

Each record is compared with Contract A (``contracts.schema_drift``): a data record's columns
(its ``data``'s keys; our DMS endpoint sends NULLs explicitly, so a key an insert, update or
load lacks is a column gone, while a delete carries only what the source logged), a control
record's ``table-def``. What differs is the record's ``drift``. The policy (``strict``, the
processor's ``TOTESYS_CDC_SCHEMA_CHANGES``) decides what follows: lenient carries on where the
contract can (a column added is not read, a nullable column gone is NULL) and refuses what
breaks it (a NOT NULL column gone, a value that no longer decodes), naming the drift; strict
refuses every record with drift. The check costs the common record one ``len`` comparison: a
record with as many keys as the contract's columns and none of them missing (looked up only
for a NULL value) has exactly the contract's keys.

JSON is parsed by orjson, about three times faster than the standard library's ``json`` on
these records (the largest single cost of the processor, measured: docs/benchmarks.md). It
returns the same Python types for Contract A's values; it is stricter about what is not JSON
(invalid UTF-8, lone surrogates, a byte-order mark, NaN or Infinity, UTF-16: all "not JSON"),
and an integer beyond 64 bits, which no PostgreSQL integer column holds, becomes a float.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    NULLABLE,
    NUMERIC,
    SOURCE_TABLES,
    TEXT,
    TIMESTAMP,
    primary_key,
    version_of,
)
from contracts.limits import NUL, VERSIONS, Limits, source_limits
from contracts.schema_drift import Drift, drift_of_keys, drift_of_table_def


class DecodeError(ValueError):
    """A record that is not a valid Contract A record; ``str()`` is the reason. ``drift``: how
    the record differs from Contract A (when it does); ``column``: ``table.column`` of the
    value that failed, when one did."""

    def __init__(
        self, reason: str, *, drift: tuple[Drift, ...] = (), column: str | None = None
    ) -> None:
        super().__init__(reason)
        self.drift = drift
        self.column = column


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
    drift: tuple[Drift, ...] = ()  # how the record's columns differ from Contract A


@dataclass(frozen=True)
class Control:
    """A DDL notice (create-table, add-column, ...): noted, nothing to transform."""

    table: str
    operation: str
    columns: tuple[str, ...]
    drift: tuple[Drift, ...] = ()  # how its table-def differs from Contract A


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
        try:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:  # '9999-12-31T23:59:59-01:00' is in the year 10000 in UTC
            raise ValueError("beyond the years 1-9999 once converted to UTC") from None
    if moment.microsecond % 1000:
        moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    return moment


# The converters: each makes the Python value of a kind from what a record holds and checks
# the column's limits (contracts.limits: its kind's, narrowed by every warehouse column fed
# from it), raising on anything else. Made per column, once.
Converter = Callable[[Any], Any]


def _int(limits: Limits) -> Converter:
    assert limits.integer is not None
    low, high = limits.integer
    out_of_range = f"out of range for {limits.integer_text}"

    def convert(value: Any) -> int:  # noqa: ANN401
        if type(value) is int:
            number = value
        elif isinstance(value, str) and value.lstrip("-").isdigit():
            number = int(value)
        else:
            raise TypeError("expected an integer")
        if not low <= number <= high:
            raise ValueError(out_of_range)
        return number

    return convert


def _text(limits: Limits) -> Converter:
    length = limits.length

    def convert(value: Any) -> str:  # noqa: ANN401
        if type(value) is not str:
            raise TypeError("expected a string")
        if length is not None and len(value) > length:
            raise ValueError(
                f"{len(value)} characters, more than the {length} of {limits.length_of}"
            )
        return value

    return convert


def _numeric(limits: Limits) -> Converter:
    assert limits.digits is not None
    before, after = limits.digits
    cents, bound, fits = Decimal(1).scaleb(-after), Decimal(10) ** before, limits.numeric_text

    def convert(value: Any) -> Decimal:  # noqa: ANN401
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise TypeError("expected a decimal number")
        try:
            number = Decimal(value) if isinstance(value, str | int) else Decimal(str(value))
        except InvalidOperation:
            raise TypeError("expected a decimal number") from None
        if not number.is_finite():
            raise TypeError("expected a finite decimal number")
        if abs(number) >= bound or number != number.quantize(cents):
            raise ValueError(f"does not fit {fits}")
        return number

    return convert


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


CONVERTERS: dict[str, Callable[[Limits], Converter]] = {
    INT: _int,
    TEXT: _text,
    NUMERIC: _numeric,
    BOOL: lambda _: _bool,
    TIMESTAMP: lambda _: parse_timestamp,
    DATE_TEXT: lambda _: _date,
}


def _typed(kind: str, limits: Limits) -> type | None:
    """The Python type a value may have to be taken as it is, with no call (the common case,
    checked inline): text without a length, booleans."""
    if kind == TEXT and limits.length is None:
        return str
    return bool if kind == BOOL else None


# Per table: (column, its typed Python type or None, converter, may be null) in order, resolved
# once.
_PLAN = {
    table: tuple(
        (
            column,
            _typed(kind, source_limits(table)[column]),
            CONVERTERS[kind](source_limits(table)[column]),
            column in NULLABLE.get(table, ()),
        )
        for column, kind in kinds.items()
    )
    for table, kinds in SOURCE_TABLES.items()
}
_KEYS = {table: primary_key(table) for table in SOURCE_TABLES}
_KEY_CONVERTERS = {
    table: next(convert for column, _, convert, _ in plan if column == _KEYS[table])
    for table, plan in _PLAN.items()
}
# Text columns, checked for NUL only when the record's JSON has the escape that writes one (JSON
# can write a NUL no other way): in the common case one memchr of the bytes for a backslash
# (~15 ns for a record; searching for the escape itself takes ~20 times as long).
_TEXT_COLUMNS = {
    table: tuple(column for column, kind in kinds.items() if kind == TEXT)
    for table, kinds in SOURCE_TABLES.items()
}
# Per table: how many columns Contract A has (a record with as many, none missing, has its keys).
_WIDTHS = {table: len(kinds) for table, kinds in SOURCE_TABLES.items()}
_NUL_ESCAPE, _BACKSLASH = b"\\u0000", ord("\\")
_LOWEST_VERSION, _HIGHEST_VERSION = VERSIONS
_VERSION_RANGE = f"0 .. 10**{len(str(_HIGHEST_VERSION))} - 1"
_SHOWN = 120  # characters of a value a reason shows


def _clipped(text: str) -> str:
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}... ({len(text)} characters)"


def _why(exc: Exception) -> str:
    """An exception as a reason gives it: its message, clipped, or its type's name."""
    return _clipped(str(exc)) or type(exc).__name__


def _shown(value: Any) -> str:  # noqa: ANN401
    """A value as a reason shows it: its repr, clipped (a string's to its first characters)."""
    if type(value) is str and len(value) > _SHOWN:
        return f"{value[:_SHOWN]!r}... ({len(value)} characters)"
    return _clipped(repr(value))


# (table, a delete?, the record's keys in order) → its drift: after a column is added or gone,
# every record of its table takes the comparison, and DMS writes one table's keys in one order.
_DRIFTS: dict[tuple[str, bool, tuple[str, ...]], tuple[Drift, ...]] = {}
_DRIFTS_KEPT = 1024


def _drift_of(table: str, deleting: bool, data: Mapping[str, Any]) -> tuple[Drift, ...]:
    key = (table, deleting, tuple(data))
    drift = _DRIFTS.get(key)
    if drift is None:
        if len(_DRIFTS) >= _DRIFTS_KEPT:
            _DRIFTS.clear()
        drift = _DRIFTS[key] = tuple(
            drift_of_keys(table, "delete" if deleting else "insert", key[2])
        )
    return drift


def _strict_refusal(table: str, operation: object, drift: tuple[Drift, ...]) -> DecodeError:
    return DecodeError(
        f"{table} {operation} record differs from Contract A and the policy is strict "
        f"(TOTESYS_CDC_SCHEMA_CHANGES): {'; '.join(map(str, drift))}",
        drift=drift,
    )


def decode(raw: bytes, *, strict: bool = False) -> Change | Control:
    """One Kinesis record's data. ``strict``: refuse a record that differs from Contract A
    (the module's docstring)."""
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
        drift = tuple(drift_of_table_def(str(table), str(operation), table_def))
        if strict and drift:
            raise _strict_refusal(str(table), operation, drift)
        return Control(
            str(table),
            str(operation),
            tuple(columns) if isinstance(columns, dict) else (),
            drift,
        )
    if meta.get("record-type") != "data":
        raise DecodeError(f"unknown record-type {meta.get('record-type')!r}")
    if not isinstance(table, str) or table not in SOURCE_TABLES:
        drift = tuple(drift_of_keys(table, str(operation), ())) if isinstance(table, str) else ()
        raise DecodeError(f"unknown table {meta.get('schema-name')}.{table}", drift=drift)
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
    except Exception as exc:  # whatever the metadata holds, the record is refused
        raise DecodeError(f"{table} {operation}: {_why(exc)}") from None
    if not _LOWEST_VERSION <= version <= _HIGHEST_VERSION:
        raise DecodeError(
            f"{table} {operation}: version {_shown(version)} is outside {_VERSION_RANGE}, "
            "what cdc_version holds"
        )
    image: dict[str, Any] = {}
    deleting = operation == "delete"
    drift: tuple[Drift, ...] = ()
    if len(data) != _WIDTHS[table]:
        drift = _drift_of(table, deleting, data)
        if strict and drift:
            raise _strict_refusal(table, operation, drift)
    for column, typed, convert, nullable in _PLAN[table]:
        value = data.get(column)
        if type(value) is typed:
            image[column] = value
        elif value is None:
            if not deleting and column not in data:  # gone from the source
                drift = drift or _drift_of(table, deleting, data)
                if strict:
                    raise _strict_refusal(table, operation, drift)
                if not nullable:
                    gone = next((str(d) for d in drift if d.column == column), "")
                    raise DecodeError(
                        f"{table} {operation} record is missing column {column}: {gone}",
                        drift=drift,
                    )
            elif not deleting and not nullable:
                raise DecodeError(f"{table}.{column} is null in a {operation} record", drift=drift)
            image[column] = None
        else:
            try:
                image[column] = convert(value)
            except Exception as exc:  # OverflowError too: any failure is this value's
                raise DecodeError(
                    f"{table}.{column} = {_shown(value)}: {_why(exc)}",
                    drift=drift,
                    column=f"{table}.{column}",
                ) from None
    if type(raw) is not bytes or (_BACKSLASH in raw and _NUL_ESCAPE in raw):
        for column in _TEXT_COLUMNS[table]:
            value = image[column]
            if value is not None and NUL in value:
                raise DecodeError(
                    f"{table}.{column} = {_shown(value)}: a NUL character, which PostgreSQL "
                    "text cannot hold"
                )
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
        drift,
    )


def _previous_key(body: dict[str, Any], table: str, key_column: str, key: int) -> int | None:
    """The key an update's before-image holds, when it differs from the row's key now."""
    before = body.get(BEFORE_IMAGE_FIELD)
    if not isinstance(before, dict) or before.get(key_column) is None:
        return None
    value = before[key_column]
    try:
        old = _KEY_CONVERTERS[table](value)
    except Exception as exc:
        raise DecodeError(
            f"{table}.{key_column} in the before-image = {_shown(value)}: {_why(exc)}"
        ) from None
    return None if old == key else old

"""What each source column's values must meet to be held by every warehouse column fed from
it: derived from Contract A (the column's kind, as ToteSys stores it) and Contract B (the Arrow
type and length of each warehouse column whose value it is). The processor's decode refuses a
record that breaks one, so such a record is one bad record (a ``bad_record`` dead letter), never
a batch file that cannot be written or a load that fails.

A source column feeds a warehouse column when the column is ``From`` it (of a table whose
source is the source table; ``From(..., joined=True)``: of a joined dimension whose parent it
is) or is the table's key (a dimension's or fact's key is its source row's primary key).
``Derived`` columns set no limit on their source column: a rule's output is the rule's to make
fit (``date_of``/``time_of`` of any timestamp fit date32/time32; ISO 4217 names are unbounded
text), and a ``Derived`` column with a length is refused here, at import.

What each Arrow type asks of a value:

- an integer type: its range (int32: -2**31 .. 2**31 - 1);
- ``decimal128(p, s)``: at most ``p - s`` digits before the point and ``s`` after;
- a string with a ``length`` (the DDL's ``varchar(n)``): at most that many characters;
- every string: no NUL character (``NUL``): PostgreSQL text cannot hold one;
- date32, time32('ms'), timestamp('ms'), bool: nothing beyond the Python type decode makes
  (every ``date``/``datetime`` of years 1-9999 fits; decode keeps milliseconds).

The version (``change_records.version_of``) is the ``cdc_version`` of every row a change makes:
``VERSIONS`` is the range ``VERSION`` (decimal128(38, 0)) holds, from 0 (a full-load record's)
up; no legitimate version is negative.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import pyarrow as pa

from contracts.change_records import (
    BOOL,
    DATE_TEXT,
    INT,
    NUMERIC,
    SOURCE_TABLES,
    TEXT,
    TIMESTAMP,
    primary_key,
)
from contracts.star_schema import SPECS, VERSION, Column, Derived, From, TableSpec

# The Arrow type holding exactly the values of each Contract A kind as ToteSys stores them
# (PostgreSQL integer: 32 bits; every ToteSys numeric is numeric(10, 2)): the limits a source
# column has before any warehouse column narrows them.
KIND_TYPES: dict[str, pa.DataType] = {
    INT: pa.int32(),
    TEXT: pa.string(),
    NUMERIC: pa.decimal128(10, 2),
    BOOL: pa.bool_(),
    TIMESTAMP: pa.timestamp("ms"),
    DATE_TEXT: pa.date32(),
}
NUL = "\x00"


@dataclass(frozen=True)
class Limits:
    """What a value must meet; None: no such limit."""

    integer: tuple[int, int] | None = None  # an integer's inclusive range
    # a decimal's digits before the point and after (numeric(precision, scale) holds
    # precision - scale before it)
    digits: tuple[int, int] | None = None
    length: int | None = None  # text: at most this many characters
    length_of: str | None = None  # "table.column": the warehouse column the length is of

    def __and__(self, other: Limits) -> Limits:
        """What meets both."""
        integer, digits = self.integer, self.digits
        if other.integer is not None:
            integer = other.integer if integer is None else _within(integer, other.integer)
        if other.digits is not None:
            digits = other.digits if digits is None else _within(digits, other.digits, low=min)
        if other.length is not None and (self.length is None or other.length < self.length):
            return Limits(integer, digits, other.length, other.length_of)
        return Limits(integer, digits, self.length, self.length_of)

    @property
    def integer_text(self) -> str:
        """The range, as a reason names it: 'a 32-bit integer', or 'low..high'."""
        assert self.integer is not None
        low, high = self.integer
        bits = high.bit_length() + 1
        return f"a {bits}-bit integer" if (low, high) == _signed(bits) else f"{low}..{high}"

    @property
    def numeric_text(self) -> str:
        """The decimal type the digits are: 'numeric(10, 2)'."""
        assert self.digits is not None
        before, after = self.digits
        return f"numeric({before + after}, {after})"


def _within(
    a: tuple[int, int], b: tuple[int, int], low: Callable[[int, int], int] = max
) -> tuple[int, int]:
    return low(a[0], b[0]), min(a[1], b[1])


def _signed(bits: int) -> tuple[int, int]:
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def limits_of(arrow: pa.DataType, length: int | None = None, of: str | None = None) -> Limits:
    """What a value must meet to be held as ``arrow`` (with a text column's ``length``; ``of``
    names the column for reasons)."""
    if pa.types.is_integer(arrow):
        bits = arrow.bit_width
        signed = pa.types.is_signed_integer(arrow)
        return Limits(integer=_signed(bits) if signed else (0, 2**bits - 1))
    if pa.types.is_decimal(arrow):
        return Limits(digits=(arrow.precision - arrow.scale, arrow.scale))
    if length is not None:
        return Limits(length=length, length_of=of)
    return Limits()


def fed_by(specs: tuple[TableSpec, ...] = SPECS) -> dict[tuple[str, str], tuple[str, ...]]:
    """(source table, source column) → the warehouse columns ('table.column') its value is."""
    out: dict[tuple[str, str], list[str]] = {}

    def feed(table: str, column: str, spec: TableSpec, target: Column) -> None:
        out.setdefault((table, column), []).append(f"{spec.name}.{target.name}")

    for spec in specs:
        if spec.source is None:
            continue
        feed(spec.source, primary_key(spec.source), spec, spec.column(spec.key))
        for c in spec.columns:
            if isinstance(c.source, From):
                if c.source.joined:
                    assert spec.join is not None
                    feed(spec.join.parent, c.source.column, spec, c)
                else:
                    feed(spec.source, c.source.column, spec, c)
            elif isinstance(c.source, Derived) and c.length is not None:
                raise ValueError(
                    f"{spec.name}.{c.name}: a Derived column with a length (decode cannot "
                    f"check what rule {c.source.rule} makes of {c.source.column})"
                )
    return {k: tuple(v) for k, v in out.items()}


@cache
def source_limits(table: str, specs: tuple[TableSpec, ...] = SPECS) -> dict[str, Limits]:
    """Each column of ToteSys table ``table`` → what its values must meet: its kind's limits
    narrowed by those of every warehouse column of ``specs`` fed from it."""
    columns = {s.name: {c.name: c for c in s.columns} for s in specs}
    fed = fed_by(specs)
    out = {}
    for column, kind in SOURCE_TABLES[table].items():
        limits = limits_of(KIND_TYPES[kind])
        for target in fed.get((table, column), ()):
            name, _, target_column = target.partition(".")
            c = columns[name][target_column]
            limits &= limits_of(c.type, c.length, target)
        out[column] = limits
    return out


# cdc_version's range: decimal128(38, 0) holds up to 10**38 - 1; no version is below 0.
VERSIONS: tuple[int, int] = (0, 10**VERSION.precision - 1)

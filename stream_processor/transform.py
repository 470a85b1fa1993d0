"""The star-schema transformation: one change (and a read-only view of the join state) → the
rows it produces and the join-state writes it needs, as data. No I/O, no mutation.

Table-driven: ``contracts.star_schema`` declares every table; ``HANDLERS`` holds, per source
table, the builders made from those specs (a plain dimension or fact from its source table; a
joined dimension from either side). Rules (docs/architecture.md, Contract B): dimension keys are
the source keys; facts get one row per captured version; ``*_date``/``*_time`` split
timestamps (milliseconds kept); a delete flags a dimension row and is a fact's final version;
dim_staff and dim_counterparty are re-derived when either side changes. dim_date is not made
here: the loader derives it from the dates the facts reference.

The caller applies ``Output.writes`` to the join state before transforming the next change
(``join_batch`` does so for a whole batch, writes first).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from functools import cache, cached_property
from typing import Any, Protocol

import pycountry

from contracts.change_records import primary_key
from contracts.star_schema import SPECS, Derived, From, Kind, TableSpec
from stream_processor.decode import Change

Image = dict[str, Any]
Versioned = tuple[int, Image | None]  # (version, image or None when deleted)


@dataclass(frozen=True)
class OutRow:
    table: str
    values: dict[str, Any]


@dataclass(frozen=True)
class Put:
    """Record a source row's image (None: deleted) unless a newer version is stored."""

    table: str
    key: int
    version: int
    image: Image | None


@dataclass(frozen=True)
class AddMember:
    """Note that ``child_key`` references ``parent_key`` (never removed: readers re-check)."""

    parent_table: str
    parent_key: int
    child_key: int


Write = Put | AddMember


@dataclass(frozen=True)
class Output:
    rows: tuple[OutRow, ...]
    writes: tuple[Write, ...]


class JoinView(Protocol):
    """What the transform reads of the join state."""

    def get(self, table: str, key: int) -> Versioned | None:
        """(version, image or None when deleted), or None when the row was never seen."""

    def members(self, parent_table: str, parent_key: int) -> set[int]:
        """Children that have referenced ``parent_key``."""


@cache
def currency_name(code: str | None) -> str | None:
    """ISO 4217 name from pycountry: GBP → 'Pound Sterling'."""
    if not code:
        return None
    currency = pycountry.currencies.get(alpha_3=code.upper())
    return None if currency is None else currency.name


def _date_of(moment: datetime | None) -> date | None:
    return None if moment is None else moment.date()


def _time_of(moment: datetime | None) -> time | None:
    return None if moment is None else moment.time()


# The rules a ``Derived`` column names.
DERIVATIONS: dict[str, Callable[[Any], Any]] = {
    "iso4217_name": currency_name,
    "date_of": _date_of,
    "time_of": _time_of,
}

# One step of building a row's attributes: (from the joined row?, derivation or None, column
# names, source columns). A derivation makes one column; a copy, a run of consecutive columns
# read from the same row at once.
Step = tuple[bool, Callable[[Any], Any] | None, tuple[str, ...], tuple[str, ...]]
Plan = tuple[Step, ...]


def _attribute_plan(spec: TableSpec) -> Plan:
    """The steps that add a table's attribute columns in order, resolved once."""
    steps: list[Step] = []
    for c in spec.attributes:
        if isinstance(c.source, Derived):
            steps.append((False, DERIVATIONS[c.source.rule], (c.name,), (c.source.column,)))
        elif isinstance(c.source, From):
            if steps and steps[-1][1] is None and steps[-1][0] == c.source.joined:
                joined, _, names, columns = steps.pop()
                steps.append((joined, None, (*names, c.name), (*columns, c.source.column)))
            else:
                steps.append((c.source.joined, None, (c.name,), (c.source.column,)))
    return tuple(steps)


def _no_attributes(plan: Plan) -> dict[str, None]:
    return dict.fromkeys(name for *_, names, _ in plan for name in names)


def _attributes(plan: Plan, values: dict[str, Any], own: Image, joined: Image | None) -> None:
    """Add the attribute columns to ``values``, in order."""
    for from_joined, derive, names, columns in plan:
        source = joined if from_joined else own
        if derive is not None:
            values[names[0]] = derive(own.get(columns[0]))
        elif source is None:
            values.update(dict.fromkeys(names))
        else:
            values.update(zip(names, map(source.get, columns), strict=True))


Handler = Callable[[Change, JoinView], tuple[OutRow, ...]]


def _single_row(spec: TableSpec) -> Handler:
    """A plain dimension or a fact: one row per change of its source table."""
    plan = _attribute_plan(spec)
    empty = _no_attributes(plan)
    fact = spec.is_fact

    def build(change: Change, view: JoinView) -> tuple[OutRow, ...]:
        deleted = change.operation == "delete"
        values = {spec.key: change.key}
        if deleted:
            values |= empty
        else:
            _attributes(plan, values, change.image, None)
        values["cdc_version"] = change.version
        if fact:
            values["cdc_operation"] = change.operation
        values["cdc_is_deleted"] = deleted
        values["cdc_source_updated_at"] = None if deleted else change.image["last_updated"]
        return (OutRow(spec.name, values),)

    return build


@dataclass(frozen=True)
class JoinedTable:
    """A joined dimension: ``child`` rows reference ``parent`` rows through ``fk``."""

    spec: TableSpec
    child: str
    parent: str
    fk: str

    @cached_property
    def plan(self) -> Plan:
        return _attribute_plan(self.spec)

    def row(self, key: int, child: Versioned, parent: Versioned) -> OutRow:
        child_version, image = child
        parent_version, parent_image = parent
        values = {self.spec.key: key}
        if image is None:
            values |= _no_attributes(self.plan)
        else:
            _attributes(self.plan, values, image, parent_image)
        values |= {
            "cdc_version": child_version,
            "cdc_joined_version": parent_version,
            "cdc_is_deleted": image is None,
            "cdc_source_updated_at": None if image is None else image["last_updated"],
        }
        return OutRow(self.spec.name, values)

    def child_changed(self, change: Change, view: JoinView) -> tuple[OutRow, ...]:
        if change.operation == "delete":
            return (self.row(change.key, (change.version, None), (0, None)),)
        found = view.get(self.parent, change.image[self.fk])
        if found is None or found[1] is None:
            return ()  # emitted when the parent arrives
        return (self.row(change.key, (change.version, change.image), found),)

    def parent_changed(self, change: Change, view: JoinView) -> tuple[OutRow, ...]:
        if change.operation == "delete":
            return ()
        rows = []
        for child_key in sorted(view.members(self.parent, change.key)):
            found = view.get(self.child, child_key)
            if found is not None and found[1] is not None and found[1][self.fk] == change.key:
                rows.append(self.row(child_key, found, (change.version, change.image)))
        return tuple(rows)


def joins_of(specs: tuple[TableSpec, ...]) -> tuple[JoinedTable, ...]:
    return tuple(
        JoinedTable(s, s.source, s.join.parent, s.join.fk)
        for s in specs
        if s.kind is Kind.JOINED and s.join is not None and s.source is not None
    )


def handlers_for(specs: tuple[TableSpec, ...]) -> dict[str, tuple[Handler, ...]]:
    """Per source table, the builders of every table ``specs`` declares that it feeds."""
    found: dict[str, list[Handler]] = {}
    for s in specs:
        if s.kind in (Kind.DIMENSION, Kind.FACT) and s.source:
            found.setdefault(s.source, []).append(_single_row(s))
    for j in joins_of(specs):
        found.setdefault(j.child, []).append(j.child_changed)
        found.setdefault(j.parent, []).append(j.parent_changed)
    return {table: tuple(handlers) for table, handlers in found.items()}


JOINS = joins_of(SPECS)
HANDLERS = handlers_for(SPECS)


def _with_retired_key(change: Change) -> tuple[Change, ...]:
    """An update that changed the primary key is, for the old key, a delete at the same
    version; then the change itself."""
    if change.previous_key is None:
        return (change,)
    retired = replace(
        change,
        operation="delete",
        key=change.previous_key,
        image={primary_key(change.table): change.previous_key},
        previous_key=None,
    )
    return (retired, change)


# The source tables on either side of a join: only their changes write to the join state.
JOINED_SOURCES = frozenset(table for j in JOINS for table in (j.child, j.parent))


def join_writes(change: Change) -> tuple[Write, ...]:
    """The join-state writes one change needs (``join_batch`` plans a batch's from these): its
    own row (either side of a join), for a child its membership of the parent it references,
    and for a primary-key change the old key's tombstone."""
    if change.table not in JOINED_SOURCES:
        return ()
    writes: list[Write] = []
    for one in _with_retired_key(change):
        image = None if one.operation == "delete" else one.image
        for j in JOINS:
            if one.table in (j.child, j.parent):
                writes.append(Put(one.table, one.key, one.version, image))
            if one.table == j.child and image is not None and isinstance(image.get(j.fk), int):
                writes.append(AddMember(j.parent, image[j.fk], one.key))
    return tuple(writes)


def transform(change: Change, view: JoinView) -> Output:
    """The star-schema rows one change produces, and the join-state writes it needs. An
    update that changed the primary key also retires the old key, as a delete of it at the
    same version would (a dimension row flagged deleted, a fact's final version)."""
    handlers = HANDLERS.get(change.table)
    if handlers is None:
        raise ValueError(f"no transformation for table {change.table}")
    rows: tuple[OutRow, ...] = ()
    for one in _with_retired_key(change):
        for handle in handlers:
            rows += handle(one, view)
    return Output(rows, join_writes(change))

"""``warehouse-loader backfill --table T --column C``: a column added to a spec
(docs/contracts.md, Adding a column) given its source values on the rows the warehouse already
holds, from ToteSys, through the loader's own path.

Built on ``repair``'s machinery: the source's rows of the table are read in one ``REPEATABLE
READ`` snapshot, with ``reconcile``'s hand-written query for the table (which must name the
column: the contract's step 3), and every row whose column differs from the source's value is
written with ``load_tables`` (staging, version-guarded merge, versions table and history,
ledger row) as ``reconcile --repair`` writes it, at the snapshot's WAL position:

- a dimension row: upserted at that version with the source's row (the column and the rest),
  so its versions table gains the version and its history a row from that version on: the
  history says the value from the backfill on, and stays what its versions give (a rebuild
  agrees). Rows the source lacks, deleted rows and inferred members are left to ``reconcile
  --repair``, which fixes those;
- a fact: a new version, ``cdc_operation = 'repair'``, on top of its latest (as a repair
  writes it); earlier versions keep NULL, the warehouse did not have the column then;
- a joined dimension keeps its own side's stored version and takes the position as its joined
  version (``repair``'s reason).

Why it is safe while the pipeline runs (run it once the new spec's processor has replaced the
old one, as the procedure says): every write passes the loader's version guard, and the
version is the WAL position read *before* the snapshot. A change committed after the snapshot
has a greater version: its row (written by the new processor, with the column) wins over the
backfill's, and its history row follows the backfill's. A batch of the previous spec still in
the queue carries changes the old processor read, committed before it stopped and so before
the backfill began: their versions are lower, the guard keeps them off the current row, and
they join the versions table as older versions, so the history (remade in version order) still
ends with the backfill's row. Two backfills, or a backfill and a repair, order the same way
(the later snapshot wins; a second run finds nothing to write). The narrow window of
``repair``'s docstring applies: a transaction committing at the very instant the position is
read can be hidden from the snapshot; run it again (it writes only what still differs).

Rows the source has and the warehouse does not hold yet (changes in flight) are left to their
own loads, which carry the column if the new processor wrote them. If the previous processor
wrote them (the backfill ran before its last batches were loaded), they load NULL: the report
lists them (``unloaded``), and a second run once caught up fills them.

Large tables are written in chunks (``chunk`` rows per load transaction, each its own ledger
row), so no transaction holds many row locks for long.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
import pyarrow as pa
from psycopg import sql

from contracts.change_records import format_lsn
from contracts.generation import GENERATION
from contracts.star_schema import PUBLISHED, STAR_SCHEMA, Kind, TableSpec, schema_of
from warehouse_loader.load import load_tables
from warehouse_tools import reconcile, repair

CHUNK = 10_000


class BackfillError(Exception):
    """The backfill cannot run: what is missing, and which step of the procedure gives it."""


@dataclass
class BackfillReport:
    table: str
    column: str
    snapshot_lsn: str = ""
    version: int = 0
    source_rows: int = 0
    keys: list[Any] = field(default_factory=list)  # rows whose column differed: written
    ledger_keys: list[str] = field(default_factory=list)
    remaining: list[Any] = field(default_factory=list)  # still different afterwards
    # source rows with a value the warehouse did not hold yet (in flight): left to their loads
    unloaded: list[Any] = field(default_factory=list)

    @property
    def written(self) -> int:
        return len(self.keys) if self.ledger_keys else 0


def resolve(table: str, column: str) -> TableSpec:
    """The published table named ``table``, or the one the ToteSys table ``table`` feeds
    that has ``column``; ``column`` must be one of its business columns fed from the
    source."""
    if table in PUBLISHED:
        spec = STAR_SCHEMA[table]
    else:
        fed = [
            s
            for s in STAR_SCHEMA.values()
            if s.source == table and any(c.name == column for c in s.columns)
        ]
        if len(fed) != 1:
            raise BackfillError(
                f"{table!r}: no published table, nor a ToteSys table feeding exactly one "
                f"published table with a column {column!r}"
            )
        spec = fed[0]
    try:
        found = spec.column(column)
    except KeyError:
        raise BackfillError(
            f"{spec.name} has no column {column!r} in contracts/star_schema.py: add it to the "
            "spec first (docs/contracts.md, Adding a column, step 1)"
        ) from None
    if found.source is None:
        raise BackfillError(f"{spec.name}.{column} is not fed from the source: nothing to fill")
    if spec.kind is Kind.DATE:
        raise BackfillError("dim_date is the loader's own: nothing to fill from the source")
    return spec


def _check_warehouse(warehouse: psycopg.Connection, spec: TableSpec, column: str) -> None:
    found = warehouse.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = %s AND column_name = %s",
        (spec.name, column),
    ).fetchone()
    if found is None:
        raise BackfillError(
            f"the warehouse's {spec.name} has no column {column}: apply its migration first "
            "(warehouse-loader migrate; docs/contracts.md, Adding a column, step 2)"
        )


def _stored(warehouse: psycopg.Connection, spec: TableSpec, column: str) -> dict[Any, tuple]:
    """key → (the column's value, deleted, inferred, own version) of each current dimension
    row, or of each fact's latest version (inferred: never)."""
    key, value = sql.Identifier(spec.key), sql.Identifier(column)
    if spec.is_fact:
        query = sql.SQL(
            "SELECT DISTINCT ON ({k}) {k}, {c}, cdc_is_deleted, false, cdc_version FROM {t} "
            "ORDER BY {k}, cdc_version DESC"
        )
    else:
        query = sql.SQL("SELECT {k}, {c}, cdc_is_deleted, cdc_is_inferred, cdc_version FROM {t}")
    rows = warehouse.execute(query.format(k=key, c=value, t=sql.Identifier(spec.name)))
    return {k: (v, deleted, inferred, int(version)) for k, v, deleted, inferred, version in rows}


def _differing(expected: reconcile.Rows, stored: dict[Any, tuple], column: str) -> list[Any]:
    """The keys the source and the warehouse both hold, live, whose column differs."""
    return sorted(
        k
        for k, row in expected.items()
        if k in stored and not stored[k][1] and not stored[k][2] and stored[k][0] != row[column]
    )


def backfill(
    source: psycopg.Connection,
    warehouse: psycopg.Connection,
    table: str,
    column: str,
    *,
    dry_run: bool = False,
    history: bool = True,
    chunk: int = CHUNK,
) -> BackfillReport:
    """Write the source's row for every row of ``table`` whose ``column`` differs from the
    source's (this module's docstring); ``dry_run``: find them only. ``history``: the
    loader's setting, as for ``repair``."""
    spec = resolve(table, column)
    if not re.search(
        rf"\b{re.escape(column)}\b", reconcile.EXPECTED_SQL[spec.name].as_string(None)
    ):
        raise BackfillError(
            f"reconcile's query for {spec.name} (warehouse_tools/reconcile.py, _QUERIES) does "
            f"not read {column}: add it (docs/contracts.md, Adding a column, step 3)"
        )
    _check_warehouse(warehouse, spec, column)
    report = BackfillReport(spec.name, column)
    position = repair.snapshot_position(source)
    report.snapshot_lsn, report.version = format_lsn(position), position << 32
    expected = reconcile.expected_rows(source, [spec.name])[spec.name]
    if expected and column not in next(iter(expected.values())):
        raise BackfillError(f"reconcile's query for {spec.name} returns no column {column}")
    report.source_rows = len(expected)
    stored = _stored(warehouse, spec, column)
    keys = _differing(expected, stored, column)
    if spec.kind is Kind.JOINED:  # a row whose own side is newer than the snapshot is ahead
        keys = [k for k in keys if stored[k][3] < report.version]
    report.keys = keys
    report.unloaded = sorted(
        k for k, row in expected.items() if k not in stored and row[column] is not None
    )
    if dry_run or not keys:
        return report
    own = {k: v[3] for k, v in stored.items()} if spec.kind is Kind.JOINED else {}
    started = datetime.now(UTC).isoformat()
    for at in range(0, len(keys), chunk):
        part = keys[at : at + chunk]
        rows = [repair.fix_row(spec.name, k, expected[k], report.version, own) for k in part]
        ledger_key = f"backfills/{spec.name}.{column}/{report.snapshot_lsn}/{started}/{at}"
        loaded = load_tables(
            warehouse,
            {spec.name: pa.Table.from_pylist(rows, schema=schema_of(spec.name))},
            ledger_key=ledger_key,
            generation=GENERATION,
            shard_id="backfill",
            records=len(part),
            history=history,
        )
        if loaded.skipped:  # a fresh key: cannot happen; never report what did not land
            raise RuntimeError(f"the backfill {ledger_key} is already in the load ledger")
        report.ledger_keys.append(ledger_key)
    after = reconcile.expected_rows(source, [spec.name])[spec.name]
    report.remaining = _differing(after, _stored(warehouse, spec, column), column)
    return report

"""Repair from the source: each difference ``reconcile`` finds, fixed with the source's row.

For when the stream no longer holds the history (retention passed, a slot recreated) or a
replay is not wanted. The source's rows are read in one ``REPEATABLE READ`` snapshot (the
same one ``reconcile`` compares), and written through the loader's own path (``load_tables``:
staging, version-guarded merge, ledger row) as versions at the snapshot's WAL position, in
the captured versions' form (``lsn << 32``):

- the position is read just *before* the snapshot is taken, so a change committed after the
  snapshot has a greater position: its version is greater and it still wins. One narrow window
  remains: PostgreSQL writes a commit record before the transaction becomes visible, so a
  transaction committing at that very instant can be invisible to the snapshot with a position
  just below the one read; its row is then repaired to the state before it. Run a repair when
  the source is quiet for the rows concerned, or follow it with a second ``reconcile``;
- a plain dimension row is upserted at that version; a fact whose latest version is wrong or
  missing gets a new version with ``cdc_operation = 'repair'``; a row gone from the source is
  flagged deleted (a fact gets a deleted ``repair`` version); an inferred member left over is
  filled;
- a joined dimension (dim_staff, dim_counterparty) keeps its stored own-side version and takes
  the snapshot's position as its joined version: a later change to either side then still
  orders after the repair (a repair at (position, position) would hide a later change of the
  other side, whose rows carry the own side's older version first);
- duplicated fact versions and wrong ``dim_date`` rows are reported, not repaired (they are
  the loader's own bugs, not lost changes);
- a dimension history that differs (``reconcile.history_differences``: written while the
  loader ran with ``TOTESYS_CDC_HISTORY=off``, or edited by hand) is made again from the
  versions the loader kept and the current row (``merge_sql.history.seed_versions``,
  ``rebuild_history``), in one transaction after the rows above (which update their
  histories on the way in, as every load does). With ``TOTESYS_CDC_HISTORY=off`` a repair
  follows the setting as loads do: it writes no version or history row, and reports a
  history that differs as not repaired.

Every write goes through the same guards as the loader's, so it is safe while the pipeline
runs; afterwards the warehouse is compared again and what still differs is reported
(``RepairReport.remaining``): changes still in flight, or a joined row the guards kept because
its other side is already newer than the snapshot. A limit to know: a repair does not update
the processor's join state (the loader has no access to it). If that state is stale too (the
lost change never reached the processor), the next change to the *other* side of a repaired
joined row re-derives it from the stale image; a replay (docs/operations.md) or a second
repair after that change fixes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
import pyarrow as pa
from psycopg import sql

from contracts.change_records import format_lsn, parse_lsn
from contracts.generation import GENERATION
from contracts.star_schema import HISTORIES, KEYS, STAR_SCHEMA, Kind, schema_of
from warehouse_loader.load import load_tables
from warehouse_loader.merge_sql.history import rebuild_history, seed_versions
from warehouse_loader.merge_sql.plan import table_plan
from warehouse_tools import reconcile

# The kinds of difference a source row fixes, and those where the source has no row.
_FROM_SOURCE = {
    "missing",
    "different",
    "latest_version_different",
    "deleted_but_in_source",
    "still_inferred",
}
_GONE = {"not_deleted_but_gone_from_source", "no_delete_version_but_gone_from_source"}
NOT_REPAIRED = {"duplicated_version"}  # and every dim_date difference


@dataclass
class RepairReport:
    snapshot_lsn: str
    version: int
    found: reconcile.Report
    rows: dict[str, list[Any]] = field(default_factory=dict)  # table → keys written
    not_repaired: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    ledger_key: str | None = None
    remaining: reconcile.Report | None = None  # compared again after the write

    @property
    def written(self) -> int:
        return sum(len(keys) for keys in self.rows.values())


def snapshot_position(source: psycopg.Connection) -> int:
    """The source's current WAL position, read outside (before) any snapshot."""
    position = parse_lsn(source.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0])
    source.commit()
    return position


def repair(
    source: psycopg.Connection,
    warehouse: psycopg.Connection,
    *,
    tables: set[str] | None = None,
    dry_run: bool = False,
    history: bool = True,
) -> RepairReport:
    """Find the differences (``reconcile``) and, unless ``dry_run``, write the fixes.
    ``history`` is the loader's setting (``LoaderConfig.history``, ``TOTESYS_CDC_HISTORY``):
    off, the rows are written as a load with history off writes them, and a history that
    differs is reported in ``not_repaired``, not made again."""
    position = snapshot_position(source)
    expected = reconcile.expected_rows(source)
    found = reconcile.compare_all(expected, warehouse)
    report = RepairReport(format_lsn(position), position << 32, found)
    batch: dict[str, list[dict[str, Any]]] = {}
    histories = {h.name: d for d, h in HISTORIES.items()}
    rebuild: dict[str, list[Any]] = {}  # dimension → keys whose history is made again
    for diff in found.tables:
        if tables is not None and histories.get(diff.table, diff.table) not in tables:
            continue
        if diff.table in histories:
            keys = sorted({k for ks in diff.problems.values() for k in ks})
            if keys and not history:
                report.not_repaired[diff.table] = diff.problems
            elif keys:
                rebuild[histories[diff.table]] = keys
                report.rows[diff.table] = keys
            continue
        spec = STAR_SCHEMA[diff.table]
        if spec.kind is Kind.DATE:
            if diff.problems:
                report.not_repaired[diff.table] = diff.problems
            continue
        skipped = {k: v for k, v in diff.problems.items() if k in NOT_REPAIRED}
        if skipped:
            report.not_repaired[diff.table] = skipped
        keys = sorted(
            {k for kind, ks in diff.problems.items() if kind in _FROM_SOURCE | _GONE for k in ks}
        )
        if not keys:
            continue
        stored = _stored_versions(warehouse, diff.table) if spec.kind is Kind.JOINED else {}
        # a joined row whose own side is already newer than the snapshot is ahead, not wrong
        keys = [k for k in keys if stored.get(k, 0) < report.version]
        if not keys:
            continue
        batch[diff.table] = [
            fix_row(diff.table, key, expected[diff.table].get(key), report.version, stored)
            for key in keys
        ]
        report.rows[diff.table] = keys
    if dry_run or not (batch or rebuild):
        return report
    # one ledger row per run (two runs may read the same position on a quiet source)
    report.ledger_key = f"repairs/{report.snapshot_lsn}/{datetime.now(UTC).isoformat()}"
    if batch:
        loaded = load_tables(
            warehouse,
            {t: pa.Table.from_pylist(rows, schema=schema_of(t)) for t, rows in batch.items()},
            ledger_key=report.ledger_key,
            generation=GENERATION,
            shard_id="reconcile-repair",
            records=report.written,
            history=history,
        )
        if loaded.skipped:  # cannot happen with a fresh key; never report writes that did not land
            raise RuntimeError(f"the repair {report.ledger_key} is already in the load ledger")
    with warehouse.transaction():  # after the rows above (their own histories already made)
        for dimension, keys in rebuild.items():
            rebuild_histories(warehouse, dimension, keys)
    report.remaining = reconcile.compare_all(reconcile.expected_rows(source), warehouse)
    return report


def _stored_versions(warehouse: psycopg.Connection, table: str) -> dict[Any, int]:
    key = sql.Identifier(KEYS[table])
    query = sql.SQL("SELECT {k}, cdc_version FROM {t}").format(k=key, t=sql.Identifier(table))
    return {k: int(v) for k, v in warehouse.execute(query)}


def fix_row(
    table: str,
    key: Any,
    source_row: dict[str, Any] | None,
    version: int,
    stored: dict,  # noqa: ANN401
) -> dict[str, Any]:
    """The published row that states the source's row (None: gone) at ``version``."""
    spec = STAR_SCHEMA[table]
    names = schema_of(table).names
    deleted = source_row is None
    values = dict.fromkeys(names)
    if not deleted:
        values |= {c: v for c, v in source_row.items() if c in values}
    values[spec.key] = key
    values |= {
        "cdc_version": version,
        "cdc_is_deleted": deleted,
        "cdc_source_updated_at": None if deleted else source_row[reconcile.SOURCE_UPDATED_AT],
    }
    if spec.kind is Kind.JOINED:
        values["cdc_version"], values["cdc_joined_version"] = stored.get(key, 0), version
    if spec.is_fact:
        values["cdc_operation"] = "repair"
    return values


def rebuild_histories(warehouse: psycopg.Connection, dimension: str, keys: list[Any]) -> None:
    """Make the history of ``keys`` again: the current row joins the versions kept (if they
    lack it), then the history is remade from them, under the current rows' locks as a load
    takes them (``merge_sql.history.seed_versions``)."""
    p = table_plan(dimension)
    touched = warehouse.execute(seed_versions(p), {"keys": keys}).fetchone()[0]
    warehouse.execute(rebuild_history(p), {"keys": touched})

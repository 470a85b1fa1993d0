"""`reconcile --repair`: every difference fixed with the source's row at a snapshot, through
the loader's guarded path, so a change committed after the snapshot still wins."""

from __future__ import annotations

import psycopg
import pyarrow as pa
import pytest
from click.testing import CliRunner
from psycopg import sql

from contracts.batches import MemoryStore
from contracts.change_records import parse_lsn
from contracts.star_schema import HISTORIES, schema_of
from stream_processor.config import ProcessorConfig
from stream_processor.join_state import MemoryJoinState
from stream_processor.shard import ShardProcessor
from tests.stream_processor.fixtures import record
from tests.warehouse_loader.fixtures import differences, run_repair
from warehouse_loader import merge_sql, reconcile, repair
from warehouse_loader.cli import main
from warehouse_loader.load import load_manifest, load_tables

pytestmark = pytest.mark.stack


def test_an_empty_warehouse_is_rebuilt_and_a_second_run_finds_nothing(databases):
    source, warehouse = databases
    assert differences(source, warehouse) > 0
    dry = run_repair(source, warehouse, dry_run=True)
    assert dry.written > 0 and dry.ledger_key is None and differences(source, warehouse) > 0
    done = run_repair(source, warehouse)
    assert done.written == dry.written and done.ledger_key.startswith("repairs/")
    assert done.remaining is not None and done.remaining.differences == 0
    assert differences(source, warehouse) == 0
    again = run_repair(source, warehouse)
    assert again.written == 0 and again.found.differences == 0
    with psycopg.connect(warehouse) as conn:
        operations = {
            op for (op,) in conn.execute("SELECT DISTINCT cdc_operation FROM fact_payment")
        }
    assert operations == {"repair"}


def test_drift_of_every_kind_is_repaired_and_only_the_table_asked_for(databases):
    source, warehouse = databases
    run_repair(source, warehouse)
    with psycopg.connect(warehouse) as conn:
        conn.execute("UPDATE dim_staff SET first_name = 'Wrong' WHERE staff_id = 1")
        conn.execute("UPDATE dim_design SET cdc_is_deleted = true WHERE design_id = 2")
        conn.execute("DELETE FROM fact_sales_order WHERE sales_order_id = 3")
        conn.execute("UPDATE fact_payment SET paid = NOT paid WHERE payment_id = 4")
    with psycopg.connect(source) as conn:
        conn.execute("DELETE FROM payment WHERE payment_id = 5")
    # each edited dimension row also leaves its history's open row different from it
    assert differences(source, warehouse) == 7
    only = run_repair(source, warehouse, tables={"dim_staff"})
    assert only.rows == {"dim_staff": [1], "dim_staff_history": [1]}
    assert differences(source, warehouse) == 5
    # a second run at the same WAL position (nothing written at the source since) still writes
    again = run_repair(source, warehouse, tables={"dim_design"})
    assert again.rows == {"dim_design": [2], "dim_design_history": [2]}
    assert again.ledger_key != only.ledger_key
    assert differences(source, warehouse) == 3
    done = run_repair(source, warehouse)
    assert sorted(done.rows) == ["fact_payment", "fact_sales_order"]
    assert differences(source, warehouse) == 0
    with psycopg.connect(warehouse) as conn:
        gone = conn.execute(
            "SELECT cdc_operation, cdc_is_deleted FROM fact_payment WHERE payment_id = 5 "
            "ORDER BY cdc_version DESC LIMIT 1"
        ).fetchone()
    assert gone == ("repair", True)


def test_a_change_committed_after_the_snapshot_still_wins(databases, monkeypatch):
    """A newer version of a design lands (through the loader, as the pipeline would) between
    the repair's snapshot and its write: the repair does not overwrite it."""
    source, warehouse = databases
    real_load = repair.load_tables

    def pipeline_first(conn, tables, **kwargs):
        with psycopg.connect(source) as s:
            s.execute(
                "UPDATE design SET design_name = 'Newer', last_updated = now() WHERE design_id = 2"
            )
            lsn = parse_lsn(s.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0])
            row = s.execute("SELECT * FROM design WHERE design_id = 2").fetchone()
        columns = (
            "design_id",
            "created_at",
            "design_name",
            "file_location",
            "file_name",
            "last_updated",
        )
        store = MemoryStore()
        shard = ShardProcessor(
            "shardId-x", MemoryJoinState(), store, ProcessorConfig(bucket="b", state_table="s")
        )
        shard.process(
            "1", "k", record("design", dict(zip(columns, row, strict=True)), "update", commit=lsn)
        )
        load_manifest(conn, store, shard.commit(lambda _seq: True).manifest_key)
        return real_load(conn, tables, **kwargs)

    monkeypatch.setattr(repair, "load_tables", pipeline_first)
    run_repair(source, warehouse)
    with psycopg.connect(warehouse) as conn:
        assert conn.execute(
            "SELECT design_name FROM dim_design WHERE design_id = 2"
        ).fetchone() == ("Newer",)
    assert differences(source, warehouse) == 0


def test_the_command_prints_what_it_changed(databases):
    source, _ = databases
    dry = CliRunner().invoke(main, ["reconcile", "--source-dsn", source, "--repair", "--dry-run"])
    assert dry.exit_code == 0 and "would write" in dry.output, dry.output
    done = CliRunner().invoke(main, ["reconcile", "--source-dsn", source, "--repair"])
    assert done.exit_code == 0 and "wrote" in done.output and "repairs/" in done.output
    clean = CliRunner().invoke(main, ["reconcile", "--source-dsn", source])
    assert clean.exit_code == 0, clean.output
    misuse = CliRunner().invoke(main, ["reconcile", "--source-dsn", source, "--dry-run"])
    assert misuse.exit_code == 2


def _rows(warehouse: str, table: str, where: str) -> pa.Table:
    """Rows of a published table, as the loader receives them."""
    schema = schema_of(table)
    query = sql.SQL("SELECT {} FROM {} WHERE {}").format(
        sql.SQL(", ").join(map(sql.Identifier, schema.names)), sql.Identifier(table), sql.SQL(where)
    )
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute(query).fetchall()
    return pa.Table.from_pylist([dict(zip(schema.names, r, strict=True)) for r in rows], schema)


def _kept(warehouse: str) -> dict[str, int]:
    """Rows in every versions and history table."""
    tables = [
        name
        for d in HISTORIES
        for p in (merge_sql.table_plan(d),)
        for name in (merge_sql.versions_table(p), merge_sql.history_table(p))
    ]
    with psycopg.connect(warehouse) as conn:
        return {
            t: conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))
            ).fetchone()[0]
            for t in tables
        }


def test_history_switched_off_then_on_again_and_repaired(databases, monkeypatch):
    """Loads with TOTESYS_CDC_HISTORY=off (a repair, which follows the setting: no version or
    history row, the histories reported not repaired), then with history on a fact load
    (referencing dimension rows written with history off: no member made, so nothing recorded
    for them) and a dimension load; then `reconcile --repair` makes every history again."""
    source, warehouse = databases
    monkeypatch.setenv("TOTESYS_CDC_HISTORY", "off")
    off = CliRunner().invoke(main, ["reconcile", "--source-dsn", source, "--repair"])
    assert off.exit_code == 1 and "wrote" in off.output, off.output
    assert set(_kept(warehouse).values()) == {0}
    with psycopg.connect(source) as s, psycopg.connect(warehouse) as w:
        left = reconcile.reconcile(s, w)
    assert left.differences > 0
    assert {t.table for t in left.tables if t.problems} <= {h.name for h in HISTORIES.values()}

    with psycopg.connect(warehouse, autocommit=True) as conn:
        for n, (table, where) in enumerate(
            [("fact_sales_order", "sales_order_id = 1"), ("dim_design", "design_id = 1")]
        ):
            load_tables(
                conn,
                {table: _rows(warehouse, table, where)},
                ledger_key=f"history-on/{n}",
                generation=1,
                shard_id="test",
                records=1,
                history=True,
            )
    kept = _kept(warehouse)
    assert kept["cdc_dim_design_versions"] == 1 and kept["dim_design_history"] == 1
    assert sum(kept.values()) == 2  # the fact load recorded no member: it made none

    monkeypatch.setenv("TOTESYS_CDC_HISTORY", "on")
    done = CliRunner().invoke(main, ["reconcile", "--source-dsn", source, "--repair"])
    assert done.exit_code == 0, done.output
    assert differences(source, warehouse) == 0
    assert all(n > 0 for n in _kept(warehouse).values())

"""`warehouse-loader backfill`: a column the warehouse never received (as after an ADD COLUMN
and its migration) given the source's values through the loader's path: current rows,
versions and history for a dimension, a new latest version for a fact; reconcile clean
afterwards, history included. The column is simulated by emptying an existing one in the
current table, its versions and its history (what the migration's ADD COLUMN leaves)."""

from __future__ import annotations

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql

from tests.warehouse_loader.fixtures import differences, run_repair
from warehouse_loader import backfill, reconcile
from warehouse_loader.cli import main

pytestmark = pytest.mark.stack


def emptied(warehouse: str, column: str, *tables: str) -> None:
    with psycopg.connect(warehouse) as conn:
        for table in tables:
            conn.execute(
                sql.SQL("UPDATE {} SET {} = NULL").format(
                    sql.Identifier(table), sql.Identifier(column)
                )
            )


def count(dsn: str, query: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query).fetchone()[0]


def run(source: str, warehouse: str, table: str, column: str, **kwargs):
    with psycopg.connect(source) as s, psycopg.connect(warehouse, autocommit=True) as w:
        return backfill.backfill(s, w, table, column, **kwargs)


def report(source: str, warehouse: str) -> reconcile.Report:
    with psycopg.connect(source) as s, psycopg.connect(warehouse) as w:
        return reconcile.reconcile(s, w)


def test_a_dimension_column_is_filled_in_its_rows_versions_and_history(databases):
    source, warehouse = databases
    run_repair(source, warehouse)
    emptied(warehouse, "file_name", "dim_design", "cdc_dim_design_versions", "dim_design_history")
    drift = {t.table: t.count for t in report(source, warehouse).tables if t.count}
    expected = count(source, "SELECT count(*) FROM design WHERE file_name IS NOT NULL")
    assert drift == {"dim_design": expected}  # the history agrees with its versions: NULL
    versions = count(warehouse, "SELECT count(*) FROM cdc_dim_design_versions")

    dry = run(source, warehouse, "design", "file_name", dry_run=True)  # the source's name
    assert dry.table == "dim_design" and len(dry.keys) == expected and dry.written == 0
    assert differences(source, warehouse) == expected

    done = run(source, warehouse, "dim_design", "file_name")
    assert done.written == expected and done.remaining == []
    assert done.ledger_keys and done.ledger_keys[0].startswith("backfills/dim_design.file_name/")
    assert report(source, warehouse).differences == 0, report(source, warehouse).to_json()
    # one version more per row filled, and its history row from the backfill's version on
    assert count(warehouse, "SELECT count(*) FROM cdc_dim_design_versions") == versions + expected
    assert (
        count(
            warehouse,
            "SELECT count(*) FROM dim_design_history WHERE valid_to_version IS NULL "
            f"AND valid_from_version = {done.version} AND file_name IS NOT NULL",
        )
        == expected
    )
    assert run(source, warehouse, "dim_design", "file_name").keys == []  # nothing left


def test_a_fact_column_gets_the_value_on_a_new_latest_version(databases):
    source, warehouse = databases
    run_repair(source, warehouse)
    emptied(warehouse, "units_sold", "fact_sales_order")
    before = count(warehouse, "SELECT count(*) FROM fact_sales_order")
    rows = count(source, "SELECT count(*) FROM sales_order WHERE units_sold IS NOT NULL")
    done = run(source, warehouse, "fact_sales_order", "units_sold")
    assert done.written == rows and done.remaining == []
    assert count(warehouse, "SELECT count(*) FROM fact_sales_order") == before + rows
    assert (
        count(
            warehouse,
            "SELECT count(*) FROM fact_sales_order WHERE cdc_operation = 'repair' "
            f"AND cdc_version = {done.version}",
        )
        == rows
    )
    assert report(source, warehouse).differences == 0


def test_it_says_which_step_of_the_procedure_is_missing(databases, monkeypatch):  # noqa: F811
    source, warehouse = databases
    with pytest.raises(backfill.BackfillError, match="step 1"):
        run(source, warehouse, "dim_design", "file_size")
    with pytest.raises(backfill.BackfillError, match="not fed from the source"):
        run(source, warehouse, "dim_design", "cdc_version")
    with pytest.raises(backfill.BackfillError, match="exactly one"):
        run(source, warehouse, "department", "department_name")  # joined into dim_staff
    query = reconcile.EXPECTED_SQL["dim_design"].as_string(None).replace(", file_name", "")
    monkeypatch.setitem(reconcile.EXPECTED_SQL, "dim_design", sql.SQL(query))
    with pytest.raises(backfill.BackfillError, match="step 3"):
        run(source, warehouse, "dim_design", "file_name")


def test_the_command_prints_what_it_wrote(databases):
    source, warehouse = databases
    run_repair(source, warehouse)
    emptied(warehouse, "file_name", "dim_design", "cdc_dim_design_versions", "dim_design_history")
    args = ["backfill", "--source-dsn", source, "--table", "dim_design", "--column", "file_name"]
    dry = CliRunner().invoke(main, [*args, "--dry-run"])
    assert dry.exit_code == 0 and "would write" in dry.output, dry.output
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0 and "backfills/dim_design.file_name/" in done.output, done.output
    wrong = CliRunner().invoke(main, [*args[:-1], "nope"])
    assert wrong.exit_code == 1 and "step 1" in wrong.output

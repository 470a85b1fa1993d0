"""The star schema, created by the idempotent migration step on a real PostgreSQL."""

from __future__ import annotations

import threading

import psycopg
import pytest

from contracts.star_schema import FACTS, HISTORIES, as_of_columns, spec
from local_stack.services.config import WAREHOUSE
from warehouse_loader import migrations

pytestmark = pytest.mark.stack

# Contract B (docs/architecture.md): the columns analysts rely on, per table.
DESIGN_COLUMNS = {
    "dim_date": "date_id year month day day_of_week day_name month_name quarter",
    "dim_staff": "staff_id first_name last_name department_name location email_address",
    "dim_location": "location_id address_line_1 address_line_2 district city postal_code country phone",
    "dim_currency": "currency_id currency_code currency_name",
    "dim_design": "design_id design_name file_location file_name",
    "dim_counterparty": "counterparty_id counterparty_legal_name counterparty_legal_address_line_1 "
    "counterparty_legal_address_line_2 counterparty_legal_district counterparty_legal_city "
    "counterparty_legal_postal_code counterparty_legal_country counterparty_legal_phone_number",
    "dim_payment_type": "payment_type_id payment_type_name",
    "dim_transaction": "transaction_id transaction_type sales_order_id purchase_order_id",
    "fact_sales_order": "sales_record_id sales_order_id created_date created_time last_updated_date "
    "last_updated_time sales_staff_id counterparty_id units_sold unit_price currency_id design_id "
    "agreed_payment_date agreed_delivery_date agreed_delivery_location_id",
    "fact_purchase_order": "purchase_record_id purchase_order_id created_date created_time "
    "last_updated_date last_updated_time staff_id counterparty_id item_code item_quantity "
    "item_unit_price currency_id agreed_delivery_date agreed_payment_date agreed_delivery_location_id",
    "fact_payment": "payment_record_id payment_id created_date created_time last_updated_date "
    "last_updated_time transaction_id counterparty_id payment_amount currency_id payment_type_id "
    "paid payment_date",
}


@pytest.fixture
def warehouse(fresh_database):
    return fresh_database("warehouse", cluster=WAREHOUSE)


def _columns(conn: psycopg.Connection) -> dict[str, list[str]]:
    rows = conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
    ).fetchall()
    found: dict[str, list[str]] = {}
    for table, column in rows:
        found.setdefault(table, []).append(column)
    return found


def test_an_empty_warehouse_gets_the_eleven_tables_with_the_design_columns_then_bookkeeping(
    warehouse,
):
    with psycopg.connect(warehouse) as conn:
        applied = migrations.apply(conn)
        columns = _columns(conn)
    assert [m.version for m in applied] == [m.version for m in migrations.available()]
    assert set(columns) == set(DESIGN_COLUMNS) | {
        "cdc_schema_migrations",
        "cdc_load_ledger",
        *(f"cdc_{d}_versions" for d in HISTORIES),
        *(h.name for h in HISTORIES.values()),
        *(f"{f}_as_of" for f in FACTS),
    }
    for table, wanted in DESIGN_COLUMNS.items():
        business = wanted.split()
        assert columns[table][: len(business)] == business, table
        assert all(c.startswith("cdc_") for c in columns[table][len(business) :]), table


def test_a_second_run_applies_nothing_and_changes_nothing(warehouse):
    with psycopg.connect(warehouse) as conn:
        migrations.apply(conn)
        before = _columns(conn)
        assert migrations.apply(conn) == []
        assert _columns(conn) == before
        assert conn.execute("SELECT count(*) FROM cdc_schema_migrations").fetchone()[0] == len(
            migrations.available()
        )


def test_two_loaders_starting_together_apply_each_migration_once(warehouse):
    results: list[list[migrations.Migration]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def start_loader() -> None:
        try:
            with psycopg.connect(warehouse) as conn:
                barrier.wait()
                results.append(migrations.apply(conn))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=start_loader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(len(r) for r in results) == [0, len(migrations.available())]


def test_facts_reference_their_dimensions_with_real_foreign_keys(warehouse):
    with psycopg.connect(warehouse) as conn:
        migrations.apply(conn)
        fks = set(
            conn.execute(
                """SELECT cl.relname, a.attname, ref.relname
               FROM pg_constraint c
               JOIN pg_class cl ON cl.oid = c.conrelid
               JOIN pg_class ref ON ref.oid = c.confrelid
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
               WHERE c.contype = 'f'"""
            ).fetchall()
        )
    expected = {
        ("fact_sales_order", "sales_staff_id", "dim_staff"),
        ("fact_sales_order", "counterparty_id", "dim_counterparty"),
        ("fact_sales_order", "currency_id", "dim_currency"),
        ("fact_sales_order", "design_id", "dim_design"),
        ("fact_sales_order", "agreed_delivery_location_id", "dim_location"),
        ("fact_sales_order", "created_date", "dim_date"),
        ("fact_purchase_order", "staff_id", "dim_staff"),
        ("fact_purchase_order", "agreed_delivery_location_id", "dim_location"),
        ("fact_payment", "transaction_id", "dim_transaction"),
        ("fact_payment", "payment_type_id", "dim_payment_type"),
        ("fact_payment", "payment_date", "dim_date"),
    }
    assert expected <= fks


def test_a_fact_version_is_stored_once_and_an_unknown_dimension_is_refused(warehouse):
    with psycopg.connect(warehouse) as conn:
        migrations.apply(conn)
        conn.commit()
        conn.execute(
            "INSERT INTO dim_date VALUES ('2026-11-02', 2026, 11, 2, 1, 'Monday', 'November', 4)"
        )
        conn.execute(
            "INSERT INTO dim_currency (currency_id, currency_code, currency_name, cdc_version) "
            "VALUES (1, 'GBP', 'Pound Sterling', 10)"
        )
        insert = (
            "INSERT INTO fact_payment (payment_id, created_date, currency_id, cdc_version, cdc_operation) "
            "VALUES (5, '2026-11-02', 1, %s, 'insert')"
        )
        conn.execute(insert, (100,))
        conn.execute(insert, (101,))
        conn.commit()
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(insert, (100,))
        conn.rollback()
        orphan = (
            "INSERT INTO fact_payment (payment_id, currency_id, cdc_version, cdc_operation) "
            "VALUES (6, 99, 1, 'insert')"
        )
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute(orphan)
        conn.rollback()
        # Deferred, a load may write the fact first as long as its dimension exists at commit.
        conn.execute("SET CONSTRAINTS ALL DEFERRED")
        conn.execute(orphan)
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.commit()
        conn.execute("SET CONSTRAINTS ALL DEFERRED")
        conn.execute(orphan)
        conn.execute(
            "INSERT INTO dim_currency (currency_id, cdc_version, cdc_is_inferred) VALUES (99, 0, true)"
        )
        conn.commit()


def test_the_histories_versions_and_as_of_views_have_the_columns_the_specs_derive(warehouse):
    with psycopg.connect(warehouse) as conn:
        migrations.apply(conn)
        columns = _columns(conn)
    for dimension, history in HISTORIES.items():
        assert columns[history.name] == [c.name for c in history.columns]
        assert columns[f"cdc_{dimension}_versions"] == [
            c.name for c in spec(dimension).columns if c.name != "cdc_loaded_at"
        ]
    for fact in FACTS:
        added = [name for name, *_ in as_of_columns(spec(fact))]
        assert columns[f"{fact}_as_of"] == columns[fact] + added

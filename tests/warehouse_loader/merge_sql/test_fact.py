"""``merge_sql.fact``: a fact table's fast COPY and its merge, as built (no database)."""

from __future__ import annotations

import pytest

from tests.warehouse_loader.merge_sql.rendered import between, split_top, text
from tests.warehouse_loader.merge_sql.tables import colour, sale
from warehouse_loader.merge_sql.fact import copy_into_facts, merge_facts, merge_facts_counted
from warehouse_loader.merge_sql.plan import table_plan


def test_the_fast_copy_goes_straight_into_the_fact_table_with_the_generation():
    assert text(copy_into_facts(sale())) == (
        'COPY "fact_sale" ("sale_id", "sold_date", "colour_id", "amount", "cdc_version", '
        '"cdc_operation", "cdc_is_deleted", "cdc_source_updated_at", cdc_generation) '
        "FROM STDIN WITH (FORMAT csv)"
    )


def test_the_fast_fact_copy_goes_straight_into_the_fact_table_and_exists_only_for_facts():
    statement = text(copy_into_facts(table_plan("fact_payment")))
    assert statement.startswith('COPY "fact_payment" ("payment_id", ')
    assert statement.endswith(
        '"cdc_source_updated_at", cdc_generation) FROM STDIN WITH (FORMAT csv)'
    )
    with pytest.raises(ValueError, match="not a fact table"):
        copy_into_facts(table_plan("dim_staff"))


def test_a_merge_inserts_each_key_and_version_once_from_the_stage_in_key_order():
    sql = text(merge_facts(sale()))
    columns = (
        '"sale_id", "sold_date", "colour_id", "amount", "cdc_version", "cdc_operation", '
        '"cdc_is_deleted", "cdc_source_updated_at"'
    )
    assert sql.startswith(f'INSERT INTO "fact_sale" ({columns}, cdc_generation) ')
    assert between(sql, "SELECT ", " FROM ") == (
        f'DISTINCT ON ("sale_id", cdc_version) {columns}, %(generation)s'
    )
    assert between(sql, " FROM ", " ON CONFLICT ") == (
        '"stage_fact_sale" ORDER BY "sale_id", cdc_version'
    )
    assert between(sql, " ON CONFLICT ", " DO UPDATE") == '("sale_id", cdc_version)'
    assert sql.endswith(" RETURNING (xmax = 0) AS inserted")


def test_a_stored_version_is_replaced_whole_and_only_by_a_newer_generation():
    sql = text(merge_facts(sale()))
    assignments = split_top(between(sql, " DO UPDATE SET ", " WHERE "))
    assert assignments == [
        *(
            f'"{c}" = EXCLUDED."{c}"'
            for c in (
                "sold_date",
                "colour_id",
                "amount",
                "cdc_operation",
                "cdc_is_deleted",
                "cdc_source_updated_at",
            )
        ),
        "cdc_generation = EXCLUDED.cdc_generation",
        "cdc_loaded_at = clock_timestamp()",
    ], "every column but the (key, version) the row is stored by"
    # strictly newer: a replay by the same generation changes nothing
    assert between(sql, " DO UPDATE SET ", " RETURNING ").endswith(
        ' WHERE "fact_sale".cdc_generation < EXCLUDED.cdc_generation'
    )


def test_the_counted_merge_returns_one_row_shaped_as_a_dimension_merge_counted():
    sql = text(merge_facts_counted(sale()))
    assert sql == (
        f"WITH written AS ({text(merge_facts(sale()))}) SELECT count(*) FILTER (WHERE "
        "inserted), count(*), 0, '{}'::integer[] FROM written"
    )


def test_a_merge_is_for_fact_tables_only():
    with pytest.raises(ValueError, match="dim_colour is not a fact table"):
        merge_facts(colour())


def test_a_fact_version_is_inserted_once_per_key_and_version_and_replaced_by_a_newer_generation():
    sql = text(merge_facts(table_plan("fact_sales_order")))
    assert 'ON CONFLICT ("sales_order_id", cdc_version) DO UPDATE SET' in sql
    assert 'WHERE "fact_sales_order".cdc_generation < EXCLUDED.cdc_generation' in sql
    assert 'SELECT DISTINCT ON ("sales_order_id", cdc_version)' in sql
    assert "%(generation)s" in sql and sql.startswith('INSERT INTO "fact_sales_order"')


def test_every_fact_write_is_sorted_by_the_table_key_then_version():
    assert 'ORDER BY "payment_id", cdc_version ON CONFLICT' in text(
        merge_facts(table_plan("fact_payment"))
    )
    assert 'ORDER BY "sale_id", cdc_version ON CONFLICT' in text(merge_facts(sale()))

"""The merge SQL, as built by pure functions (no database)."""

from __future__ import annotations

import pytest

from warehouse_loader import merge_sql


def text(composed) -> str:
    return composed.as_string(None)


def test_a_fact_version_is_inserted_once_per_key_and_version_and_replaced_by_a_newer_generation():
    sql = text(merge_sql.merge(merge_sql.table_plan("fact_sales_order")))
    assert 'ON CONFLICT ("sales_order_id", cdc_version) DO UPDATE SET' in sql
    assert 'WHERE "fact_sales_order".cdc_generation < EXCLUDED.cdc_generation' in sql
    assert 'SELECT DISTINCT ON ("sales_order_id", cdc_version)' in sql
    assert "%(generation)s" in sql and sql.startswith('INSERT INTO "fact_sales_order"')


def test_a_joined_dimension_compares_version_then_joined_version_and_replaces_inferred_members():
    sql = text(merge_sql.merge(merge_sql.table_plan("dim_staff")))
    assert (
        '("dim_staff".cdc_version, coalesce("dim_staff".cdc_joined_version, -1), '
        '"dim_staff".cdc_generation) <' in sql
    )
    assert 'OR "dim_staff".cdc_is_inferred' in sql
    assert 'ORDER BY "staff_id", cdc_version DESC, cdc_joined_version DESC NULLS LAST' in sql
    assert '"first_name" = CASE WHEN EXCLUDED.cdc_is_deleted THEN "dim_staff"."first_name"' in sql


def test_a_plain_dimension_takes_only_newer_versions_or_an_equal_one_of_a_newer_generation():
    sql = text(merge_sql.merge(merge_sql.table_plan("dim_currency")))
    assert (
        '("dim_currency".cdc_version, "dim_currency".cdc_generation) < '
        "(EXCLUDED.cdc_version, EXCLUDED.cdc_generation)" in sql
    )


def test_facts_get_inferred_members_for_every_dimension_they_reference():
    statements = merge_sql.inferred_members(merge_sql.table_plan("fact_payment"))
    assert {column: text(s).split()[2] for column, s in statements.items()} == {
        "transaction_id": '"dim_transaction"',
        "counterparty_id": '"dim_counterparty"',
        "currency_id": '"dim_currency"',
        "payment_type_id": '"dim_payment_type"',
    }
    assert all(
        "cdc_is_inferred" in text(s) and "unnest(%s::integer[])" in text(s)
        for s in statements.values()
    )


def test_the_fast_fact_insert_has_no_conflict_clause_and_exists_only_for_facts():
    assert "ON CONFLICT" not in text(merge_sql.insert_all(merge_sql.table_plan("fact_payment")))
    with pytest.raises(ValueError, match="not a fact table"):
        merge_sql.insert_all(merge_sql.table_plan("dim_staff"))


def test_an_unknown_table_is_refused():
    with pytest.raises(ValueError, match="no table .dim_secret. among the published"):
        merge_sql.table_plan("dim_secret")


def test_dim_date_is_not_published_the_loader_derives_it():
    with pytest.raises(ValueError, match="no table 'dim_date' among the published"):
        merge_sql.table_plan("dim_date")

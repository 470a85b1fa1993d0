"""The merge SQL, as built by pure functions (no database)."""

from __future__ import annotations

import pytest

from warehouse_loader.merge_sql.dimension import ensure_dates, merge_dimension
from warehouse_loader.merge_sql.fact import copy_into_facts, merge_facts
from warehouse_loader.merge_sql.plan import WRITE_ORDER, table_plan


def text(composed) -> str:
    return composed.as_string(None)


def test_a_fact_version_is_inserted_once_per_key_and_version_and_replaced_by_a_newer_generation():
    sql = text(merge_facts(table_plan("fact_sales_order")))
    assert 'ON CONFLICT ("sales_order_id", cdc_version) DO UPDATE SET' in sql
    assert 'WHERE "fact_sales_order".cdc_generation < EXCLUDED.cdc_generation' in sql
    assert 'SELECT DISTINCT ON ("sales_order_id", cdc_version)' in sql
    assert "%(generation)s" in sql and sql.startswith('INSERT INTO "fact_sales_order"')


def test_a_joined_dimension_compares_version_then_joined_version_and_replaces_inferred_members():
    sql = text(merge_dimension(table_plan("dim_staff")))
    assert (
        '("dim_staff".cdc_version, coalesce("dim_staff".cdc_joined_version, -1), '
        '"dim_staff".cdc_generation) <' in sql
    )
    assert 'OR "dim_staff".cdc_is_inferred' in sql
    assert (
        'ORDER BY "staff_id", cdc_is_inferred, cdc_version DESC, cdc_joined_version DESC NULLS LAST'
        in sql
    )
    assert '"first_name" = CASE WHEN EXCLUDED.cdc_is_deleted THEN "dim_staff"."first_name"' in sql


def test_a_plain_dimension_takes_only_newer_versions_or_an_equal_one_of_a_newer_generation():
    sql = text(merge_dimension(table_plan("dim_currency")))
    assert (
        '("dim_currency".cdc_version, "dim_currency".cdc_generation) < '
        "(EXCLUDED.cdc_version, EXCLUDED.cdc_generation)" in sql
    )


def test_a_dimension_takes_its_rows_and_inferred_members_in_one_pass_in_key_order():
    """One statement per dimension, its input sorted by the key: the staged rows and the keys
    the facts reference interleave in one increasing order (two statements, each sorted,
    would lock the union of their keys out of order, and two loads could deadlock)."""
    sql = text(merge_dimension(table_plan("dim_currency"), inferred=True))
    assert sql.count("INSERT INTO") == 1
    assert 'FROM "stage_dim_currency" UNION ALL SELECT k AS "currency_id"' in sql
    assert "FROM unnest(%(inferred)s::integer[]) AS k" in sql
    assert (
        'WHERE NOT EXISTS (SELECT FROM "dim_currency" WHERE "dim_currency"."currency_id" = k)'
        in sql
    )
    assert 'ORDER BY "currency_id", cdc_is_inferred, cdc_version DESC' in sql
    assert "WHERE NOT EXCLUDED.cdc_is_inferred AND (" in sql, "a member never overwrites a row"
    assert '(NULL::"dim_currency")."currency_code" AS "currency_code"' in sql
    only = text(merge_dimension(table_plan("dim_currency"), staged=False, inferred=True))
    assert "stage_dim_currency" not in only and 'ORDER BY "currency_id"' in only
    with pytest.raises(ValueError, match="needs staged rows or inferred members"):
        merge_dimension(table_plan("dim_currency"), staged=False)
    with pytest.raises(ValueError, match="is a fact table"):
        merge_dimension(table_plan("fact_payment"), inferred=True)


def test_every_write_is_sorted_by_the_table_key_and_tables_follow_the_star_schema_order():
    assert WRITE_ORDER[0] == "dim_date"
    assert WRITE_ORDER.index("dim_transaction") < WRITE_ORDER.index("fact_sales_order")
    assert text(ensure_dates()).endswith(
        "FROM unnest(%s::date[]) AS d ORDER BY d ON CONFLICT (date_id) DO NOTHING"
    )
    fact = table_plan("fact_payment")
    assert 'ORDER BY "payment_id", cdc_version ON CONFLICT' in text(merge_facts(fact))
    for table in ("dim_staff", "dim_design"):
        key = table_plan(table).spec.key
        assert f'ORDER BY "{key}", ' in text(merge_dimension(table_plan(table)))


def test_the_fast_fact_copy_goes_straight_into_the_fact_table_and_exists_only_for_facts():
    statement = text(copy_into_facts(table_plan("fact_payment")))
    assert statement.startswith('COPY "fact_payment" ("payment_id", ')
    assert statement.endswith(
        '"cdc_source_updated_at", cdc_generation) FROM STDIN WITH (FORMAT csv)'
    )
    with pytest.raises(ValueError, match="not a fact table"):
        copy_into_facts(table_plan("dim_staff"))


def test_an_unknown_table_is_refused():
    with pytest.raises(ValueError, match="no table .dim_secret. among the published"):
        table_plan("dim_secret")


def test_dim_date_is_not_published_the_loader_derives_it():
    with pytest.raises(ValueError, match="no table 'dim_date' among the published"):
        table_plan("dim_date")

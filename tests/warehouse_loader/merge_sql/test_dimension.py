"""``merge_sql.dimension``: dim_date's rows and a dimension's merge, inferred members
included, as built (no database)."""

from __future__ import annotations

import dataclasses

import pytest
from psycopg.sql import Identifier

from contracts.star_schema import Column, From
from tests.warehouse_loader.merge_sql.rendered import between, split_top, text
from tests.warehouse_loader.merge_sql.tables import COLOUR, colour, sale, shelf
from warehouse_loader.merge_sql.dimension import (
    ensure_dates,
    inferred_members,
    merge_dimension,
    merge_dimension_counted,
)
from warehouse_loader.merge_sql.plan import table_plan

COLOUR_COLUMNS = (
    '"colour_id", "colour_name", "hex_code", "cdc_version", "cdc_is_deleted", '
    '"cdc_source_updated_at"'
)


def test_dim_date_rows_are_ensured_for_the_dates_passed_in_date_order():
    assert text(ensure_dates()).endswith(
        "FROM unnest(%s::date[]) AS d ORDER BY d ON CONFLICT (date_id) DO NOTHING"
    )


def test_a_merge_upserts_the_newest_staged_row_per_key_in_key_order():
    sql = text(merge_dimension(colour()))
    assert sql.startswith(
        f'INSERT INTO "dim_colour" ({COLOUR_COLUMNS}, cdc_is_inferred, cdc_generation) '
        f'SELECT DISTINCT ON ("colour_id") {COLOUR_COLUMNS}, cdc_is_inferred, %(generation)s '
    )
    assert between(sql, " FROM (", ") AS incoming") == (
        f'SELECT {COLOUR_COLUMNS}, false AS cdc_is_inferred FROM "stage_dim_colour"'
    )
    # per key: a staged row before an inferred member, then the newest version
    assert between(sql, ") AS incoming ", " ON CONFLICT") == (
        'ORDER BY "colour_id", cdc_is_inferred, cdc_version DESC'
    )
    assert between(sql, " ON CONFLICT ", " DO UPDATE") == '("colour_id")'
    assert sql.endswith(
        ' RETURNING (xmax = 0) AS inserted, "dim_colour".cdc_is_inferred AS inferred, '
        '"dim_colour"."colour_id"'
    )


def test_a_delete_flags_the_row_and_keeps_its_attributes():
    assignments = split_top(between(text(merge_dimension(colour())), " DO UPDATE SET ", " WHERE "))
    assert assignments[:2] == [
        f'"{c}" = CASE WHEN EXCLUDED.cdc_is_deleted THEN "dim_colour"."{c}" ELSE EXCLUDED."{c}" END'
        for c in ("colour_name", "hex_code")
    ]
    assert assignments[2:] == [
        '"cdc_version" = EXCLUDED."cdc_version"',
        '"cdc_is_deleted" = EXCLUDED."cdc_is_deleted"',
        '"cdc_source_updated_at" = EXCLUDED."cdc_source_updated_at"',
        "cdc_generation = EXCLUDED.cdc_generation",
        "cdc_is_inferred = false",
        "cdc_loaded_at = clock_timestamp()",
    ], "the key is the conflict target, never set"


def test_a_plain_dimension_takes_a_newer_version_or_an_equal_one_of_a_newer_generation():
    guard = between(text(merge_dimension(colour())), " DO UPDATE SET ", " RETURNING ")
    assert guard.endswith(
        ' WHERE NOT EXCLUDED.cdc_is_inferred AND (("dim_colour".cdc_version, '
        '"dim_colour".cdc_generation) < (EXCLUDED.cdc_version, EXCLUDED.cdc_generation) '
        'OR "dim_colour".cdc_is_inferred)'
    ), "a member never overwrites a row; a real row always replaces a member"


def test_a_joined_dimension_compares_version_then_joined_version_then_generation():
    sql = text(merge_dimension(shelf()))
    assert between(sql, ") AS incoming ", " ON CONFLICT") == (
        'ORDER BY "shelf_id", cdc_is_inferred, cdc_version DESC, cdc_joined_version DESC NULLS LAST'
    )
    assert (
        '(("dim_shelf".cdc_version, coalesce("dim_shelf".cdc_joined_version, -1), '
        '"dim_shelf".cdc_generation) < (EXCLUDED.cdc_version, '
        "coalesce(EXCLUDED.cdc_joined_version, -1), EXCLUDED.cdc_generation) "
        'OR "dim_shelf".cdc_is_inferred)' in sql
    )
    assert '"cdc_joined_version" = EXCLUDED."cdc_joined_version"' in split_top(
        between(sql, " DO UPDATE SET ", " WHERE ")
    )


def test_an_inferred_member_knows_its_key_only_and_is_made_where_the_table_has_none():
    members = text(inferred_members(colour(), Identifier("t")))
    assert members == (
        'SELECT k AS "colour_id", (NULL::"dim_colour")."colour_name" AS "colour_name", '
        '(NULL::"dim_colour")."hex_code" AS "hex_code", 0 AS "cdc_version", '
        'false AS "cdc_is_deleted", (NULL::"dim_colour")."cdc_source_updated_at" AS '
        '"cdc_source_updated_at", true AS cdc_is_inferred '
        "FROM unnest(%(inferred)s::integer[]) AS k "
        'WHERE NOT EXISTS (SELECT FROM "t" WHERE "t"."colour_id" = k)'
    )


def test_staged_rows_and_inferred_members_are_one_sorted_pass():
    """One statement per dimension, its input sorted by the key: the staged rows and the keys
    the facts reference interleave in one increasing order (two statements, each sorted,
    would lock the union of their keys out of order, and two loads could deadlock)."""
    sql = text(merge_dimension(colour(), inferred=True))
    sources = split_top(between(sql, " FROM (", ") AS incoming"), " UNION ALL ")
    assert sources == [
        f'SELECT {COLOUR_COLUMNS}, false AS cdc_is_inferred FROM "stage_dim_colour"',
        text(inferred_members(colour(), Identifier("dim_colour"))),
    ]
    assert sql.count("INSERT INTO") == 1
    only = text(merge_dimension(colour(), staged=False, inferred=True))
    assert split_top(between(only, " FROM (", ") AS incoming"), " UNION ALL ") == sources[1:]
    with pytest.raises(ValueError, match="needs staged rows or inferred members"):
        merge_dimension(colour(), staged=False)
    with pytest.raises(ValueError, match="fact_sale is a fact table"):
        merge_dimension(sale(), inferred=True)


def test_the_counted_merge_counts_staged_rows_and_members_apart_and_lists_the_members():
    sql = text(merge_dimension_counted(colour(), inferred=True))
    assert sql == (
        f"WITH written AS ({text(merge_dimension(colour(), inferred=True))}) "
        "SELECT count(*) FILTER (WHERE inserted AND NOT inferred), "
        "count(*) FILTER (WHERE NOT inferred), count(*) FILTER (WHERE inferred), "
        'coalesce(array_agg("colour_id" ORDER BY "colour_id") FILTER (WHERE inferred), '
        "'{}') FROM written"
    )


def test_identifiers_are_quoted_whatever_the_names():
    odd = dataclasses.replace(
        COLOUR,
        name='dim_Odd "Colour"',
        columns=(
            *COLOUR.columns[:1],
            Column("Colour Name", COLOUR.columns[1].type, source=From("name")),
            *COLOUR.columns[3:],
        ),
    )
    sql = text(merge_dimension(table_plan(odd)))
    assert sql.startswith('INSERT INTO "dim_Odd ""Colour""" ("colour_id", "Colour Name", ')
    assert (
        '"Colour Name" = CASE WHEN EXCLUDED.cdc_is_deleted THEN "dim_Odd ""Colour"""."Colour '
        'Name" ELSE EXCLUDED."Colour Name" END' in sql
    )
    assert 'FROM "stage_dim_Odd ""Colour"""' in sql


def test_a_joined_dimension_of_the_star_schema_replaces_inferred_members():
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


def test_a_plain_dimension_of_the_star_schema_takes_only_newer_versions_or_generations():
    sql = text(merge_dimension(table_plan("dim_currency")))
    assert (
        '("dim_currency".cdc_version, "dim_currency".cdc_generation) < '
        "(EXCLUDED.cdc_version, EXCLUDED.cdc_generation)" in sql
    )


def test_a_dimension_of_the_star_schema_takes_its_rows_and_members_in_one_pass():
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


def test_every_dimension_write_is_sorted_by_the_table_key():
    for table in ("dim_staff", "dim_design"):
        key = table_plan(table).spec.key
        assert f'ORDER BY "{key}", ' in text(merge_dimension(table_plan(table)))

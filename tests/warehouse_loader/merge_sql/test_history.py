"""``merge_sql.history``: a dimension's versions and history, as built (no database; what
they do to rows: tests/warehouse_loader/test_history.py, on the stack)."""

from __future__ import annotations

import dataclasses

import pytest

from tests.warehouse_loader.merge_sql.rendered import between, ctes, split_top, text
from tests.warehouse_loader.merge_sql.tables import COLOUR, colour, sale, shelf
from warehouse_loader.merge_sql.history import (
    history_table,
    rebuild_history,
    record_versions,
    seed_versions,
    version_identity,
    versions_table,
)
from warehouse_loader.merge_sql.plan import table_plan

COLOUR_COLUMNS = (
    '"colour_id", "colour_name", "hex_code", "cdc_version", "cdc_is_deleted", '
    '"cdc_source_updated_at"'
)
# the history's bookkeeping: the dimension's, but cdc_loaded_at
COLOUR_BOOKKEEPING = (
    '"cdc_version", "cdc_is_deleted", "cdc_is_inferred", "cdc_source_updated_at", "cdc_generation"'
)
HISTORY_COLUMNS = (
    '"colour_id", "colour_name", "hex_code", valid_from, valid_to, valid_from_version, '
    f"valid_to_version, {COLOUR_BOOKKEEPING}"
)


def test_the_versions_and_history_tables_follow_from_the_plan_spec():
    assert versions_table(colour()) == "cdc_dim_colour_versions"
    assert history_table(colour()) == "dim_colour_history"
    assert history_table(table_plan("dim_staff")) == "dim_staff_history"


def test_a_version_is_stored_once_by_key_version_joined_version_and_inferred():
    assert text(version_identity(colour())) == '"colour_id", cdc_version, cdc_is_inferred'
    assert text(version_identity(shelf())) == (
        '"shelf_id", cdc_version, (coalesce(cdc_joined_version, -1)), cdc_is_inferred'
    )


def test_recording_versions_is_one_chain_closing_the_open_row_and_adding_the_new_one():
    found, final = ctes(text(record_versions(colour())))
    assert list(found) == ["written", "open", "keys", "gone", "new", "effect", "closed", "added"]
    assert found["written"].startswith('INSERT INTO "cdc_dim_colour_versions" ')
    assert found["open"] == (
        f'SELECT "colour_id", "colour_name", "hex_code", {COLOUR_BOOKKEEPING} '
        'FROM "dim_colour_history" WHERE "colour_id" IN (SELECT "colour_id" FROM written) '
        "AND valid_to_version IS NULL"
    ), "the open row of each key written: the one with no end"
    # the keys to rebuild lose their history here; rebuild_history makes it again
    assert found["gone"] == (
        'DELETE FROM "dim_colour_history" WHERE "colour_id" IN '
        '(SELECT "colour_id" FROM keys WHERE rebuild)'
    )
    # the others are appended to: the open row ends where a version starting a row takes effect
    closed = found["closed"]
    assert closed.startswith(
        'UPDATE "dim_colour_history" AS h SET valid_to = CASE WHEN e.starts THEN e.at_time '
        "ELSE h.valid_to END, valid_to_version = CASE WHEN e.starts THEN e.at "
        "ELSE h.valid_to_version END, "
    )
    assert closed.endswith(
        ' FROM effect AS e WHERE e.continues AND h."colour_id" = e."colour_id" '
        "AND h.valid_to_version IS NULL"
    ), "only the key's open row is closed"
    # ...and the version's row is added, open, from where it takes effect
    assert found["added"] == (
        f'INSERT INTO "dim_colour_history" ({HISTORY_COLUMNS}) SELECT "colour_id", '
        'CASE WHEN cdc_is_deleted THEN "open_colour_name" ELSE "colour_name" END, '
        'CASE WHEN cdc_is_deleted THEN "open_hex_code" ELSE "hex_code" END, '
        f"at_time, NULL, at, NULL, {COLOUR_BOOKKEEPING} FROM effect WHERE starts "
        'ORDER BY "colour_id"'
    ), "a delete's row keeps the open row's attributes"
    assert final == (
        'SELECT coalesce(array_agg("colour_id" ORDER BY "colour_id") FILTER (WHERE rebuild), '
        "'{}'), count(*) FILTER (WHERE NOT rebuild) FROM keys"
    )


def test_a_version_that_does_not_start_a_row_becomes_the_open_row_newest():
    closed = ctes(text(record_versions(colour())))[0]["closed"]
    extend = split_top(between(closed, "ELSE h.valid_to_version END, ", " FROM effect"))
    assert extend == [
        f'"{c}" = CASE WHEN e.starts THEN h."{c}" ELSE e."{c}" END'
        for c in (
            "cdc_version",
            "cdc_is_deleted",
            "cdc_is_inferred",
            "cdc_source_updated_at",
            "cdc_generation",
        )
    ], "the bookkeeping only: the attributes of a row never change"


def test_the_versions_are_written_once_each_and_replaced_only_by_a_newer_generation():
    written = ctes(text(record_versions(colour())))[0]["written"]
    assert between(written, "SELECT ", " FROM (") == (
        f'DISTINCT ON ("colour_id", cdc_version, cdc_is_inferred) {COLOUR_COLUMNS}, '
        "cdc_is_inferred, %(generation)s"
    )
    assert between(written, ") AS incoming ", " ON CONFLICT") == (
        'ORDER BY "colour_id", cdc_version, cdc_is_inferred'
    )
    assert between(written, " ON CONFLICT ", " DO UPDATE") == (
        '("colour_id", cdc_version, cdc_is_inferred)'
    )
    assert split_top(between(written, " DO UPDATE SET ", " WHERE ")) == [
        f'"{c}" = EXCLUDED."{c}"'
        for c in (
            "colour_name",
            "hex_code",
            "cdc_is_deleted",
            "cdc_source_updated_at",
            "cdc_generation",
        )
    ], "everything but the identity"
    assert between(written, " DO UPDATE SET ", " RETURNING ").endswith(
        ' WHERE "cdc_dim_colour_versions".cdc_generation < EXCLUDED.cdc_generation'
    )


def test_a_key_is_rebuilt_when_several_versions_or_a_late_one_or_an_inferred_open_row():
    keys = ctes(text(record_versions(colour())))[0]["keys"]
    assert keys == (
        'SELECT w."colour_id", count(*) > 1 OR coalesce(bool_or(o.cdc_is_inferred '
        'OR ("w"."cdc_version") <= ("o"."cdc_version")), false) AS rebuild '
        'FROM written AS w LEFT JOIN open AS o USING ("colour_id") GROUP BY w."colour_id"'
    )
    joined = ctes(text(record_versions(shelf())))[0]["keys"]
    assert (
        '("w"."cdc_version", coalesce("w"."cdc_joined_version", -1)) <= '
        '("o"."cdc_version", coalesce("o"."cdc_joined_version", -1))' in joined
    ), "a joined dimension's guard: (version, joined version)"


def test_a_version_starts_a_row_when_its_flags_or_live_attributes_differ():
    new = ctes(text(record_versions(colour())))[0]["new"]
    assert (
        'o."colour_id" IS NULL OR o.cdc_is_deleted IS DISTINCT FROM w.cdc_is_deleted '
        "OR o.cdc_is_inferred IS DISTINCT FROM w.cdc_is_inferred "
        'OR (NOT w.cdc_is_deleted AND ("w"."colour_name", "w"."hex_code") IS DISTINCT FROM '
        '("o"."colour_name", "o"."hex_code")) AS starts' in new
    )
    assert new.endswith(
        'FROM written AS w JOIN keys AS k USING ("colour_id") '
        'LEFT JOIN open AS o USING ("colour_id") WHERE NOT k.rebuild'
    )


def test_a_version_takes_effect_at_the_running_maximum_of_its_key_positions():
    effect = ctes(text(record_versions(colour())))[0]["effect"]
    assert effect.startswith(
        "SELECT n.*, greatest(s.at, cdc_version) AS at, "
        "greatest(s.at_time, n.cdc_source_updated_at) AS at_time FROM new AS n LEFT JOIN ("
        'SELECT "colour_id", max(cdc_version) AS at, max(cdc_source_updated_at) AS at_time '
        'FROM "cdc_dim_colour_versions" '
    )
    joined = ctes(text(record_versions(shelf())))[0]["effect"]
    assert "greatest(s.at, greatest(cdc_version, coalesce(cdc_joined_version, 0))) AS at" in joined


def test_inferred_members_are_recorded_where_the_versions_hold_none_of_the_key():
    written = ctes(text(record_versions(colour(), staged=False, inferred=True)))[0]["written"]
    assert "stage_dim_colour" not in written
    assert (
        "FROM unnest(%(inferred)s::integer[]) AS k WHERE NOT EXISTS (SELECT FROM "
        '"cdc_dim_colour_versions" WHERE "cdc_dim_colour_versions"."colour_id" = k)' in written
    )
    both = ctes(text(record_versions(colour(), inferred=True)))[0]["written"]
    assert ' FROM "stage_dim_colour" UNION ALL SELECT k AS "colour_id", ' in both
    with pytest.raises(ValueError, match="need staged rows or inferred members"):
        record_versions(colour(), staged=False)


def test_a_fact_table_has_no_history():
    for build in (record_versions, rebuild_history, seed_versions, history_table):
        with pytest.raises(ValueError, match="fact_sale is a fact table: it has no history"):
            build(sale())


def test_a_rebuild_makes_the_keys_history_from_their_versions_in_one_ordered_pass():
    sql = text(rebuild_history(colour()))
    assert sql.startswith(f'INSERT INTO "dim_colour_history" ({HISTORY_COLUMNS}) SELECT ')
    # the keys passed, their versions in the guard order (a member before a real version 0)
    assert ' FROM "cdc_dim_colour_versions"   WHERE "colour_id" = ANY(%(keys)s::integer[]) ' in sql
    order = 'PARTITION BY "colour_id" ORDER BY cdc_version, cdc_is_inferred DESC'
    assert sql.count(f"WINDOW w AS ({order})") == 3 and f"WINDOW k AS ({order})" in sql
    assert sql.endswith(' ORDER BY "colour_id", cdc_version, cdc_is_inferred DESC')
    # 3, 4: a row ends where the next one starts; a delete's row keeps the attributes before it
    outer = between(sql, "SELECT ", " FROM (")
    assert split_top(outer) == [
        '"colour_id"',
        'CASE WHEN cdc_is_deleted THEN lag("colour_name") OVER k ELSE "colour_name" END',
        'CASE WHEN cdc_is_deleted THEN lag("hex_code") OVER k ELSE "hex_code" END',
        "valid_from",
        "lead(valid_from) OVER k",
        "valid_from_version",
        "lead(valid_from_version) OVER k",
        *COLOUR_BOOKKEEPING.split(", "),
    ]
    # 2: an island starts at a change of flags, or of a live version's attributes
    assert (
        'OR (NOT cdc_is_deleted AND ("colour_name", "hex_code") IS DISTINCT FROM '
        'lag(("colour_name", "hex_code")) OVER w)   AS starts' in sql
    )
    # 1: an inferred member counts only while the key has no real version
    assert "cdc_is_inferred AND lead(cdc_version) OVER w IS NOT NULL AS replaced" in sql
    assert ") AS marked WHERE NOT replaced AND (starts OR last)" in sql


def test_a_joined_rebuild_orders_and_positions_by_both_sides_versions():
    sql = text(rebuild_history(shelf()))
    assert (
        'PARTITION BY "shelf_id" ORDER BY cdc_version, coalesce(cdc_joined_version, -1), '
        "cdc_is_inferred DESC" in sql
    )
    assert (
        "max(greatest(cdc_version, coalesce(cdc_joined_version, 0))) "
        "OVER (w ROWS UNBOUNDED PRECEDING) AS at" in sql
    )


def test_a_rebuild_can_go_into_another_table_for_a_comparison():
    sql = text(rebuild_history(colour(), into="rebuilt_history"))
    assert sql.startswith('INSERT INTO "rebuilt_history" (') and "dim_colour_history" not in sql
    assert sql.replace('"rebuilt_history"', '"dim_colour_history"', 1) == text(
        rebuild_history(colour())
    )


def test_seeding_locks_the_current_rows_in_key_order_adds_them_and_drops_their_history():
    found, final = ctes(text(seed_versions(colour())))
    assert list(found) == ["locked", "seeded", "gone"]
    columns = f'{COLOUR_COLUMNS}, "cdc_is_inferred", "cdc_generation"'
    assert found["locked"] == (
        f'SELECT {columns} FROM "dim_colour" WHERE "colour_id" = ANY(%(keys)s::integer[]) '
        'ORDER BY "colour_id" FOR NO KEY UPDATE'
    )
    recorded = ctes(text(record_versions(colour())))[0]["written"]
    guard = recorded[recorded.index(" ON CONFLICT ") : recorded.index(" RETURNING ")]
    assert found["seeded"] == (
        f'INSERT INTO "cdc_dim_colour_versions" ({columns}) SELECT {columns} FROM locked '
        f'ORDER BY "colour_id"{guard}'
    ), "record_versions' guard: only a newer generation replaces a stored version"
    assert found["gone"] == (
        'DELETE FROM "dim_colour_history" WHERE "colour_id" = ANY(%(keys)s::integer[])'
    )
    assert (
        final == 'SELECT coalesce(array_agg("colour_id" ORDER BY "colour_id"), \'{}\') FROM locked'
    )


def test_history_identifiers_are_quoted_whatever_the_names():
    odd = table_plan(dataclasses.replace(COLOUR, name='dim_Odd "Colour"'))
    assert versions_table(odd) == 'cdc_dim_Odd "Colour"_versions'
    sql = text(rebuild_history(odd))
    assert sql.startswith('INSERT INTO "dim_Odd ""Colour""_history" (')
    assert 'FROM "cdc_dim_Odd ""Colour""_versions" ' in sql
    found, _ = ctes(text(record_versions(odd)))
    assert found["written"].startswith('INSERT INTO "cdc_dim_Odd ""Colour""_versions" (')
    assert found["closed"].startswith('UPDATE "dim_Odd ""Colour""_history" AS h ')

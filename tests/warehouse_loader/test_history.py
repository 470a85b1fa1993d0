"""Dimension history (SCD type 2) on the real local PostgreSQL: versions arriving late, twice,
replayed by a newer generation, deleted, inferred first; the as-of views; the history checks
of ``reconcile``; and (hypothesis) any delivery order with duplicates giving the history an
in-order delivery gives."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from contracts.batches import MemoryStore
from contracts.star_schema import HISTORIES, schema_of
from stream_processor.join_state.memory import MemoryJoinState
from tests.stream_processor.fixtures import ADDRESS, COUNTERPARTY, DEPT, SALE, STAFF, record
from tests.warehouse_loader.fixtures import CURRENCY, manifest
from warehouse_loader.load import load_manifest, load_tables
from warehouse_loader.merge_sql.history import history_table, versions_table
from warehouse_loader.merge_sql.plan import table_plan
from warehouse_tools.reconcile import history_differences
from warehouse_tools.repair import rebuild_histories

pytestmark = pytest.mark.stack
T0 = datetime(2026, 3, 1, 9, 0)
_ledger = itertools.count(1)


def design(key: int, version: int, name: str | None, *, deleted: bool = False) -> dict[str, Any]:
    return {
        "design_id": key,
        "design_name": None if deleted else name,
        "file_location": None if deleted else "/d",
        "file_name": None if deleted else f"{name}.json",
        "cdc_version": Decimal(version),
        "cdc_is_deleted": deleted,
        "cdc_source_updated_at": None if deleted else T0 + timedelta(minutes=version),
    }


def staff(key: int, version: int, joined: int, department: str) -> dict[str, Any]:
    return {
        "staff_id": key,
        "first_name": "Ana",
        "last_name": "Ryan",
        "department_name": department,
        "location": "Leeds",
        "email_address": "ana@t.com",
        "cdc_version": Decimal(version),
        "cdc_joined_version": Decimal(joined),
        "cdc_is_deleted": False,
        "cdc_source_updated_at": T0 + timedelta(minutes=version),
    }


def load(
    conn: psycopg.Connection,
    generation: int = 1,
    *,
    history: bool = True,
    **rows: list[dict[str, Any]],
) -> None:
    """One micro-batch of published rows, through the loader's own path."""
    load_tables(
        conn,
        {t: pa.Table.from_pylist(r, schema=schema_of(t)) for t, r in rows.items()},
        ledger_key=f"test/{next(_ledger)}",
        generation=generation,
        shard_id="test",
        records=sum(map(len, rows.values())),
        history=history,
    )


def history(conn: psycopg.Connection, dimension: str) -> list[tuple]:
    h = HISTORIES[dimension]
    return conn.execute(
        sql.SQL("SELECT * FROM {} ORDER BY {}, valid_from_version, valid_to_version").format(
            sql.Identifier(h.name), sql.Identifier(h.key)
        )
    ).fetchall()


def names(conn: psycopg.Connection) -> list[tuple]:
    """(key, name, valid_from_version, valid_to_version, deleted, inferred) of dim_design's."""
    return conn.execute(
        "SELECT design_id, design_name, valid_from_version, valid_to_version, cdc_is_deleted, "
        "cdc_is_inferred FROM dim_design_history ORDER BY design_id, valid_from_version"
    ).fetchall()


def differences(conn: psycopg.Connection) -> dict[str, dict[str, list[Any]]]:
    return {d.table: d.problems for d in history_differences(conn) if d.problems}


def test_equal_attributes_add_no_row_and_a_late_version_splits_the_interval(warehouse):
    load(warehouse, dim_design=[design(1, 10, "a")])
    load(warehouse, dim_design=[design(1, 30, "a")])  # equal attributes: no row
    assert names(warehouse) == [(1, "a", 10, None, False, False)]
    load(warehouse, dim_design=[design(1, 20, "b")])  # late, between the two
    assert names(warehouse) == [
        (1, "a", 10, 20, False, False),
        (1, "b", 20, 30, False, False),
        (1, "a", 30, None, False, False),
    ]
    # the open row is the current one, valid_from/valid_to follow the source's last_updated
    assert warehouse.execute(
        "SELECT valid_from, valid_to, cdc_version FROM dim_design_history ORDER BY valid_from"
    ).fetchall() == [
        (T0 + timedelta(minutes=10), T0 + timedelta(minutes=20), 10),
        (T0 + timedelta(minutes=20), T0 + timedelta(minutes=30), 20),
        (T0 + timedelta(minutes=30), None, 30),
    ]
    assert differences(warehouse) == {}


def test_duplicates_and_replays_change_nothing(warehouse):
    batch = [design(1, 10, "a"), design(1, 20, "b"), design(1, 20, "b")]
    load(warehouse, dim_design=batch)
    before = history(warehouse, "dim_design")
    load(warehouse, dim_design=batch)  # a replay by the same generation, under another key
    load(warehouse, dim_design=[design(1, 10, "a")])
    assert history(warehouse, "dim_design") == before
    assert len(before) == 2


def test_a_newer_generation_rewrites_the_history(warehouse):
    load(warehouse, dim_design=[design(1, 10, "a"), design(1, 20, "b")])
    load(warehouse, generation=2, dim_design=[design(1, 20, "a")])  # the fixed transform
    assert names(warehouse) == [(1, "a", 10, None, False, False)]
    assert warehouse.execute("SELECT cdc_generation FROM dim_design_history").fetchone() == (2,)
    load(warehouse, dim_design=[design(1, 20, "b")])  # the old generation again: no effect
    assert names(warehouse) == [(1, "a", 10, None, False, False)]
    assert differences(warehouse) == {}


def test_a_delete_closes_the_interval_and_keeps_the_row_flagged(warehouse):
    load(warehouse, dim_design=[design(1, 20, None, deleted=True)])  # the delete first
    load(warehouse, dim_design=[design(1, 10, "a")])
    assert names(warehouse) == [
        (1, "a", 10, 20, False, False),
        (1, "a", 20, None, True, False),  # the attributes of the version before the delete
    ]
    assert differences(warehouse) == {}  # a deleted row's kept attributes are not compared


def test_an_inferred_members_history_row_is_replaced_by_the_real_row(warehouse):
    store = MemoryStore()
    load_manifest(warehouse, store, manifest(store, record("sales_order", SALE, commit=0x50)))
    assert warehouse.execute(
        "SELECT staff_id, cdc_is_inferred, valid_to_version FROM dim_staff_history"
    ).fetchall() == [(10, True, None)]
    assert differences(warehouse) == {}
    load(warehouse, dim_staff=[staff(10, 5, 3, "Sales")])
    assert warehouse.execute(
        "SELECT staff_id, department_name, cdc_is_inferred, valid_from_version, "
        "valid_to_version FROM dim_staff_history"
    ).fetchall() == [(10, "Sales", False, 5, None)]
    assert differences(warehouse) == {}


def test_renames_moves_and_address_changes_each_once_and_orders_see_them_as_they_were(
    warehouse,
):
    """Through the real processor, one manifest per change, then every manifest again: a
    department renamed, the staff member moved to another, an address's phone changed (the
    location and the counterparty whose legal address it is). Each history holds each change
    once, taking effect at the change (a department's, for the staff row it re-derives), and
    each sales order version joins the rows valid at its version."""
    store, state = MemoryStore(), MemoryJoinState()
    other = {**DEPT, "department_id": 2, "department_name": "Purchasing"}
    changes = [
        record("department", DEPT, commit=0x10),
        record("department", other, commit=0x11),
        record("address", ADDRESS, commit=0x12),
        record("counterparty", COUNTERPARTY, commit=0x13),
        record("staff", STAFF, commit=0x20),
        record("currency", CURRENCY, commit=0x28),
        record("sales_order", SALE, commit=0x30),
        record("department", {**DEPT, "department_name": "Sales EMEA"}, "update", commit=0x40),
        record("sales_order", {**SALE, "units_sold": 5}, "update", commit=0x50),
        record("staff", {**STAFF, "department_id": 2}, "update", commit=0x60),
        record("address", {**ADDRESS, "phone": "0114"}, "update", commit=0x70),
        record("sales_order", {**SALE, "units_sold": 6}, "update", commit=0x80),
    ]
    keys = [manifest(store, change, state=state) for change in changes]
    for key in [k for k in keys if k is not None] * 2:  # a lone department makes no rows
        load_manifest(warehouse, store, key)

    def rows(query: str) -> list[tuple]:
        return warehouse.execute(query).fetchall()

    assert rows(
        "SELECT department_name, valid_from_version::bigint >> 32, "
        "valid_to_version::bigint >> 32 FROM dim_staff_history ORDER BY valid_from_version"
    ) == [("Sales", 0x20, 0x40), ("Sales EMEA", 0x40, 0x60), ("Purchasing", 0x60, None)]
    assert rows(
        "SELECT phone, valid_from_version::bigint >> 32 FROM dim_location_history "
        "ORDER BY valid_from_version"
    ) == [("0113", 0x12), ("0114", 0x70)]
    assert rows(
        "SELECT counterparty_legal_phone_number, valid_from_version::bigint >> 32 "
        "FROM dim_counterparty_history ORDER BY valid_from_version"
    ) == [("0113", 0x13), ("0114", 0x70)]
    assert rows(
        "SELECT units_sold, staff_department_name, counterparty_legal_phone_number, "
        "location_phone, currency_code FROM fact_sales_order_as_of ORDER BY cdc_version"
    ) == [
        (100, "Sales", "0113", "0113", "GBP"),
        (5, "Sales EMEA", "0113", "0113", "GBP"),
        (6, "Purchasing", "0114", "0114", "GBP"),
    ]
    assert differences(warehouse) == {}


def test_rows_a_joined_sides_newer_change_overtook_are_empty_intervals_in_any_order(warehouse):
    """Staff changes (own versions 10, 12, 15) the processor joined only after it had seen their
    department's change at 20: each row takes effect at 20, so all but the last are empty
    intervals, contiguous however PostgreSQL happens to store them."""
    load(warehouse, dim_staff=[staff(7, 10, 20, "A"), staff(7, 12, 20, "B")])
    load(warehouse, dim_staff=[staff(7, 15, 20, "C")])
    warehouse.execute(  # store them in reverse
        "CREATE TEMP TABLE kept AS SELECT * FROM dim_staff_history; DELETE FROM dim_staff_history; "
        "INSERT INTO dim_staff_history SELECT * FROM kept ORDER BY cdc_version DESC"
    )
    assert warehouse.execute(
        "SELECT department_name, valid_from_version, valid_to_version FROM dim_staff_history "
        "ORDER BY cdc_version"
    ).fetchall() == [("A", 20, 20), ("B", 20, 20), ("C", 20, None)]
    assert differences(warehouse) == {}


def test_reconcile_finds_a_broken_history_and_the_repair_rebuilds_it(warehouse):
    load(warehouse, dim_design=[design(1, 10, "a"), design(1, 20, "b"), design(2, 10, "c")])
    load(warehouse, dim_staff=[staff(7, 10, 4, "Sales")])
    good = history(warehouse, "dim_design")
    warehouse.execute("UPDATE dim_design_history SET valid_to_version = 15 WHERE design_id = 1")
    warehouse.execute("UPDATE dim_design_history SET design_name = 'x' WHERE design_id = 2")
    warehouse.execute("DELETE FROM dim_staff_history")
    warehouse.execute(
        "INSERT INTO dim_design_history (design_id, valid_from_version, cdc_version, "
        "cdc_is_deleted, cdc_is_inferred, cdc_generation) VALUES (9, 0, 0, false, false, 1)"
    )
    assert differences(warehouse) == {
        "dim_design_history": {
            "history_interval_not_contiguous": [1],
            "history_open_row_missing_or_different": [1, 2],
            "history_without_dimension_row": [9],
            "history_not_as_its_versions_give": [1, 2, 9],
        },
        "dim_staff_history": {
            "history_open_row_missing_or_different": [7],
            "history_not_as_its_versions_give": [7],
        },
    }
    rebuild_histories(warehouse, "dim_design", [1, 2, 9])
    rebuild_histories(warehouse, "dim_staff", [7])
    assert history(warehouse, "dim_design") == good
    assert differences(warehouse) == {}


def test_reconcile_finds_a_wrong_row_in_the_middle_of_a_history(warehouse):
    load(warehouse, dim_design=[design(1, 10, "a"), design(1, 20, "b"), design(1, 30, "c")])
    warehouse.execute(
        "UPDATE dim_design_history SET design_name = 'wrong' WHERE design_id = 1 "
        "AND valid_to_version IS NOT NULL AND design_name = 'b'"
    )
    # the intervals and the open row are intact: only the rebuild from the versions sees it
    assert differences(warehouse) == {
        "dim_design_history": {"history_not_as_its_versions_give": [1]}
    }


def test_with_history_off_the_histories_are_left_alone(warehouse):
    load_tables(
        warehouse,
        {"dim_design": pa.Table.from_pylist([design(1, 10, "a")], schema=schema_of("dim_design"))},
        ledger_key="off",
        generation=1,
        shard_id="test",
        records=1,
        history=False,
    )
    assert history(warehouse, "dim_design") == []
    assert differences(warehouse) == {
        "dim_design_history": {"history_open_row_missing_or_different": [1]}
    }


def test_a_newer_generations_replay_received_with_history_off_is_repaired(warehouse):
    """Generation 2 replays version 10 with other attributes while history is off: the
    versions table still holds generation 1's; the repair's seeding replaces it (a newer
    generation wins, as in every load) and the history matches the dimension again."""
    load(warehouse, dim_design=[design(1, 10, "a")])
    load(warehouse, 2, history=False, dim_design=[design(1, 10, "b")])
    assert differences(warehouse) == {
        "dim_design_history": {"history_open_row_missing_or_different": [1]}
    }
    rebuild_histories(warehouse, "dim_design", [1])
    assert names(warehouse) == [(1, "b", 10, None, False, False)]
    assert warehouse.execute(
        "SELECT design_name, cdc_generation FROM cdc_dim_design_versions"
    ).fetchall() == [("b", 2)]
    assert differences(warehouse) == {}


def test_a_fact_load_records_only_the_members_it_made(warehouse):
    """Staff 10 was loaded with history off; a sales order referencing it (and design 2,
    counterparty 3, ... which no dimension holds) is loaded with history on: the members the
    merge made get their version and history row, staff 10 (which the merge left alone and
    did not lock) none, not an inferred one contradicting its real row."""
    load(warehouse, history=False, dim_staff=[staff(10, 5, 3, "Sales")])
    store = MemoryStore()
    load_manifest(warehouse, store, manifest(store, record("sales_order", SALE, commit=0x50)))
    assert warehouse.execute("SELECT count(*) FROM cdc_dim_staff_versions").fetchone() == (0,)
    assert history(warehouse, "dim_staff") == []
    assert warehouse.execute(
        "SELECT design_id, cdc_version, cdc_is_inferred FROM cdc_dim_design_versions"
    ).fetchall() == [(2, 0, True)]
    assert names(warehouse) == [(2, None, 0, None, False, True)]
    assert differences(warehouse) == {
        "dim_staff_history": {"history_open_row_missing_or_different": [10]}
    }
    rebuild_histories(warehouse, "dim_staff", [10])
    assert differences(warehouse) == {}


# --- any delivery order, with duplicates, gives the in-order history --------------------------

_DEPARTMENTS = ("Sales", "Purchasing")


@st.composite
def random_histories(draw: st.DrawFn) -> list[tuple[int, str, dict[str, Any]]]:
    """(generation, table, row) of a few keys' versions: designs renamed back and forth,
    deleted, some replayed by generation 2 with other attributes; staff whose department is
    renamed (a new joined version at the same own version) or who move."""
    rows: list[tuple[int, str, dict[str, Any]]] = []
    for key in (1, 2):
        versions = draw(st.lists(st.integers(1, 12), min_size=1, max_size=5, unique=True))
        for v in versions:
            deleted = draw(st.integers(0, 7)) == 0
            rows.append(
                (1, "dim_design", design(key, v, draw(st.sampled_from("ab")), deleted=deleted))
            )
            if draw(st.integers(0, 4)) == 0:
                rows.append((2, "dim_design", design(key, v, draw(st.sampled_from("abc")))))
    own = draw(st.lists(st.integers(1, 12), min_size=1, max_size=3, unique=True))
    for v in own:
        for j in draw(st.lists(st.integers(0, 12), min_size=1, max_size=3, unique=True)):
            rows.append((1, "dim_staff", staff(3, v, j, draw(st.sampled_from(_DEPARTMENTS)))))
    return rows


def _deliver(
    conn: psycopg.Connection, rows: list[tuple[int, str, dict[str, Any]]], sizes: list[int]
) -> None:
    """Micro-batches of consecutive rows of one generation, of the given sizes in turn."""
    i, s = 0, 0
    while i < len(rows):
        generation = rows[i][0]
        chunk = list(
            itertools.takewhile(
                lambda r, g=generation: r[0] == g, rows[i : i + sizes[s % len(sizes)]]
            )
        )
        s, i = s + 1, i + len(chunk)
        tables: dict[str, list[dict[str, Any]]] = {}
        for _, table, row in chunk:
            tables.setdefault(table, []).append(row)
        load(conn, generation, **tables)


def _histories(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    return {d: history(conn, d) for d in ("dim_design", "dim_staff")}


def _empty(conn: psycopg.Connection) -> None:
    tables = ["dim_design", "dim_staff", "cdc_load_ledger"]
    for d in ("dim_design", "dim_staff"):
        p = table_plan(d)
        tables += [versions_table(p), history_table(p)]
    conn.execute(  # CASCADE: the facts (none here)
        sql.SQL("TRUNCATE {} CASCADE").format(sql.SQL(", ").join(map(sql.Identifier, tables)))
    )


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), rows=random_histories())
def test_any_delivery_order_with_duplicates_gives_the_in_order_history(warehouse, data, rows):
    _empty(warehouse)
    in_order = sorted(
        rows, key=lambda r: (r[0], r[2]["cdc_version"], r[2].get("cdc_joined_version", 0))
    )
    _deliver(warehouse, in_order, [1])
    expected = _histories(warehouse)
    assert differences(warehouse) == {}

    _empty(warehouse)
    twice = rows + data.draw(st.lists(st.sampled_from(rows), max_size=4), label="duplicates")
    shuffled = data.draw(st.permutations(twice), label="order")
    sizes = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3), label="batch sizes")
    _deliver(warehouse, shuffled, sizes)
    assert _histories(warehouse) == expected
    assert differences(warehouse) == {}

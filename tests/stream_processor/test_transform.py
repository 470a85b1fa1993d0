"""The star-schema transformation, table-driven, plus properties under reordering and duplicates."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from itertools import zip_longest

from hypothesis import given, settings
from hypothesis import strategies as st

from stream_processor.decode import decode
from stream_processor.join_state.memory import MemoryJoinState
from stream_processor.transform import AddMember, OutRow, Put, currency_name, transform
from tests.stream_processor.fixtures import ADDRESS, COUNTERPARTY, DEPT, SALE, STAFF, T0, record


def run(*changes: bytes, state: MemoryJoinState | None = None) -> list[OutRow]:
    """Transform change by change, applying each change's join-state writes before the next."""
    state = state or MemoryJoinState()
    rows: list[OutRow] = []
    for raw in changes:
        out = transform(decode(raw), state)
        state.apply(out.writes)
        rows += out.rows
    return rows


def rows_of(rows: list[OutRow], table: str) -> list[dict]:
    return [r.values for r in rows if r.table == table]


def test_a_sales_order_becomes_a_fact_version_with_split_timestamps_and_typed_dates():
    rows = run(record("sales_order", SALE, "insert", commit=0x50))
    [fact] = rows_of(rows, "fact_sales_order")
    assert (
        fact["sales_order_id"] == 7
        and fact["sales_staff_id"] == 10
        and fact["unit_price"] == Decimal("3.80")
    )
    assert (fact["created_date"], fact["created_time"]) == (
        date(2026, 3, 2),
        time(9, 30, 15, 123000),
    )
    assert fact["last_updated_date"] == date(2026, 3, 3)
    assert (fact["agreed_payment_date"], fact["agreed_delivery_date"]) == (
        date(2026, 3, 4),
        date(2026, 3, 5),
    )
    assert fact["cdc_version"] == (0x50 << 32) | 1 and fact["cdc_operation"] == "insert"
    assert rows_of(rows, "dim_date") == [], "dim_date is the loader's to derive"


def test_the_transform_returns_its_join_state_writes_instead_of_making_them():
    state = MemoryJoinState()
    out = transform(decode(record("staff", STAFF, commit=0x10)), state)
    assert out.rows == () and state.rows == {} and state.children == {}
    [put, member] = out.writes
    assert put == Put("staff", 10, (0x10 << 32) | 1, decode(record("staff", STAFF)).image)
    assert member == AddMember("department", 1, 10)
    assert transform(decode(record("sales_order", SALE, commit=0x20)), state).writes == ()


def test_currency_names_come_from_iso_4217():
    assert [currency_name(c) for c in ("GBP", "USD", "EUR")] == [
        "Pound Sterling",
        "US Dollar",
        "Euro",
    ]
    assert currency_name("XXZ") is None


def test_each_fact_version_is_its_own_row_and_a_delete_is_the_final_version():
    paid = {**SALE, "units_sold": 150}
    rows = run(
        record("sales_order", SALE, "insert", commit=0x50),
        record("sales_order", paid, "update", commit=0x60),
        record("sales_order", SALE, "delete", commit=0x70),
    )
    facts = rows_of(rows, "fact_sales_order")
    assert [(f["cdc_operation"], f["units_sold"], f["cdc_is_deleted"]) for f in facts] == [
        ("insert", 100, False),
        ("update", 150, False),
        ("delete", None, True),
    ]


def test_a_staff_row_waits_for_its_department_and_is_emitted_when_it_arrives():
    state = MemoryJoinState()
    assert rows_of(run(record("staff", STAFF, commit=0x10), state=state), "dim_staff") == []
    [staff] = rows_of(run(record("department", DEPT, commit=0x20), state=state), "dim_staff")
    assert (staff["staff_id"], staff["department_name"], staff["location"]) == (
        10,
        "Sales",
        "Manchester",
    )
    assert (staff["cdc_version"], staff["cdc_joined_version"]) == (
        (0x10 << 32) | 1,
        (0x20 << 32) | 1,
    )


def test_a_department_rename_re_emits_every_staff_row_of_that_department_only():
    state = MemoryJoinState()
    other = {**STAFF, "staff_id": 11, "department_id": 2}
    run(
        record("department", DEPT, commit=0x10),
        record("department", {**DEPT, "department_id": 2}, commit=0x11),
        record("staff", STAFF, commit=0x12),
        record("staff", other, commit=0x13),
        state=state,
    )
    renamed = run(
        record(
            "department", {**DEPT, "department_name": "Sales & Marketing"}, "update", commit=0x20
        ),
        state=state,
    )
    assert [(s["staff_id"], s["department_name"]) for s in rows_of(renamed, "dim_staff")] == [
        (10, "Sales & Marketing")
    ]


def test_a_staff_member_who_moved_is_not_re_emitted_by_the_old_department():
    state = MemoryJoinState()
    run(
        record("department", DEPT, commit=0x10),
        record("department", {**DEPT, "department_id": 2}, commit=0x11),
        record("staff", STAFF, commit=0x12),
        record("staff", {**STAFF, "department_id": 2}, "update", commit=0x13),
        state=state,
    )
    assert (
        rows_of(
            run(
                record("department", {**DEPT, "location": "Leeds"}, "update", commit=0x20),
                state=state,
            ),
            "dim_staff",
        )
        == []
    )


def test_an_address_change_updates_dim_location_and_every_counterparty_whose_legal_address_it_is():
    state = MemoryJoinState()
    run(
        record("address", ADDRESS, commit=0x10),
        record("counterparty", COUNTERPARTY, commit=0x11),
        state=state,
    )
    rows = run(record("address", {**ADDRESS, "phone": "0999"}, "update", commit=0x20), state=state)
    assert rows_of(rows, "dim_location")[0]["phone"] == "0999"
    [cp] = rows_of(rows, "dim_counterparty")
    assert (
        cp["counterparty_legal_phone_number"] == "0999" and cp["counterparty_legal_city"] == "Leeds"
    )


def test_a_deleted_dimension_row_is_flagged_not_dropped():
    [location] = rows_of(run(record("address", ADDRESS, "delete", commit=0x30)), "dim_location")
    assert (
        location["location_id"] == 5
        and location["cdc_is_deleted"] is True
        and location["city"] is None
    )
    [staff] = rows_of(run(record("staff", STAFF, "delete", commit=0x31)), "dim_staff")
    assert staff["cdc_is_deleted"] is True


# --- properties ------------------------------------------------------------------------------


def warehouse_after(rows: list[OutRow]) -> tuple[dict, set]:
    """What a version-guarded load keeps: per dimension key the highest (version, joined
    version); every (fact key, version) once."""
    dims: dict[tuple, tuple] = {}
    facts: set = set()
    for row in rows:
        values = row.values
        if row.table.startswith("fact_"):
            key = next(iter(values.values()))
            facts.add(
                (row.table, key, values["cdc_version"], tuple(sorted(map(str, values.items()))))
            )
        elif row.table == "dim_date":
            dims[(row.table, values["date_id"])] = ((0, 0), values)
        else:
            key = (row.table, next(iter(values.values())))
            rank = (values["cdc_version"], values.get("cdc_joined_version") or 0)
            if key not in dims or rank > dims[key][0]:
                dims[key] = (rank, values)
    return {k: v[1] for k, v in dims.items()}, facts


def history(draw: st.DrawFn) -> list[bytes]:
    """A serial history of versions of a small world: departments, staff, addresses,
    counterparties, a currency and sales orders, in commit order."""
    changes: list[tuple[str, dict, str]] = []
    for d in (1, 2):
        changes.append(
            ("department", {**DEPT, "department_id": d, "department_name": f"D{d}"}, "insert")
        )
    for a in (5, 6):
        changes.append(("address", {**ADDRESS, "address_id": a}, "insert"))
    for s in (10, 11, 12):
        changes.append(
            (
                "staff",
                {**STAFF, "staff_id": s, "department_id": draw(st.sampled_from([1, 2]))},
                "insert",
            )
        )
    for c in (3, 4):
        changes.append(
            (
                "counterparty",
                {
                    **COUNTERPARTY,
                    "counterparty_id": c,
                    "legal_address_id": draw(st.sampled_from([5, 6])),
                },
                "insert",
            )
        )
    changes.append(
        (
            "currency",
            {"currency_id": 1, "currency_code": "GBP", "created_at": T0, "last_updated": T0},
            "insert",
        )
    )
    changes.append(("sales_order", SALE, "insert"))
    for _ in range(draw(st.integers(3, 12))):
        kind = draw(
            st.sampled_from(
                ["department", "staff", "address", "counterparty", "sales_order", "staff_delete"]
            )
        )
        n = draw(st.integers(0, 99))
        if kind == "department":
            changes.append(
                (
                    "department",
                    {
                        **DEPT,
                        "department_id": draw(st.sampled_from([1, 2])),
                        "department_name": f"Dept {n}",
                    },
                    "update",
                )
            )
        elif kind == "staff":
            changes.append(
                (
                    "staff",
                    {
                        **STAFF,
                        "staff_id": draw(st.sampled_from([10, 11, 12])),
                        "department_id": draw(st.sampled_from([1, 2])),
                        "email_address": f"{n}@t",
                    },
                    "update",
                )
            )
        elif kind == "address":
            changes.append(
                (
                    "address",
                    {**ADDRESS, "address_id": draw(st.sampled_from([5, 6])), "phone": str(n)},
                    "update",
                )
            )
        elif kind == "counterparty":
            changes.append(
                (
                    "counterparty",
                    {
                        **COUNTERPARTY,
                        "counterparty_id": draw(st.sampled_from([3, 4])),
                        "legal_address_id": draw(st.sampled_from([5, 6])),
                        "counterparty_legal_name": f"Co {n}",
                    },
                    "update",
                )
            )
        elif kind == "sales_order":
            changes.append(("sales_order", {**SALE, "units_sold": n + 1}, "update"))
        else:
            changes.append(("staff", {**STAFF, "staff_id": 12}, "delete"))
    return [record(t, row, op, commit=0x100 + 16 * i) for i, (t, row, op) in enumerate(changes)]


@st.composite
def shuffled(draw: st.DrawFn) -> tuple[list[bytes], list[bytes]]:
    in_order = history(draw)
    keys = [(decode(r).table, decode(r).key) for r in in_order]
    order = draw(st.permutations(range(len(in_order))))
    # keep each row's own order: the slots a row's records take get them in version order
    by_row: dict[tuple, list[bytes]] = {}
    for raw, key in zip(in_order, keys, strict=True):
        by_row.setdefault(key, []).append(raw)
    cursor = {k: 0 for k in by_row}
    out = []
    for i in order:
        key = keys[i]
        out.append(by_row[key][cursor[key]])
        cursor[key] += 1
    for i in draw(st.lists(st.integers(0, len(out) - 1), max_size=6)):  # duplicates, anywhere after
        out.insert(draw(st.integers(i, len(out))), out[i])
    return in_order, out


@settings(max_examples=150, deadline=None)
@given(shuffled())
def test_any_interleaving_and_duplication_gives_the_same_dimensions_and_fact_versions(histories):
    in_order, reordered = histories
    assert warehouse_after(run(*reordered)) == warehouse_after(run(*in_order))


@st.composite
def batched(draw: st.DrawFn) -> tuple[list[bytes], list[list[bytes]]]:
    """A reordered, duplicated history cut into batches (one ``process_records`` call each)."""
    in_order, reordered = draw(shuffled())
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(reordered) - 1)), max_size=8)))
    bounds = [0, *cuts, len(reordered)]
    return in_order, [reordered[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if a < b]


@settings(max_examples=150, deadline=None)
@given(batched())
def test_batched_join_state_gives_the_same_warehouse_as_change_by_change(histories):
    """Batches of two workers race: both write, then both read (join_batch's protocol at its
    tightest), then both transform against their snapshots."""
    from stream_processor import join_batch

    in_order, batches = histories
    shared, rows = MemoryJoinState(), []
    for first, second in zip_longest(batches[::2], batches[1::2], fillvalue=[]):
        changes = [[decode(r) for r in batch] for batch in (first, second)]
        plans = [join_batch.plan_batch(c) for c in changes]
        for p in plans:
            join_batch.write(shared, p)
        views = [join_batch.read(shared, p) for p in plans]
        for batch_changes, view in zip(changes, views, strict=True):
            for change in batch_changes:
                out = transform(change, view)
                view.apply(out.writes)
                rows += out.rows
    assert warehouse_after(rows) == warehouse_after(run(*in_order))

"""The seeded initial dataset, checked without a database."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from cdc.simulator import dataset
from cdc.source_schema import PRIMARY_KEYS, TABLES

DATA = dataset.generate(42)


def test_the_same_seed_gives_the_same_rows_and_another_seed_other_rows():
    assert dataset.generate(42).tables == DATA.tables
    assert dataset.generate(43).tables != DATA.tables


def test_scale_multiplies_the_orders_only_and_scale_100_passes_a_million_rows():
    assert dataset.DatasetSize.scaled(1) == dataset.DatasetSize()
    base, big = dataset.DatasetSize(), dataset.DatasetSize.scaled(100)
    assert (big.sales_orders, big.purchase_orders) == (
        100 * base.sales_orders,
        100 * base.purchase_orders,
    )
    assert (big.designs, big.staff, big.days) == (base.designs, base.staff, base.days)
    # Every order brings its transaction and payment; reference rows as at scale 1.
    reference = sum(n for t, n in DATA.row_counts().items() if t not in dataset.ORDER_ROW_TABLES)
    assert 3 * (big.sales_orders + big.purchase_orders) + reference >= 1_000_000
    scaled = dataset.generate(42, dataset.DatasetSize.scaled(2))
    assert scaled.tables == dataset.generate(42, dataset.DatasetSize.scaled(2)).tables
    counts = scaled.row_counts()
    assert counts["payment"] == counts["transaction"] == 2 * DATA.row_counts()["payment"]


def test_the_default_size_is_shaped_like_production():
    counts = DATA.row_counts()
    assert (counts["address"], counts["counterparty"], counts["currency"]) == (30, 20, 3)
    assert (counts["department"], counts["staff"], counts["payment_type"]) == (8, 20, 4)
    assert 100 <= counts["design"] <= 999
    assert counts["sales_order"] >= 1000 and counts["purchase_order"] >= 1000
    orders = counts["sales_order"] + counts["purchase_order"]
    assert counts["transaction"] == counts["payment"] == orders
    assert {r["currency_code"] for r in DATA.tables["currency"]} == {"GBP", "USD", "EUR"}


def test_primary_keys_are_unique_and_every_foreign_key_points_at_a_row():
    ids = {t: {r[PRIMARY_KEYS[t]] for r in DATA.tables[t]} for t in TABLES}
    for t in TABLES:
        assert len(ids[t]) == len(DATA.tables[t]), t
    references = {
        "counterparty": {"legal_address_id": "address"},
        "staff": {"department_id": "department"},
        "sales_order": {
            "design_id": "design",
            "staff_id": "staff",
            "counterparty_id": "counterparty",
            "currency_id": "currency",
            "agreed_delivery_location_id": "address",
        },
        "purchase_order": {
            "staff_id": "staff",
            "counterparty_id": "counterparty",
            "currency_id": "currency",
            "agreed_delivery_location_id": "address",
        },
        "transaction": {"sales_order_id": "sales_order", "purchase_order_id": "purchase_order"},
        "payment": {
            "transaction_id": "transaction",
            "counterparty_id": "counterparty",
            "currency_id": "currency",
            "payment_type_id": "payment_type",
        },
    }
    for table, columns in references.items():
        for row in DATA.tables[table]:
            for column, parent in columns.items():
                assert row[column] is None or row[column] in ids[parent], (table, column, row)


def test_each_transaction_names_exactly_the_order_its_type_says():
    for t in DATA.tables["transaction"]:
        if t["transaction_type"] == "SALE":
            assert t["sales_order_id"] is not None and t["purchase_order_id"] is None
        else:
            assert t["transaction_type"] == "PURCHASE"
            assert t["purchase_order_id"] is not None and t["sales_order_id"] is None
    assert len({t["transaction_id"] for t in DATA.tables["payment"]}) == len(DATA.tables["payment"])


def test_timestamps_have_millisecond_precision_and_some_have_no_fraction_at_all():
    stamps = [r[c] for t in TABLES for r in DATA.tables[t] for c in ("created_at", "last_updated")]
    assert all(isinstance(s, datetime) and s.microsecond % 1000 == 0 for s in stamps)
    whole = sum(s.microsecond == 0 for s in stamps) / len(stamps)
    assert 0.05 < whole < 0.5
    assert all(r["last_updated"] >= r["created_at"] for t in TABLES for r in DATA.tables[t])


def test_orders_spread_over_months_with_agreed_dates_a_few_days_after_creation():
    orders = DATA.tables["sales_order"] + DATA.tables["purchase_order"]
    created = [o["created_at"] for o in orders]
    assert max(created) - min(created) > timedelta(days=120)
    for o in orders:
        for column in ("agreed_delivery_date", "agreed_payment_date"):
            days = (date.fromisoformat(o[column]) - o["created_at"].date()).days
            assert 1 <= days <= 7, (column, o)
    # ids grow with creation time, as a serial key does
    for table in ("sales_order", "purchase_order"):
        rows = DATA.tables[table]
        assert [r["created_at"] for r in rows] == sorted(r["created_at"] for r in rows)


def test_optional_address_parts_are_often_null():
    addresses = DATA.tables["address"]
    assert sum(a["address_line_2"] is None for a in addresses) >= len(addresses) / 4
    assert sum(a["district"] is None for a in addresses) >= len(addresses) / 4


def test_payments_match_their_order_and_those_paid_were_updated_after_creation():
    orders = {("sales_order", o["sales_order_id"]): o for o in DATA.tables["sales_order"]}
    orders |= {("purchase_order", o["purchase_order_id"]): o for o in DATA.tables["purchase_order"]}
    transactions = {t["transaction_id"]: t for t in DATA.tables["transaction"]}
    type_names = {p["payment_type_id"]: p["payment_type_name"] for p in DATA.tables["payment_type"]}
    paid = 0
    for p in DATA.tables["payment"]:
        t = transactions[p["transaction_id"]]
        if t["sales_order_id"]:
            o = orders[("sales_order", t["sales_order_id"])]
            assert p["payment_amount"] == Decimal(o["units_sold"]) * o["unit_price"]
            assert type_names[p["payment_type_id"]].startswith("SALES_")
        else:
            o = orders[("purchase_order", t["purchase_order_id"])]
            assert p["payment_amount"] == Decimal(o["item_quantity"]) * o["item_unit_price"]
            assert type_names[p["payment_type_id"]].startswith("PURCHASE_")
        assert p["payment_amount"] < Decimal("100000000")  # fits numeric(10, 2)
        assert p["payment_date"] == o["agreed_payment_date"]
        assert p["counterparty_id"] == o["counterparty_id"]
        if p["paid"]:
            paid += 1
            assert p["last_updated"] > p["created_at"]
        else:
            assert p["last_updated"] == p["created_at"]
    assert 0.5 < paid / len(DATA.tables["payment"]) < 1.0, "most, not all, payments are paid"


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    size=st.sampled_from([dataset.SMALL, dataset.DatasetSize(sales_orders=300, purchase_orders=5)]),
)
def test_any_seed_gives_a_dataset_that_keeps_the_schema_rules(seed, size):
    data = dataset.generate(seed, size)
    counts = data.row_counts()
    assert counts["transaction"] == counts["payment"] == size.sales_orders + size.purchase_orders
    sales = {o["sales_order_id"] for o in data.tables["sales_order"]}
    purchases = {o["purchase_order_id"] for o in data.tables["purchase_order"]}
    for t in data.tables["transaction"]:
        assert (t["sales_order_id"] in sales) != (t["purchase_order_id"] in purchases)
    for p in data.tables["payment"]:
        assert Decimal(0) < p["payment_amount"] < Decimal("100000000")
        assert p["last_updated"] >= p["created_at"]

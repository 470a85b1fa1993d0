"""contracts.limits: what each source column must meet, derived from the specs."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time

import pyarrow as pa
import pytest

from contracts.change_records import INT, NUMERIC, SOURCE_TABLES
from contracts.limits import VERSIONS, Limits, fed_by, limits_of, source_limits
from contracts.star_schema import SPECS, VERSION, Column, Derived, TableSpec, check


def _changed(table: str, column: str, **change: object) -> tuple[TableSpec, ...]:
    """SPECS with one column of one table changed."""

    def changed(spec: TableSpec) -> TableSpec:
        if spec.name != table:
            return spec
        columns = tuple(
            dataclasses.replace(c, **change) if c.name == column else c for c in spec.columns
        )
        return dataclasses.replace(spec, columns=columns)

    return tuple(changed(s) for s in SPECS)


def test_the_limits_of_each_arrow_type():
    assert limits_of(pa.int32()) == Limits(integer=(-(2**31), 2**31 - 1))
    assert limits_of(pa.int16()).integer_text == "a 16-bit integer"
    assert limits_of(pa.uint8()).integer == (0, 255)
    assert limits_of(pa.decimal128(10, 2)) == Limits(digits=(8, 2))
    assert limits_of(pa.decimal128(10, 2)).numeric_text == "numeric(10, 2)"
    assert limits_of(pa.string(), 3, "t.c") == Limits(length=3, length_of="t.c")
    for unbounded in (pa.string(), pa.bool_(), pa.date32(), pa.time32("ms"), pa.timestamp("ms")):
        assert limits_of(unbounded) == Limits()


def test_limits_meet_at_the_tightest_of_each():
    both = (
        Limits(integer=(-10, 100), digits=(8, 2), length=5, length_of="a.x")
        & Limits(integer=(0, 1000), digits=(5, 3))
        & Limits(length=3, length_of="b.y")
        & Limits(length=4, length_of="c.z")
    )
    assert both == Limits(integer=(0, 100), digits=(5, 2), length=3, length_of="b.y")
    assert both.integer_text == "0..100" and both.numeric_text == "numeric(7, 2)"


def test_every_source_column_has_its_kinds_limits_and_the_warehouse_columns_it_feeds():
    for table, kinds in SOURCE_TABLES.items():
        limits = source_limits(table)
        assert list(limits) == list(kinds)
        for column, kind in kinds.items():
            if kind == INT:
                assert limits[column].integer == (-(2**31), 2**31 - 1), (table, column)
            if kind == NUMERIC:
                assert limits[column].digits == (8, 2), (table, column)
    assert source_limits("currency")["currency_code"] == Limits(
        length=3, length_of="dim_currency.currency_code"
    )
    assert source_limits("currency")["created_at"] == Limits()


def test_what_feeds_what_keys_copies_and_joined_parents_included():
    fed = fed_by()
    assert fed["address", "address_id"] == ("dim_location.location_id",)
    assert fed["address", "city"] == (
        "dim_location.city",
        "dim_counterparty.counterparty_legal_city",
    )
    assert fed["department", "department_name"] == ("dim_staff.department_name",)
    assert fed["sales_order", "staff_id"] == ("fact_sales_order.sales_staff_id",)
    # Derived columns set no limit on their source: currency_name is not currency_code's
    assert fed["currency", "currency_code"] == ("dim_currency.currency_code",)
    assert ("sales_order", "created_at") not in fed


def test_a_narrower_warehouse_column_narrows_its_source_columns_limits():
    shorter = _changed("dim_currency", "currency_code", length=2)
    assert source_limits("currency", shorter)["currency_code"].length == 2
    # a joined dimension's column narrows the parent's column it copies
    city = _changed("dim_counterparty", "counterparty_legal_city", length=20)
    assert source_limits("address", city)["city"] == Limits(
        length=20, length_of="dim_counterparty.counterparty_legal_city"
    )
    money = _changed("fact_payment", "payment_amount", type=pa.decimal128(6, 2))
    assert source_limits("payment", money)["payment_amount"].digits == (4, 2)
    assert source_limits("sales_order", money)["unit_price"].digits == (8, 2)
    key = _changed("dim_location", "location_id", type=pa.int16())
    assert source_limits("address", key)["address_id"].integer == (-(2**15), 2**15 - 1)


def test_a_derived_column_with_a_length_is_refused_at_import():
    specs = _changed("dim_currency", "currency_name", length=40)
    with pytest.raises(ValueError, match="dim_currency.currency_name: a Derived column"):
        fed_by(specs)
    assert isinstance(
        next(c for s in SPECS for c in s.columns if c.name == "currency_name").source, Derived
    )


def test_every_date_time_and_timestamp_decode_can_make_fits_the_arrow_types():
    """date32, time32('ms') and timestamp('ms') hold every value of Python's types that decode
    makes (years 1-9999, milliseconds): no limit to derive for them."""
    assert pa.array([date.min, date.max], pa.date32()).to_pylist() == [date.min, date.max]
    moments = [datetime.min, datetime(9999, 12, 31, 23, 59, 59, 999000)]
    assert pa.array(moments, pa.timestamp("ms")).to_pylist() == moments
    times = [time.min, time(23, 59, 59, 999000)]
    assert pa.array(times, pa.time32("ms")).to_pylist() == times


def test_the_version_range_is_what_cdc_version_holds():
    assert VERSIONS == (0, 10**38 - 1)
    assert pa.array(list(VERSIONS), VERSION).to_pylist() == list(VERSIONS)
    with pytest.raises(pa.ArrowInvalid):
        pa.array([VERSIONS[1] + 1], VERSION)


def test_a_spec_column_with_a_length_must_be_text():
    bad = Column("x", pa.int32(), length=3)
    spec = dataclasses.replace(SPECS[1], columns=(*SPECS[1].columns, bad))
    assert any("a length is for text columns" in p for p in check((spec,)))

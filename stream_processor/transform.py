"""The star-schema transformation: (change, join state) → rows of the 11 tables. No I/O.

Rules (DESIGN.md §4): dimension keys are the source keys; facts get one row per captured
version; ``*_date``/``*_time`` split timestamps (milliseconds kept); text dates become dates;
every date a fact references gets a ``dim_date`` row; a delete flags a dimension row and is a
fact's final version; dim_staff and dim_counterparty are re-derived when either side changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

import pycountry

from stream_processor.decode import Change
from stream_processor.join_state import Image, JoinState
from stream_processor.output_schema import FACT_DATE_COLUMNS

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True)
class OutRow:
    table: str
    values: dict[str, Any]


Versioned = tuple[int, Image | None]
Builder = Callable[[int, Versioned, Versioned], "OutRow"]


@cache
def currency_name(code: str | None) -> str | None:
    """ISO 4217 name from pycountry: GBP → 'Pound Sterling'."""
    if not code:
        return None
    currency = pycountry.currencies.get(alpha_3=code.upper())
    return None if currency is None else currency.name


@cache
def date_row(day: date) -> OutRow:
    return OutRow(
        "dim_date",
        {
            "date_id": day,
            "year": day.year,
            "month": day.month,
            "day": day.day,
            "day_of_week": day.isoweekday(),
            "day_name": DAY_NAMES[day.weekday()],
            "month_name": MONTH_NAMES[day.month - 1],
            "quarter": (day.month - 1) // 3 + 1,
        },
    )


def _dim(change: Change, values: dict[str, Any]) -> dict[str, Any]:
    deleted = change.operation == "delete"
    return {
        **({k: None for k in values} if deleted else values),
        "cdc_version": change.version,
        "cdc_is_deleted": deleted,
        "cdc_source_updated_at": None if deleted else change.image["last_updated"],
    }


def _stamps(image: Image) -> dict[str, Any]:
    created: datetime | None = image.get("created_at")
    updated: datetime | None = image.get("last_updated")
    return {
        "created_date": created.date() if created else None,
        "created_time": created.time() if created else None,
        "last_updated_date": updated.date() if updated else None,
        "last_updated_time": updated.time() if updated else None,
    }


def _fact(change: Change, key_column: str, values: dict[str, Any]) -> list[OutRow]:
    deleted = change.operation == "delete"
    image = change.image
    row = {
        key_column: change.key,
        **_stamps(image if not deleted else {}),
        **({k: None for k in values} if deleted else values),
        "cdc_version": change.version,
        "cdc_operation": change.operation,
        "cdc_is_deleted": deleted,
        "cdc_source_updated_at": None if deleted else image["last_updated"],
    }
    table = {
        "sales_order_id": "fact_sales_order",
        "purchase_order_id": "fact_purchase_order",
        "payment_id": "fact_payment",
    }[key_column]
    dates = {row[c] for c in FACT_DATE_COLUMNS[table] if row[c] is not None}
    return [OutRow(table, row), *(date_row(d) for d in sorted(dates))]


def staff_row(
    staff_key: int, staff: tuple[int, Image | None], department: tuple[int, Image | None]
) -> OutRow:
    staff_version, image = staff
    dept_version, dept = department
    if image is None:
        return OutRow(
            "dim_staff",
            {
                "staff_id": staff_key,
                "first_name": None,
                "last_name": None,
                "department_name": None,
                "location": None,
                "email_address": None,
                "cdc_version": staff_version,
                "cdc_joined_version": dept_version,
                "cdc_is_deleted": True,
                "cdc_source_updated_at": None,
            },
        )
    return OutRow(
        "dim_staff",
        {
            "staff_id": staff_key,
            "first_name": image["first_name"],
            "last_name": image["last_name"],
            "department_name": dept["department_name"] if dept else None,
            "location": dept["location"] if dept else None,
            "email_address": image["email_address"],
            "cdc_version": staff_version,
            "cdc_joined_version": dept_version,
            "cdc_is_deleted": False,
            "cdc_source_updated_at": image["last_updated"],
        },
    )


def counterparty_row(
    cp_key: int, cp: tuple[int, Image | None], address: tuple[int, Image | None]
) -> OutRow:
    cp_version, image = cp
    address_version, addr = address
    fields = ("address_line_1", "address_line_2", "district", "city", "postal_code", "country")
    if image is None:
        values: dict[str, Any] = dict.fromkeys(
            [
                "counterparty_legal_name",
                *(f"counterparty_legal_{f}" for f in fields),
                "counterparty_legal_phone_number",
            ]
        )
        return OutRow(
            "dim_counterparty",
            {
                "counterparty_id": cp_key,
                **values,
                "cdc_version": cp_version,
                "cdc_joined_version": address_version,
                "cdc_is_deleted": True,
                "cdc_source_updated_at": None,
            },
        )
    addr = addr or {}
    return OutRow(
        "dim_counterparty",
        {
            "counterparty_id": cp_key,
            "counterparty_legal_name": image["counterparty_legal_name"],
            **{f"counterparty_legal_{f}": addr.get(f) for f in fields},
            "counterparty_legal_phone_number": addr.get("phone"),
            "cdc_version": cp_version,
            "cdc_joined_version": address_version,
            "cdc_is_deleted": False,
            "cdc_source_updated_at": image["last_updated"],
        },
    )


@dataclass(frozen=True)
class Join:
    """A joined dimension: ``child`` rows reference ``parent`` rows through ``fk``."""

    child: str
    parent: str
    fk: str
    build: Builder


STAFF_JOIN = Join("staff", "department", "department_id", staff_row)
COUNTERPARTY_JOIN = Join("counterparty", "address", "legal_address_id", counterparty_row)
JOINS = (STAFF_JOIN, COUNTERPARTY_JOIN)


def _child_changed(change: Change, state: JoinState, join: Join) -> list[OutRow]:
    """The child side of a join changed: record it, then read the parent (write before read)."""
    image = None if change.operation == "delete" else change.image
    state.put(join.child, change.key, change.version, image)
    if image is None:
        return [join.build(change.key, (change.version, None), (0, None))]
    state.add_member(join.parent, image[join.fk], change.key)
    found = state.get(join.parent, image[join.fk])
    if found is None or found[1] is None:
        return []  # emitted when the parent arrives
    return [join.build(change.key, (change.version, image), found)]


def _parent_changed(change: Change, state: JoinState, join: Join) -> list[OutRow]:
    """The parent side of a join changed: record it, then re-derive each child referencing it."""
    image = None if change.operation == "delete" else change.image
    state.put(join.parent, change.key, change.version, image)
    if image is None:
        return []
    rows = []
    for child_key in sorted(state.members(join.parent, change.key)):
        found = state.get(join.child, child_key)
        if found is not None and found[1] is not None and found[1][join.fk] == change.key:
            rows.append(join.build(child_key, found, (change.version, image)))
    return rows


def transform(change: Change, state: JoinState) -> list[OutRow]:
    """The star-schema rows one change produces (and the join state it leaves behind)."""
    t, img = change.table, change.image
    if t == "staff":
        return _child_changed(change, state, STAFF_JOIN)
    if t == "department":
        return _parent_changed(change, state, STAFF_JOIN)
    if t == "counterparty":
        return _child_changed(change, state, COUNTERPARTY_JOIN)
    if t == "address":
        location = OutRow(
            "dim_location",
            {
                "location_id": change.key,
                **_dim(
                    change,
                    {
                        k: img.get(k)
                        for k in (
                            "address_line_1",
                            "address_line_2",
                            "district",
                            "city",
                            "postal_code",
                            "country",
                            "phone",
                        )
                    },
                ),
            },
        )
        return [
            location,
            *_parent_changed(change, state, COUNTERPARTY_JOIN),
        ]
    if t == "currency":
        return [
            OutRow(
                "dim_currency",
                {
                    "currency_id": change.key,
                    **_dim(
                        change,
                        {
                            "currency_code": img.get("currency_code"),
                            "currency_name": currency_name(img.get("currency_code")),
                        },
                    ),
                },
            )
        ]
    if t == "design":
        return [
            OutRow(
                "dim_design",
                {
                    "design_id": change.key,
                    **_dim(
                        change,
                        {k: img.get(k) for k in ("design_name", "file_location", "file_name")},
                    ),
                },
            )
        ]
    if t == "payment_type":
        return [
            OutRow(
                "dim_payment_type",
                {
                    "payment_type_id": change.key,
                    **_dim(change, {"payment_type_name": img.get("payment_type_name")}),
                },
            )
        ]
    if t == "transaction":
        return [
            OutRow(
                "dim_transaction",
                {
                    "transaction_id": change.key,
                    **_dim(
                        change,
                        {
                            k: img.get(k)
                            for k in ("transaction_type", "sales_order_id", "purchase_order_id")
                        },
                    ),
                },
            )
        ]
    if t == "sales_order":
        return _fact(
            change,
            "sales_order_id",
            {
                "sales_staff_id": img.get("staff_id"),
                "counterparty_id": img.get("counterparty_id"),
                "units_sold": img.get("units_sold"),
                "unit_price": img.get("unit_price"),
                "currency_id": img.get("currency_id"),
                "design_id": img.get("design_id"),
                "agreed_payment_date": img.get("agreed_payment_date"),
                "agreed_delivery_date": img.get("agreed_delivery_date"),
                "agreed_delivery_location_id": img.get("agreed_delivery_location_id"),
            },
        )
    if t == "purchase_order":
        return _fact(
            change,
            "purchase_order_id",
            {
                k: img.get(k)
                for k in (
                    "staff_id",
                    "counterparty_id",
                    "item_code",
                    "item_quantity",
                    "item_unit_price",
                    "currency_id",
                    "agreed_delivery_date",
                    "agreed_payment_date",
                    "agreed_delivery_location_id",
                )
            },
        )
    if t == "payment":
        return _fact(
            change,
            "payment_id",
            {
                k: img.get(k)
                for k in (
                    "transaction_id",
                    "counterparty_id",
                    "payment_amount",
                    "currency_id",
                    "payment_type_id",
                    "paid",
                    "payment_date",
                )
            },
        )
    raise ValueError(f"no transformation for table {t}")

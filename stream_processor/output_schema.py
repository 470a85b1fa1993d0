"""The processor's published output: one explicit Arrow schema per star-schema table.

Never inferred from data. Columns are the warehouse's (warehouse_loader/migrations), in the
same order, minus the surrogate ``*_record_id`` of facts and ``cdc_loaded_at``, which the
warehouse assigns. The loader reads files against these schemas.
"""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = 1
VERSION = pa.decimal128(38, 0)
MONEY = pa.decimal128(10, 2)

_DIM_BOOKKEEPING = [
    ("cdc_version", VERSION, False),
    ("cdc_is_deleted", pa.bool_(), False),
    ("cdc_source_updated_at", pa.timestamp("ms"), True),
]
_JOINED_BOOKKEEPING = [
    ("cdc_version", VERSION, False),
    ("cdc_joined_version", VERSION, True),
    ("cdc_is_deleted", pa.bool_(), False),
    ("cdc_source_updated_at", pa.timestamp("ms"), True),
]
_FACT_BOOKKEEPING = [
    ("cdc_version", VERSION, False),
    ("cdc_operation", pa.string(), False),
    ("cdc_is_deleted", pa.bool_(), False),
    ("cdc_source_updated_at", pa.timestamp("ms"), True),
]
_FACT_STAMPS = [
    ("created_date", pa.date32(), True),
    ("created_time", pa.time32("ms"), True),
    ("last_updated_date", pa.date32(), True),
    ("last_updated_time", pa.time32("ms"), True),
]


def _schema(columns: list[tuple[str, pa.DataType, bool]]) -> pa.Schema:
    return pa.schema([pa.field(name, kind, nullable=nullable) for name, kind, nullable in columns])


def _text(*names: str) -> list[tuple[str, pa.DataType, bool]]:
    return [(n, pa.string(), True) for n in names]


SCHEMAS: dict[str, pa.Schema] = {
    "dim_date": _schema(
        [
            ("date_id", pa.date32(), False),
            ("year", pa.int32(), False),
            ("month", pa.int32(), False),
            ("day", pa.int32(), False),
            ("day_of_week", pa.int32(), False),
            ("day_name", pa.string(), False),
            ("month_name", pa.string(), False),
            ("quarter", pa.int32(), False),
        ]
    ),
    "dim_staff": _schema(
        [
            ("staff_id", pa.int32(), False),
            *_text("first_name", "last_name", "department_name", "location", "email_address"),
            *_JOINED_BOOKKEEPING,
        ]
    ),
    "dim_location": _schema(
        [
            ("location_id", pa.int32(), False),
            *_text(
                "address_line_1",
                "address_line_2",
                "district",
                "city",
                "postal_code",
                "country",
                "phone",
            ),
            *_DIM_BOOKKEEPING,
        ]
    ),
    "dim_currency": _schema(
        [
            ("currency_id", pa.int32(), False),
            *_text("currency_code", "currency_name"),
            *_DIM_BOOKKEEPING,
        ]
    ),
    "dim_design": _schema(
        [
            ("design_id", pa.int32(), False),
            *_text("design_name", "file_location", "file_name"),
            *_DIM_BOOKKEEPING,
        ]
    ),
    "dim_counterparty": _schema(
        [
            ("counterparty_id", pa.int32(), False),
            *_text(
                "counterparty_legal_name",
                "counterparty_legal_address_line_1",
                "counterparty_legal_address_line_2",
                "counterparty_legal_district",
                "counterparty_legal_city",
                "counterparty_legal_postal_code",
                "counterparty_legal_country",
                "counterparty_legal_phone_number",
            ),
            *_JOINED_BOOKKEEPING,
        ]
    ),
    "dim_payment_type": _schema(
        [("payment_type_id", pa.int32(), False), *_text("payment_type_name"), *_DIM_BOOKKEEPING]
    ),
    "dim_transaction": _schema(
        [
            ("transaction_id", pa.int32(), False),
            *_text("transaction_type"),
            ("sales_order_id", pa.int32(), True),
            ("purchase_order_id", pa.int32(), True),
            *_DIM_BOOKKEEPING,
        ]
    ),
    "fact_sales_order": _schema(
        [
            ("sales_order_id", pa.int32(), False),
            *_FACT_STAMPS,
            ("sales_staff_id", pa.int32(), True),
            ("counterparty_id", pa.int32(), True),
            ("units_sold", pa.int32(), True),
            ("unit_price", MONEY, True),
            ("currency_id", pa.int32(), True),
            ("design_id", pa.int32(), True),
            ("agreed_payment_date", pa.date32(), True),
            ("agreed_delivery_date", pa.date32(), True),
            ("agreed_delivery_location_id", pa.int32(), True),
            *_FACT_BOOKKEEPING,
        ]
    ),
    "fact_purchase_order": _schema(
        [
            ("purchase_order_id", pa.int32(), False),
            *_FACT_STAMPS,
            ("staff_id", pa.int32(), True),
            ("counterparty_id", pa.int32(), True),
            ("item_code", pa.string(), True),
            ("item_quantity", pa.int32(), True),
            ("item_unit_price", MONEY, True),
            ("currency_id", pa.int32(), True),
            ("agreed_delivery_date", pa.date32(), True),
            ("agreed_payment_date", pa.date32(), True),
            ("agreed_delivery_location_id", pa.int32(), True),
            *_FACT_BOOKKEEPING,
        ]
    ),
    "fact_payment": _schema(
        [
            ("payment_id", pa.int32(), False),
            *_FACT_STAMPS,
            ("transaction_id", pa.int32(), True),
            ("counterparty_id", pa.int32(), True),
            ("payment_amount", MONEY, True),
            ("currency_id", pa.int32(), True),
            ("payment_type_id", pa.int32(), True),
            ("paid", pa.bool_(), True),
            ("payment_date", pa.date32(), True),
            *_FACT_BOOKKEEPING,
        ]
    ),
}

TABLES = tuple(SCHEMAS)

# The date columns of each fact: every one must have its dim_date row.
FACT_DATE_COLUMNS = {
    "fact_sales_order": (
        "created_date",
        "last_updated_date",
        "agreed_payment_date",
        "agreed_delivery_date",
    ),
    "fact_purchase_order": (
        "created_date",
        "last_updated_date",
        "agreed_payment_date",
        "agreed_delivery_date",
    ),
    "fact_payment": ("created_date", "last_updated_date", "payment_date"),
}

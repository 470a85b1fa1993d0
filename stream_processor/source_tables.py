"""The ToteSys tables as the processor reads them from Contract A: each column's kind.

Kinds: ``int``, ``text``, ``numeric`` (exact, Decimal), ``bool``, ``timestamp`` (UTC,
millisecond precision), ``date_text`` (business dates kept as 'YYYY-MM-DD' text in ToteSys).
Columns a record carries beyond these (an ``ALTER TABLE ... ADD COLUMN``) are ignored.
"""

from __future__ import annotations

from datetime import datetime

from cdc.capture.records import ColumnDef, TableDef

INT, TEXT, NUMERIC, BOOL, TIMESTAMP, DATE_TEXT = (
    "int",
    "text",
    "numeric",
    "bool",
    "timestamp",
    "date_text",
)

_STAMPS = {"created_at": TIMESTAMP, "last_updated": TIMESTAMP}

SOURCE_TABLES: dict[str, dict[str, str]] = {
    "address": {
        "address_id": INT,
        "address_line_1": TEXT,
        "address_line_2": TEXT,
        "district": TEXT,
        "city": TEXT,
        "postal_code": TEXT,
        "country": TEXT,
        "phone": TEXT,
        **_STAMPS,
    },
    "counterparty": {
        "counterparty_id": INT,
        "counterparty_legal_name": TEXT,
        "legal_address_id": INT,
        "commercial_contact": TEXT,
        "delivery_contact": TEXT,
        **_STAMPS,
    },
    "currency": {"currency_id": INT, "currency_code": TEXT, **_STAMPS},
    "department": {
        "department_id": INT,
        "department_name": TEXT,
        "location": TEXT,
        "manager": TEXT,
        **_STAMPS,
    },
    "design": {
        "design_id": INT,
        "design_name": TEXT,
        "file_location": TEXT,
        "file_name": TEXT,
        **_STAMPS,
    },
    "staff": {
        "staff_id": INT,
        "first_name": TEXT,
        "last_name": TEXT,
        "department_id": INT,
        "email_address": TEXT,
        **_STAMPS,
    },
    "payment_type": {"payment_type_id": INT, "payment_type_name": TEXT, **_STAMPS},
    "sales_order": {
        "sales_order_id": INT,
        "design_id": INT,
        "staff_id": INT,
        "counterparty_id": INT,
        "units_sold": INT,
        "unit_price": NUMERIC,
        "currency_id": INT,
        "agreed_delivery_date": DATE_TEXT,
        "agreed_payment_date": DATE_TEXT,
        "agreed_delivery_location_id": INT,
        **_STAMPS,
    },
    "purchase_order": {
        "purchase_order_id": INT,
        "staff_id": INT,
        "counterparty_id": INT,
        "item_code": TEXT,
        "item_quantity": INT,
        "item_unit_price": NUMERIC,
        "currency_id": INT,
        "agreed_delivery_date": DATE_TEXT,
        "agreed_payment_date": DATE_TEXT,
        "agreed_delivery_location_id": INT,
        **_STAMPS,
    },
    "transaction": {
        "transaction_id": INT,
        "transaction_type": TEXT,
        "sales_order_id": INT,
        "purchase_order_id": INT,
        **_STAMPS,
    },
    "payment": {
        "payment_id": INT,
        "transaction_id": INT,
        "counterparty_id": INT,
        "payment_amount": NUMERIC,
        "currency_id": INT,
        "payment_type_id": INT,
        "paid": BOOL,
        "payment_date": DATE_TEXT,
        "company_ac_number": INT,
        "counterparty_ac_number": INT,
        **_STAMPS,
    },
}

# Columns that may be NULL in ToteSys; every other column of a non-delete record must be present.
NULLABLE = {
    "address": {"address_line_2", "district"},
    "counterparty": {"commercial_contact", "delivery_contact"},
    "department": {"location", "manager"},
    "transaction": {"sales_order_id", "purchase_order_id"},
}


def primary_key(table: str) -> str:
    return f"{table}_id"


# The PostgreSQL type each kind is in ToteSys (pg_type OIDs), for building Contract A records
# from plain rows with the capture engine's encoder (tests, benchmarks).
KIND_OIDS = {INT: 23, TEXT: 25, NUMERIC: 1700, BOOL: 16, TIMESTAMP: 1114, DATE_TEXT: 25}


def table_def(table: str) -> TableDef:
    kinds = SOURCE_TABLES[table]
    columns = tuple(
        ColumnDef(c, KIND_OIDS[k], c in NULLABLE.get(table, ())) for c, k in kinds.items()
    )
    return TableDef("public", table, columns, (primary_key(table),))


def pg_text(value: object) -> str | None:
    """A Python value as PostgreSQL prints it (what logical decoding hands the engine)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)

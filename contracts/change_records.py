"""Contract A: the change records AWS DMS writes to Kinesis for the ToteSys source.

One JSON object per record (``MessageFormat=json-unformatted``)::

    {"data": {...every column...},
     "metadata": {"timestamp", "record-type": "data", "operation": "load|insert|update|delete",
                  "partition-key-type": "primary-key", "partition-key-value": "public.payment.17",
                  "schema-name", "table-name",
                  # CDC records only (IncludeTransactionDetails):
                  "transaction-id", "transaction-record-id", "prev-transaction-id",
                  "prev-transaction-record-id", "commit-timestamp", "stream-position"}}

The Kinesis partition key of a data record is its ``partition-key-value``
(``public.<table>.<key>``), so a row's changes stay on one shard in order, and the stream's
shards share the load. That is ``primary-key`` partitioning: the DMS task's table mappings ask
for it with an object-mapping rule per table (``cdc.dms_task``), and the local capture engine
writes it by default. Without those rules DMS partitions CDC records by ``schema-table``
(``partition-key-type: schema-table``, no ``partition-key-value``, the table's changes all on
the shard ``<schema>.<table>`` hashes to), and only ``load`` records by primary key; the capture
engine emulates that with ``TOTESYS_CDC_CAPTURE_PARTITIONING=schema-table``. Consumers never read
either field: versions order a row's changes wherever they arrive (docs/contracts.md).

``update`` carries the row after the change; ``delete`` the key and NULL elsewhere (PostgreSQL's
default replica identity). Control records (``record-type: control``) carry
``control.table-def``. How each PostgreSQL type is written is documented where records are
made (``cdc.capture.records``); how they are read, in ``stream_processor.decode``.

This module holds what both sides rely on: each source table's columns with their kind and
nullability, its primary key, and the version that orders one row's changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

# Column kinds: ``int`` (PostgreSQL integer: 32 bits), ``text``, ``numeric`` (exact, Decimal;
# every ToteSys numeric is numeric(10, 2)), ``bool``, ``timestamp`` (UTC, millisecond
# precision), ``date_text`` (business dates kept as 'YYYY-MM-DD' text in ToteSys). The values
# each kind holds, and what the warehouse columns a source column feeds ask more:
# ``contracts.limits``.
INT: Final = "int"
TEXT: Final = "text"
NUMERIC: Final = "numeric"
BOOL: Final = "bool"
TIMESTAMP: Final = "timestamp"
DATE_TEXT: Final = "date_text"

DATA_OPERATIONS = ("load", "insert", "update", "delete")
# The attribute of an update record that holds the row's primary key before the change (the DMS
# task's BeforeImageSettings.FieldName, ColumnFilter pk-only).
BEFORE_IMAGE_FIELD = "before-image"

_STAMPS = {"created_at": TIMESTAMP, "last_updated": TIMESTAMP}

# Each ToteSys table's columns (in the source's order) and their kinds; cdc/sql/totesys_source.sql
# is the source of truth and tests/contracts checks this against it. Columns a record carries
# beyond these (an ``ALTER TABLE ... ADD COLUMN``) are ignored downstream.
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
        "created_at": TIMESTAMP,
        "design_name": TEXT,
        "file_location": TEXT,
        "file_name": TEXT,
        "last_updated": TIMESTAMP,
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
        **_STAMPS,
        "design_id": INT,
        "staff_id": INT,
        "counterparty_id": INT,
        "units_sold": INT,
        "unit_price": NUMERIC,
        "currency_id": INT,
        "agreed_delivery_date": DATE_TEXT,
        "agreed_payment_date": DATE_TEXT,
        "agreed_delivery_location_id": INT,
    },
    "purchase_order": {
        "purchase_order_id": INT,
        **_STAMPS,
        "staff_id": INT,
        "counterparty_id": INT,
        "item_code": TEXT,
        "item_quantity": INT,
        "item_unit_price": NUMERIC,
        "currency_id": INT,
        "agreed_delivery_date": DATE_TEXT,
        "agreed_payment_date": DATE_TEXT,
        "agreed_delivery_location_id": INT,
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
        **_STAMPS,
        "transaction_id": INT,
        "counterparty_id": INT,
        "payment_amount": NUMERIC,
        "currency_id": INT,
        "payment_type_id": INT,
        "paid": BOOL,
        "payment_date": DATE_TEXT,
        "company_ac_number": INT,
        "counterparty_ac_number": INT,
    },
}

# Columns that may be NULL in ToteSys; every other column of a non-delete record must be present.
NULLABLE: dict[str, frozenset[str]] = {
    "address": frozenset({"address_line_2", "district"}),
    "counterparty": frozenset({"commercial_contact", "delivery_contact"}),
    "department": frozenset({"location", "manager"}),
    "transaction": frozenset({"sales_order_id", "purchase_order_id"}),
}


def primary_key(table: str) -> str:
    """Every ToteSys table's primary key is one integer column, ``<table>_id``."""
    return f"{table}_id"


_HALF_END = 2**32


def format_lsn(lsn: int) -> str:
    """An LSN the way DMS writes it in ``stream-position``: ``00000002/7C007178``."""
    return f"{lsn >> 32:08X}/{lsn & 0xFFFFFFFF:08X}"


def parse_lsn(text: str) -> int:
    """``'0/16B3748'`` (PostgreSQL) or ``'00000002/7C007178'`` (DMS) → integer. ValueError for
    anything else, a half that is negative or beyond 32 bits included (an LSN is two unsigned
    32-bit halves)."""
    high, _, low = text.partition("/")
    high_half, low_half = int(high, 16), int(low, 16)
    if not (0 <= high_half < _HALF_END and 0 <= low_half < _HALF_END):
        raise ValueError(f"{text!r} is no LSN: its halves are unsigned 32-bit numbers")
    return (high_half << 32) | low_half


def version_of(metadata: Mapping[str, Any]) -> int:
    """The version that orders the changes of one source row: ``commit LSN << 32 |
    transaction-record-id`` from a CDC record, 0 for a ``load`` record.

    ``stream-position`` is ``<commit LSN>.<transaction-record-id>.<change LSN>``. ``load``
    records carry no position (as in DMS) and rank below every CDC change: each change
    committed after the full load's snapshot is also delivered as a CDC record, so the newest
    version is always right."""
    if metadata.get("operation") == "load":
        return 0
    position = metadata.get("stream-position")
    if not isinstance(position, str) or "." not in position:
        raise ValueError(
            f"a {metadata.get('operation')} record without transaction details (no "
            "metadata.stream-position): turn on IncludeTransactionDetails in the DMS task's "
            "Kinesis endpoint settings"
        )
    commit_lsn = parse_lsn(position.split(".", 1)[0])
    record_id = int(metadata.get("transaction-record-id", 0))
    # Each part in its own bits, or versions would misorder: the LSN is 64 bits (parse_lsn), a
    # record's place in its transaction below 2**32. So no version is negative or reaches
    # 2**96 (cdc_version, numeric(38, 0), holds it).
    if not 0 <= record_id < _HALF_END:
        raise ValueError(f"transaction-record-id {record_id} is not an unsigned 32-bit number")
    return (commit_lsn << 32) | record_id

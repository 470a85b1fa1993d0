"""Factories: Contract A records built with the capture engine's own encoder, and the ToteSys
rows (a department, its staff, an address, a counterparty, a sales order) they carry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from cdc.capture.records import TransactionPosition, data_record, pg_text, table_def

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 3, 2, 9, 30, 15, 123000)  # a Monday
DEPT = {
    "department_id": 1,
    "department_name": "Sales",
    "location": "Manchester",
    "manager": "A",
    "created_at": T0,
    "last_updated": T0,
}
STAFF = {
    "staff_id": 10,
    "first_name": "Ana",
    "last_name": "Ryan",
    "department_id": 1,
    "email_address": "ana@t.com",
    "created_at": T0,
    "last_updated": T0,
}
ADDRESS = {
    "address_id": 5,
    "address_line_1": "1 Kub Harbor",
    "address_line_2": None,
    "district": None,
    "city": "Leeds",
    "postal_code": "LS1",
    "country": "United Kingdom",
    "phone": "0113",
    "created_at": T0,
    "last_updated": T0,
}
COUNTERPARTY = {
    "counterparty_id": 3,
    "counterparty_legal_name": "Fahey Inc",
    "legal_address_id": 5,
    "commercial_contact": None,
    "delivery_contact": None,
    "created_at": T0,
    "last_updated": T0,
}
SALE = {
    "sales_order_id": 7,
    "design_id": 2,
    "staff_id": 10,
    "counterparty_id": 3,
    "units_sold": 100,
    "unit_price": Decimal("3.80"),
    "currency_id": 1,
    "agreed_delivery_date": "2026-03-05",
    "agreed_payment_date": "2026-03-04",
    "agreed_delivery_location_id": 5,
    "created_at": T0,
    "last_updated": T0 + timedelta(days=1),
}


def record(
    table: str,
    row: dict[str, Any],
    operation: str = "insert",
    commit: int = 0x1000,
    record_id: int = 1,
) -> bytes:
    """The bytes DMS (and cdc capture) write for ``row``; ``commit`` sets the version."""
    tdef = table_def(table)
    if operation == "delete":
        row = {c.name: (row[c.name] if c.name == f"{table}_id" else None) for c in tdef.columns}
    values = [pg_text(row.get(c.name)) for c in tdef.columns]
    position = (
        None
        if operation == "load"
        else TransactionPosition(
            xid=7,
            record_id=record_id,
            commit_lsn=commit,
            change_lsn=commit - 8,
            commit_time=NOW,
            previous=None,
        )
    )
    return data_record(tdef, operation, values, now=NOW, position=position).data

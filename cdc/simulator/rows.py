"""Building ToteSys order rows, shared by the initial dataset and live traffic.

A new order always comes with its transaction and its (unpaid) payment; these functions
make the three rows as the application would, without primary keys (the caller assigns them
or lets the database's serial do it).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from cdc.simulator import vocabulary as vocab

Row = dict[str, object]
PAYMENT_TYPES = ("SALES_RECEIPT", "SALES_REFUND", "PURCHASE_PAYMENT", "PURCHASE_REFUND")
ORDER_TABLES = {"sales": "sales_order", "purchase": "purchase_order"}


class OrderKeys(Protocol):
    """The existing rows a new order may reference."""

    addresses: Sequence[int]
    staff: Sequence[int]
    counterparties: Sequence[int]
    currencies: Sequence[int]
    designs: Sequence[int]


def money(rng: random.Random, low: str, high: str) -> Decimal:
    cents = rng.randint(int(Decimal(low) * 100), int(Decimal(high) * 100))
    return Decimal(cents) / 100


def agreed_dates(rng: random.Random, created: datetime) -> tuple[str, str]:
    """(agreed_delivery_date, agreed_payment_date): TEXT 'YYYY-MM-DD', a few days after creation."""
    day = created.date()
    delivery = day + timedelta(days=rng.randint(2, 7))
    payment = day + timedelta(days=rng.randint(1, 7))
    return delivery.isoformat(), payment.isoformat()


def order_row(rng: random.Random, kind: str, created: datetime, keys: OrderKeys) -> Row:
    """A new sales or purchase order (``kind`` is 'sales' or 'purchase')."""
    delivery, payment = agreed_dates(rng, created)
    row: Row = {
        "created_at": created,
        "last_updated": created,
        "staff_id": rng.choice(keys.staff),
        "counterparty_id": rng.choice(keys.counterparties),
        "currency_id": rng.choice(keys.currencies),
        "agreed_delivery_date": delivery,
        "agreed_payment_date": payment,
        "agreed_delivery_location_id": rng.choice(keys.addresses),
    }
    if kind == "sales":
        row |= {
            "design_id": rng.choice(keys.designs),
            "units_sold": rng.randint(1000, 100_000),
            "unit_price": money(rng, "2.00", "4.00"),
        }
    else:
        row |= {
            "item_code": vocab.item_code(rng),
            "item_quantity": rng.randint(1, 1000),
            "item_unit_price": money(rng, "1.00", "1000.00"),
        }
    return row


def transaction_row(kind: str, order_id: int, created: datetime) -> Row:
    """The transaction of a new order: exactly one of sales/purchase_order_id, matching its type."""
    return {
        "transaction_type": "SALE" if kind == "sales" else "PURCHASE",
        "sales_order_id": order_id if kind == "sales" else None,
        "purchase_order_id": order_id if kind == "purchase" else None,
        "created_at": created,
        "last_updated": created,
    }


def payment_row(
    rng: random.Random,
    kind: str,
    order: Row,
    transaction_id: int,
    payment_type_ids: Mapping[str, int],
) -> Row:
    """The unpaid payment of a new order: amount = quantity x unit price, due on the agreed date."""
    if kind == "sales":
        amount = Decimal(order["units_sold"]) * order["unit_price"]  # type: ignore[arg-type, operator]
        type_name = "SALES_RECEIPT" if rng.random() < 0.9 else "SALES_REFUND"
    else:
        amount = Decimal(order["item_quantity"]) * order["item_unit_price"]  # type: ignore[arg-type, operator]
        type_name = "PURCHASE_PAYMENT" if rng.random() < 0.9 else "PURCHASE_REFUND"
    return {
        "created_at": order["created_at"],
        "last_updated": order["created_at"],
        "transaction_id": transaction_id,
        "counterparty_id": order["counterparty_id"],
        "payment_amount": amount.quantize(Decimal("0.01")),
        "currency_id": order["currency_id"],
        "payment_type_id": payment_type_ids[type_name],
        "paid": False,
        "payment_date": order["agreed_payment_date"],
        "company_ac_number": rng.randint(10_000_000, 99_999_999),
        "counterparty_ac_number": rng.randint(10_000_000, 99_999_999),
    }

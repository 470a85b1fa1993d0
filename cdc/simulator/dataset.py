"""A deterministic, seeded ToteSys initial dataset shaped like production.

Pure: ``generate(seed, size)`` returns plain rows (dicts keyed by column name, explicit
primary keys) and touches no database. The same seed and size always give the same rows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from cdc.simulator import vocabulary as vocab
from cdc.source_schema import TABLES

Row = dict[str, object]

# The dataset covers the 180 days before this instant. It is fixed (not "now") so that a seed
# always gives the same rows; live traffic then continues from the wall clock.
DEFAULT_END = datetime(2026, 11, 1, 0, 0, 0)
PAYMENT_TYPES = ("SALES_RECEIPT", "SALES_REFUND", "PURCHASE_PAYMENT", "PURCHASE_REFUND")
CURRENCIES = ("GBP", "USD", "EUR")


@dataclass(frozen=True)
class DatasetSize:
    """How many rows of each kind; the defaults are the production shape."""

    addresses: int = 30
    counterparties: int = 20
    departments: int = 8
    staff: int = 20
    designs: int = 300
    sales_orders: int = 2000
    purchase_orders: int = 1500
    days: int = 180


SMALL = DatasetSize(designs=40, sales_orders=120, purchase_orders=80, days=60)


@dataclass
class Dataset:
    """Rows per ToteSys table, in ``cdc.source_schema.TABLES`` order."""

    tables: dict[str, list[Row]] = field(default_factory=lambda: {t: [] for t in TABLES})

    def row_counts(self) -> dict[str, int]:
        return {table: len(rows) for table, rows in self.tables.items()}


def ms_timestamp(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A random instant in [start, end) at millisecond precision, like timestamp(3).
    About one in six has no fractional seconds at all, as in production."""
    span_ms = int((end - start).total_seconds() * 1000)
    moment = start + timedelta(milliseconds=rng.randrange(span_ms))
    if rng.random() < 1 / 6:
        return moment.replace(microsecond=0)
    return moment


def now_ms() -> datetime:
    """The current UTC time as ToteSys stores it: naive, millisecond precision."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def text_date(day: date) -> str:
    """Business dates are TEXT 'YYYY-MM-DD' in ToteSys."""
    return day.isoformat()


def money(rng: random.Random, low: str, high: str) -> Decimal:
    cents = rng.randint(int(Decimal(low) * 100), int(Decimal(high) * 100))
    return Decimal(cents) / 100


def generate(
    seed: int = 42, size: DatasetSize = DatasetSize(), end: datetime = DEFAULT_END
) -> Dataset:
    """The initial dataset for ``seed``: reference data first, then orders spread over
    ``size.days`` days, each order with its transaction and payment."""
    rng = random.Random(seed)
    start = end - timedelta(days=size.days)
    # Reference data existed before the first order.
    setup_start, setup_end = start - timedelta(days=60), start
    data = Dataset()
    t = data.tables

    def stamps() -> tuple[datetime, datetime]:
        created = ms_timestamp(rng, setup_start, setup_end)
        # A third of reference rows were edited since creation.
        updated = ms_timestamp(rng, created, end) if rng.random() < 1 / 3 else created
        return created, updated

    for i in range(1, size.addresses + 1):
        created, updated = stamps()
        t["address"].append(
            {
                "address_id": i,
                "address_line_1": f"{rng.randint(1, 250)} {rng.choice(vocab.STREETS)}",
                "address_line_2": rng.choice(vocab.ADDRESS_LINE_2) if rng.random() < 0.4 else None,
                "district": rng.choice(vocab.DISTRICTS) if rng.random() < 0.5 else None,
                "city": rng.choice(vocab.CITIES),
                "postal_code": f"{rng.randint(10000, 99999)}-{rng.randint(1000, 9999)}",
                "country": rng.choice(vocab.countries()),
                "phone": vocab.phone(rng),
                "created_at": created,
                "last_updated": updated,
            }
        )

    for i, (name, location) in enumerate(vocab.DEPARTMENTS[: size.departments], start=1):
        created, updated = stamps()
        t["department"].append(
            {
                "department_id": i,
                "department_name": name,
                "location": location,
                "manager": vocab.person(rng),
                "created_at": created,
                "last_updated": updated,
            }
        )

    for i, code in enumerate(CURRENCIES, start=1):
        created, _ = stamps()
        t["currency"].append(
            {
                "currency_id": i,
                "currency_code": code,
                "created_at": created,
                "last_updated": created,
            }
        )

    for i in range(1, size.designs + 1):
        created, updated = stamps()
        name = rng.choice(vocab.DESIGN_NAMES)
        t["design"].append(
            {
                "design_id": i,
                "created_at": created,
                "design_name": name,
                "file_location": rng.choice(vocab.FILE_LOCATIONS),
                "file_name": vocab.design_file_name(rng, name, created),
                "last_updated": updated,
            }
        )

    for i, name in enumerate(PAYMENT_TYPES, start=1):
        created, _ = stamps()
        t["payment_type"].append(
            {
                "payment_type_id": i,
                "payment_type_name": name,
                "created_at": created,
                "last_updated": created,
            }
        )

    for i in range(1, size.staff + 1):
        created, updated = stamps()
        first, last = rng.choice(vocab.FIRST_NAMES), rng.choice(vocab.LAST_NAMES)
        t["staff"].append(
            {
                "staff_id": i,
                "first_name": first,
                "last_name": last,
                "department_id": rng.randint(1, size.departments),
                "email_address": f"{first}.{last}@terrifictotes.com".lower(),
                "created_at": created,
                "last_updated": updated,
            }
        )

    for i in range(1, size.counterparties + 1):
        created, updated = stamps()
        t["counterparty"].append(
            {
                "counterparty_id": i,
                "counterparty_legal_name": vocab.company(rng),
                "legal_address_id": rng.randint(1, size.addresses),
                "commercial_contact": vocab.person(rng) if rng.random() < 0.9 else None,
                "delivery_contact": vocab.person(rng) if rng.random() < 0.9 else None,
                "created_at": created,
                "last_updated": updated,
            }
        )

    # Orders: serial ids grow with creation time, as in the real system; sales and purchase
    # orders interleave in the transaction and payment tables.
    kinds = ["sales"] * size.sales_orders + ["purchase"] * size.purchase_orders
    created_times = sorted(ms_timestamp(rng, start, end) for _ in kinds)
    rng.shuffle(kinds)
    for n, (kind, created) in enumerate(zip(kinds, created_times, strict=True), start=1):
        order = (_sales_order if kind == "sales" else _purchase_order)(rng, data, size, created)
        _add_transaction_and_payment(rng, data, kind, order, n, end)
    return data


def agreed_dates(rng: random.Random, created: datetime) -> tuple[str, str]:
    """(agreed_delivery_date, agreed_payment_date): a few days after creation."""
    day = created.date()
    return (
        text_date(day + timedelta(days=rng.randint(2, 7))),
        text_date(day + timedelta(days=rng.randint(1, 7))),
    )


def _sales_order(rng: random.Random, data: Dataset, size: DatasetSize, created: datetime) -> Row:
    delivery, payment = agreed_dates(rng, created)
    row: Row = {
        "sales_order_id": len(data.tables["sales_order"]) + 1,
        "created_at": created,
        "last_updated": created,
        "design_id": rng.randint(1, size.designs),
        "staff_id": rng.randint(1, size.staff),
        "counterparty_id": rng.randint(1, size.counterparties),
        "units_sold": rng.randint(1000, 100_000),
        "unit_price": money(rng, "2.00", "4.00"),
        "currency_id": rng.randint(1, len(CURRENCIES)),
        "agreed_delivery_date": delivery,
        "agreed_payment_date": payment,
        "agreed_delivery_location_id": rng.randint(1, size.addresses),
    }
    data.tables["sales_order"].append(row)
    return row


def _purchase_order(rng: random.Random, data: Dataset, size: DatasetSize, created: datetime) -> Row:
    delivery, payment = agreed_dates(rng, created)
    row: Row = {
        "purchase_order_id": len(data.tables["purchase_order"]) + 1,
        "created_at": created,
        "last_updated": created,
        "staff_id": rng.randint(1, size.staff),
        "counterparty_id": rng.randint(1, size.counterparties),
        "item_code": vocab.item_code(rng),
        "item_quantity": rng.randint(1, 1000),
        "item_unit_price": money(rng, "1.00", "1000.00"),
        "currency_id": rng.randint(1, len(CURRENCIES)),
        "agreed_delivery_date": delivery,
        "agreed_payment_date": payment,
        "agreed_delivery_location_id": rng.randint(1, size.addresses),
    }
    data.tables["purchase_order"].append(row)
    return row


def payment_for(rng: random.Random, kind: str, order: Row) -> tuple[Decimal, int]:
    """(payment_amount, payment_type_id) for a new order's payment."""
    if kind == "sales":
        amount = Decimal(order["units_sold"]) * order["unit_price"]  # type: ignore[operator]
        type_name = "SALES_RECEIPT" if rng.random() < 0.9 else "SALES_REFUND"
    else:
        amount = Decimal(order["item_quantity"]) * order["item_unit_price"]  # type: ignore[operator]
        type_name = "PURCHASE_PAYMENT" if rng.random() < 0.9 else "PURCHASE_REFUND"
    return amount.quantize(Decimal("0.01")), PAYMENT_TYPES.index(type_name) + 1


def _add_transaction_and_payment(
    rng: random.Random, data: Dataset, kind: str, order: Row, transaction_id: int, end: datetime
) -> None:
    created = order["created_at"]
    assert isinstance(created, datetime)
    data.tables["transaction"].append(
        {
            "transaction_id": transaction_id,
            "transaction_type": "SALE" if kind == "sales" else "PURCHASE",
            "sales_order_id": order["sales_order_id"] if kind == "sales" else None,
            "purchase_order_id": order["purchase_order_id"] if kind == "purchase" else None,
            "created_at": created,
            "last_updated": created,
        }
    )
    amount, type_id = payment_for(rng, kind, order)
    # Payments start unpaid; once their agreed date has passed most have been paid, and
    # paying bumps last_updated.
    due = datetime.fromisoformat(str(order["agreed_payment_date"]))
    paid = due < end - timedelta(days=1) and rng.random() < 0.95
    last_updated = created
    if paid:
        last_updated = ms_timestamp(
            rng, max(created, due - timedelta(days=1)), min(end, due + timedelta(days=3))
        )
    data.tables["payment"].append(
        {
            "payment_id": transaction_id,
            "created_at": created,
            "last_updated": last_updated,
            "transaction_id": transaction_id,
            "counterparty_id": order["counterparty_id"],
            "payment_amount": amount,
            "currency_id": order["currency_id"],
            "payment_type_id": type_id,
            "paid": paid,
            "payment_date": order["agreed_payment_date"],
            "company_ac_number": rng.randint(10_000_000, 99_999_999),
            "counterparty_ac_number": rng.randint(10_000_000, 99_999_999),
        }
    )

"""A deterministic, seeded ToteSys initial dataset shaped like production.

Pure: ``generate(seed, size)`` returns plain rows (dicts keyed by column name, explicit
primary keys) and touches no database. The same seed and size always give the same rows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cdc.simulator import rows
from cdc.simulator import vocabulary as vocab
from cdc.source_schema import TABLES

# The dataset covers the 180 days before this instant. It is fixed (not "now") so that a seed
# always gives the same rows; live traffic then continues from the wall clock.
DEFAULT_END = datetime(2026, 11, 1, 0, 0, 0)
PAYMENT_TYPE_IDS = {name: i for i, name in enumerate(rows.PAYMENT_TYPES, start=1)}
CURRENCIES = ("GBP", "USD", "EUR")
# The tables that grow with the orders (``DatasetSize.scaled``); the rest is reference data.
ORDER_ROW_TABLES = ("sales_order", "purchase_order", "transaction", "payment")


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

    @classmethod
    def scaled(cls, scale: int) -> DatasetSize:
        """The production shape with ``scale`` times the orders (and so the transactions and
        payments) over the same days and the same reference data: scale 100 is ~1,050,000
        rows. Scale 1 is the default size."""
        if scale < 1:
            raise ValueError(f"scale must be 1 or more, not {scale}")
        base = cls()
        return cls(
            sales_orders=base.sales_orders * scale, purchase_orders=base.purchase_orders * scale
        )


SMALL = DatasetSize(designs=40, sales_orders=120, purchase_orders=80, days=60)


@dataclass
class Dataset:
    """Rows per ToteSys table, in ``cdc.source_schema.TABLES`` order."""

    tables: dict[str, list[rows.Row]] = field(default_factory=lambda: {t: [] for t in TABLES})

    def row_counts(self) -> dict[str, int]:
        return {table: len(table_rows) for table, table_rows in self.tables.items()}


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

    for name, i in PAYMENT_TYPE_IDS.items():
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
    keys = _Keys(
        addresses=range(1, size.addresses + 1),
        staff=range(1, size.staff + 1),
        counterparties=range(1, size.counterparties + 1),
        currencies=range(1, len(CURRENCIES) + 1),
        designs=range(1, size.designs + 1),
    )
    kinds = ["sales"] * size.sales_orders + ["purchase"] * size.purchase_orders
    created_times = sorted(ms_timestamp(rng, start, end) for _ in kinds)
    rng.shuffle(kinds)
    for kind, created in zip(kinds, created_times, strict=True):
        _add_order(rng, data, keys, kind, created, end)
    return data


@dataclass(frozen=True)
class _Keys:
    """Every key of the reference tables, for ``rows.order_row`` to choose from."""

    addresses: range
    staff: range
    counterparties: range
    currencies: range
    designs: range


def _add_order(
    rng: random.Random, data: Dataset, keys: _Keys, kind: str, created: datetime, end: datetime
) -> None:
    """An order with its transaction and payment. Payments start unpaid; once their agreed
    date has passed most have been paid, and paying bumped last_updated."""
    table = rows.ORDER_TABLES[kind]
    order_id = len(data.tables[table]) + 1
    order = {f"{table}_id": order_id, **rows.order_row(rng, kind, created, keys)}
    data.tables[table].append(order)
    transaction_id = len(data.tables["transaction"]) + 1
    data.tables["transaction"].append(
        {"transaction_id": transaction_id, **rows.transaction_row(kind, order_id, created)}
    )
    payment = {
        "payment_id": transaction_id,
        **rows.payment_row(rng, kind, order, transaction_id, PAYMENT_TYPE_IDS),
    }
    due = datetime.fromisoformat(str(order["agreed_payment_date"]))
    if due < end - timedelta(days=1) and rng.random() < 0.95:
        payment["paid"] = True
        payment["last_updated"] = ms_timestamp(
            rng, max(created, due - timedelta(days=1)), min(end, due + timedelta(days=3))
        )
    data.tables["payment"].append(payment)

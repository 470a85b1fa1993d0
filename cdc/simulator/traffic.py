"""Live ToteSys traffic: realistic OLTP transactions at a configurable rate.

Each business action is one small set of row changes, written as the application would:
a new order with its transaction and payment together, a payment flipping to paid, an edit
to a staff member, department, address, counterparty or design, and (optionally, rarely) the
cancellation of an unpaid order or the removal of an unused design. ``last_updated`` is set on
every write, as ToteSys's application does.

Pacing: the generator owes ``rate x elapsed`` row changes at any moment and pays the debt
in database transactions of up to ``max_changes_per_commit`` changes, so low rates give one
action per commit and high rates (thousands/s) batch several actions per commit.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg
from psycopg import sql

from cdc.simulator import dataset as ds
from cdc.simulator import rows
from cdc.simulator import vocabulary as vocab


@dataclass
class TrafficStats:
    """What the traffic generator did: row changes per (table, operation), commits, time."""

    changes: Counter[tuple[str, str]] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    commits: int = 0
    elapsed_s: float = 0.0

    @property
    def total_changes(self) -> int:
        return sum(self.changes.values())

    def count(self, table: str, operation: str, n: int = 1) -> None:
        self.changes[(table, operation)] += n


@dataclass
class _Known:
    """Keys of the rows the generator can act on, read once at start and kept up to date."""

    addresses: list[int]
    departments: list[int]
    staff: list[int]
    designs: list[int]
    counterparties: list[int]
    currencies: list[int]
    # payment_id -> (transaction_id, order table, order id) for payments not yet paid
    unpaid: dict[int, tuple[int, str, int]]
    sales_orders: list[int]


def _ids(conn: psycopg.Connection, table: str) -> list[int]:
    key = sql.Identifier(f"{table}_id")
    query = sql.SQL("SELECT {} FROM {} ORDER BY 1").format(key, sql.Identifier(table))
    return [row[0] for row in conn.execute(query)]


def _load_known(conn: psycopg.Connection, writer: tuple[int, int] = (0, 1)) -> _Known:
    """The keys; of the orders and payments, only those ``writer`` (its number, of how many)
    may change."""
    number, writers = writer
    unpaid = {
        payment_id: (transaction_id, "sales_order" if so else "purchase_order", so or po)
        for payment_id, transaction_id, so, po in conn.execute(
            "SELECT p.payment_id, t.transaction_id, t.sales_order_id, t.purchase_order_id "
            'FROM payment p JOIN "transaction" t USING (transaction_id) '
            "WHERE NOT p.paid "
            "AND (t.sales_order_id IS NOT NULL OR t.purchase_order_id IS NOT NULL) "
            "ORDER BY 1"
        )
        if payment_id % writers == number
    }
    known = _Known(
        addresses=_ids(conn, "address"),
        departments=_ids(conn, "department"),
        staff=_ids(conn, "staff"),
        designs=_ids(conn, "design"),
        counterparties=_ids(conn, "counterparty"),
        currencies=_ids(conn, "currency"),
        unpaid=unpaid,
        sales_orders=[i for i in _ids(conn, "sales_order") if i % writers == number],
    )
    if not (
        known.addresses
        and known.staff
        and known.designs
        and known.counterparties
        and known.currencies
    ):
        raise ValueError("ToteSys holds no reference data: seed it first (cdc simulate seed)")
    return known


class TrafficGenerator:
    """Applies random business actions to ToteSys through one connection.

    ``step()`` runs one action inside the caller's transaction and returns the row changes it
    made; the caller decides when to commit.

    ``writer``: (its number, of how many) when several generators write at once, each on its
    own connection. Each then changes only its share of the rows (keys modulo the number of
    writers, and the orders it created itself), so no two of them ever wait on, or deadlock
    over, the same row; every writer still references any row. Deletes are not allowed then
    (a design one writer removes could be referenced by another's new order).
    """

    def __init__(
        self,
        conn: psycopg.Connection,
        rng: random.Random,
        *,
        allow_deletes: bool = False,
        writer: tuple[int, int] = (0, 1),
    ) -> None:
        number, writers = writer
        if not 0 <= number < writers:
            raise ValueError(f"writer {number} of {writers} does not exist")
        if allow_deletes and writers > 1:
            raise ValueError("deletes need a single writer")
        self.conn = conn
        self.rng = rng
        self.writer = writer
        self.known = _load_known(conn, writer)
        for table, keys in (
            ("department", self.known.departments),
            ("staff", self.known.staff),
            ("address", self.known.addresses),
            ("counterparty", self.known.counterparties),
            ("design", self.known.designs),
        ):
            if not any(key % writers == number for key in keys):
                raise ValueError(
                    f"writer {number} of {writers} would own no {table} row: "
                    f"use at most {len(keys)} writers"
                )
        self.stats = TrafficStats()
        self.payment_type_ids = {
            name: type_id
            for type_id, name in conn.execute(
                "SELECT payment_type_id, payment_type_name::text FROM payment_type"
            )
        }
        actions: list[tuple[Callable[[], int], int]] = [
            (self.new_sales_order, 25),
            (self.new_purchase_order, 15),
            (self.pay, 30),
            (self.amend_sales_order, 8),
            (self.edit_staff, 3),
            (self.edit_department, 1),
            (self.edit_address, 3),
            (self.edit_counterparty, 2),
            (self.edit_design, 3),
        ]
        if allow_deletes:
            actions += [(self.cancel_unpaid_order, 2), (self.remove_unused_design, 1)]
        self._actions = [a for a, _ in actions]
        self._weights = [w for _, w in actions]

    def step(self) -> int:
        action = self.rng.choices(self._actions, self._weights)[0]
        before = self.stats.total_changes
        action()
        self.stats.actions[action.__name__] += 1
        return self.stats.total_changes - before

    def _own(self, keys: list[int]) -> int:
        """A random key of ``keys`` that this writer may change (there is one: the writers
        number at most as many as the smallest table's rows)."""
        number, writers = self.writer
        while True:
            key = self.rng.choice(keys)
            if key % writers == number:
                return key

    # --- actions ------------------------------------------------------------------------

    def _insert(self, table: str, row: dict[str, object], key: str) -> int:
        query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING {}").format(
            sql.Identifier(table),
            sql.SQL(", ").join(map(sql.Identifier, row)),
            sql.SQL(", ").join(sql.Placeholder() * len(row)),
            sql.Identifier(key),
        )
        new_id = self.conn.execute(query, list(row.values())).fetchone()[0]
        self.stats.count(table, "insert")
        return new_id

    def _new_order(self, kind: str) -> None:
        """An order with its transaction and unpaid payment, in the caller's transaction."""
        rng, k, now = self.rng, self.known, ds.now_ms()
        table = rows.ORDER_TABLES[kind]
        order = rows.order_row(rng, kind, now, k)
        order_id = self._insert(table, order, f"{table}_id")
        transaction_id = self._insert(
            "transaction", rows.transaction_row(kind, order_id, now), "transaction_id"
        )
        payment = rows.payment_row(rng, kind, order, transaction_id, self.payment_type_ids)
        payment_id = self._insert("payment", payment, "payment_id")
        k.unpaid[payment_id] = (transaction_id, table, order_id)
        if kind == "sales":
            k.sales_orders.append(order_id)

    def new_sales_order(self) -> None:
        self._new_order("sales")

    def new_purchase_order(self) -> None:
        self._new_order("purchase")

    def pay(self) -> None:
        """An unpaid payment becomes paid; last_updated is bumped."""
        if not self.known.unpaid:
            return self.new_sales_order()
        payment_id = (
            self.rng.choice(list(self.known.unpaid))
            if len(self.known.unpaid) < 64
            else next(iter(self.known.unpaid))
        )  # oldest first once there is a backlog
        self.conn.execute(
            "UPDATE payment SET paid = true, last_updated = %s WHERE payment_id = %s",
            (ds.now_ms(), payment_id),
        )
        del self.known.unpaid[payment_id]
        self.stats.count("payment", "update")

    def _update(self, table: str, key: str, key_value: int, changes: dict[str, object]) -> None:
        changes = {**changes, "last_updated": ds.now_ms()}
        query = sql.SQL("UPDATE {} SET {} WHERE {} = %s").format(
            sql.Identifier(table),
            sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in changes),
            sql.Identifier(key),
        )
        self.conn.execute(query, [*changes.values(), key_value])
        self.stats.count(table, "update")

    def amend_sales_order(self) -> None:
        """The customer moves the delivery: new agreed delivery date and location."""
        if not self.known.sales_orders:
            return self.new_sales_order()
        order_id = self.rng.choice(self.known.sales_orders[-500:])
        day = ds.now_ms().date() + timedelta(days=self.rng.randint(2, 10))
        self._update(
            "sales_order",
            "sales_order_id",
            order_id,
            {
                "agreed_delivery_date": day.isoformat(),
                "agreed_delivery_location_id": self.rng.choice(self.known.addresses),
            },
        )

    def edit_staff(self) -> None:
        """A staff member moves department, or changes email address."""
        rng = self.rng
        staff_id = self._own(self.known.staff)
        if rng.random() < 0.5:
            changes: dict[str, object] = {"department_id": rng.choice(self.known.departments)}
        else:
            changes = {
                "email_address": f"{vocab.person(rng).replace(' ', '.').lower()}@terrifictotes.com"
            }
        self._update("staff", "staff_id", staff_id, changes)

    def edit_department(self) -> None:
        """A department is renamed or moves (every dim_staff row of it must follow)."""
        rng = self.rng
        department_id = self._own(self.known.departments)
        if rng.random() < 0.5:
            changes: dict[str, object] = {
                "department_name": f"{rng.choice(vocab.DEPARTMENTS)[0]} {rng.randint(2, 99)}"
            }
        else:
            changes = {"location": rng.choice(vocab.CITIES)}
        self._update("department", "department_id", department_id, changes)

    def edit_address(self) -> None:
        """An address changes phone number or second line (dim_location and the counterparties
        whose legal address it is must follow)."""
        rng = self.rng
        changes: dict[str, object] = (
            {"phone": vocab.phone(rng)}
            if rng.random() < 0.5
            else {"address_line_2": rng.choice((*vocab.ADDRESS_LINE_2, None))}
        )
        self._update("address", "address_id", self._own(self.known.addresses), changes)

    def edit_counterparty(self) -> None:
        """A counterparty moves its legal address or changes its commercial contact."""
        rng = self.rng
        changes: dict[str, object] = (
            {"legal_address_id": rng.choice(self.known.addresses)}
            if rng.random() < 0.5
            else {"commercial_contact": vocab.person(rng)}
        )
        self._update(
            "counterparty", "counterparty_id", self._own(self.known.counterparties), changes
        )

    def edit_design(self) -> None:
        """A design's file is renamed."""
        rng = self.rng
        design_id = self._own(self.known.designs)
        name = rng.choice(vocab.DESIGN_NAMES)
        self._update(
            "design",
            "design_id",
            design_id,
            {"design_name": name, "file_name": vocab.design_file_name(rng, name, datetime.now())},
        )

    def cancel_unpaid_order(self) -> None:
        """An unpaid order is cancelled: its payment, transaction and order are deleted
        (children first, so every foreign key holds)."""
        if not self.known.unpaid:
            return None
        payment_id = self.rng.choice(list(self.known.unpaid))
        transaction_id, table, order_id = self.known.unpaid.pop(payment_id)
        self.conn.execute("DELETE FROM payment WHERE payment_id = %s", (payment_id,))
        self.conn.execute('DELETE FROM "transaction" WHERE transaction_id = %s', (transaction_id,))
        self.conn.execute(
            sql.SQL("DELETE FROM {} WHERE {} = %s").format(
                sql.Identifier(table), sql.Identifier(f"{table}_id")
            ),
            (order_id,),
        )
        if table == "sales_order":
            self.known.sales_orders.remove(order_id)
        self.stats.count("payment", "delete")
        self.stats.count("transaction", "delete")
        self.stats.count(table, "delete")
        return None

    def remove_unused_design(self) -> None:
        """A design no order uses is withdrawn."""
        if len(self.known.designs) <= 1:
            return
        design_id = self.rng.choice(self.known.designs)
        deleted = self.conn.execute(
            "DELETE FROM design WHERE design_id = %s "
            "AND NOT EXISTS (SELECT 1 FROM sales_order WHERE design_id = %s)",
            (design_id, design_id),
        ).rowcount
        if deleted:
            self.known.designs.remove(design_id)
            self.stats.count("design", "delete")


def run(
    dsn: str,
    *,
    rate: float,
    duration_s: float | None,
    seed: int = 1,
    allow_deletes: bool = False,
    max_changes_per_commit: int = 200,
    stop: threading.Event | None = None,
    on_commit: Callable[[TrafficStats], None] | None = None,
    writer: tuple[int, int] = (0, 1),
) -> TrafficStats:
    """Write live traffic at ``rate`` row changes per second until ``duration_s`` has passed
    (None: until ``stop`` is set). ``writer``: see ``TrafficGenerator``."""
    if rate <= 0:
        raise ValueError("rate must be positive (row changes per second)")
    stop = stop or threading.Event()
    rng = random.Random(seed)
    with psycopg.connect(dsn) as conn:
        generator = TrafficGenerator(conn, rng, allow_deletes=allow_deletes, writer=writer)
        stats = generator.stats
        conn.commit()
        started = time.monotonic()
        while not stop.is_set():
            elapsed = time.monotonic() - started
            if duration_s is not None and elapsed >= duration_s:
                break
            owed = rate * elapsed - stats.total_changes
            if owed < 1:
                stop.wait(
                    min((1 - owed) / rate, 0.05)
                )  # pacing, not readiness: wait for the next change due
                continue
            budget = min(owed, max_changes_per_commit)
            with conn.transaction():
                made = 0
                while made < budget:
                    made += generator.step()
            stats.commits += 1
            if on_commit is not None:
                on_commit(stats)
        stats.elapsed_s = time.monotonic() - started
    return stats


def _one_writer(
    dsn: str, rate: float, duration_s: float, seed: int, writer: tuple[int, int]
) -> TrafficStats:
    return run(dsn, rate=rate, duration_s=duration_s, seed=seed, writer=writer)


def run_writers(
    dsn: str,
    *,
    rate: float,
    duration_s: float,
    writers: int,
    seed: int = 1,
    always_spawn: bool = False,
) -> TrafficStats:
    """``run`` in ``writers`` processes at once, each at ``rate / writers`` on its own
    connection and its own share of the rows (``TrafficGenerator``'s ``writer``), for rates
    one Python process cannot write. Returns their stats summed (``elapsed_s``: the
    longest). One writer runs in the caller's process unless ``always_spawn`` (a benchmark
    that samples the writers' CPU apart from its own)."""
    if writers == 1 and not always_spawn:
        return run(dsn, rate=rate, duration_s=duration_s, seed=seed)
    context = multiprocessing.get_context("spawn")  # no fork of a threaded caller
    with concurrent.futures.ProcessPoolExecutor(writers, mp_context=context) as pool:
        parts = list(
            pool.map(
                _one_writer,
                [dsn] * writers,
                [rate / writers] * writers,
                [duration_s] * writers,
                [seed] if writers == 1 else [seed * 1000 + n for n in range(writers)],
                [(n, writers) for n in range(writers)],
            )
        )
    total = TrafficStats()
    for part in parts:
        total.changes.update(part.changes)
        total.actions.update(part.actions)
        total.commits += part.commits
        total.elapsed_s = max(total.elapsed_s, part.elapsed_s)
    return total

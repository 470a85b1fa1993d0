"""Concurrent loaders (issue 14): several loaders (threads here, each with its own
connection, as each Lambda instance has), one transaction per manifest, loading manifests of
different shards that touch the same dimension keys, dates and inferred members, in opposite
orders. Manifests are made by the real processor pipeline; loads go through the handler's
retry loop, as Lambda's would. The lock order itself is in docs/warehouse-loader.md."""

from __future__ import annotations

import io
import itertools
import queue
import threading
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pyarrow.parquet as pq
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from contracts.batches import Manifest, MemoryStore
from contracts.generation import GENERATION
from contracts.star_schema import FACTS, KEYS, SPECS, Kind
from local_stack.services import config as stack_config
from local_stack.services import postgres
from local_stack.services.config import WAREHOUSE
from local_stack.services.processes import wait_until
from stream_processor.config import ProcessorConfig
from stream_processor.join_state.memory import MemoryJoinState
from stream_processor.shard import ShardProcessor
from tests.stream_processor.fixtures import T0, record
from warehouse_loader import handler, migrations
from warehouse_loader.config import LoaderConfig
from warehouse_loader.connection import Warehouse
from warehouse_loader.load import load_manifest

pytestmark = pytest.mark.stack

SHARDS = 4
ROUNDS = 6
LOADERS = 4
DESIGNS = range(1, 9)  # each manifest updates three, overlapping its neighbours'
STAFF = range(1, 9)  # 1-4 arrive as real rows (two per manifest), 5-8 only as inferred members
ADDRESSES = range(1, 7)  # dim_location, and dim_counterparty through the legal address
TRANSACTIONS_PER_ROUND = 24


def _date(day: int) -> str:
    return (date(2026, 3, 1) + timedelta(days=day)).isoformat()


class World:
    """ToteSys changes cut into shards' manifests, round by round. Each manifest updates
    designs, addresses, counterparties and staff that its neighbours' manifests update too;
    its payments reference transactions whose real rows the next shard carries (so each is
    first an inferred member or a real row, depending on which loads first, and the four
    shards form a ring); its orders reference every design, address and staff member,
    including staff that never arrive (inferred members shared by all shards); every round
    uses new dates, shared by the shards and by the three fact tables. Even shards list keys
    and dates ascending, odd ones descending. (Under the loader's earlier order, which wrote
    inferred members and dim_date per fact table after the dimensions, in batch order, four
    loaders deadlocked about fifteen times on these manifests, and some manifests ran out of
    retries.)"""

    def __init__(self) -> None:
        self.store = MemoryStore()
        self.state = MemoryJoinState()
        self.commit = itertools.count(0x10_0000, 0x10)  # one source commit per change
        self.seq = itertools.count(1)

    def _stamp(self, minutes: int) -> Any:  # noqa: ANN401
        return T0 + timedelta(minutes=minutes)

    def round_records(self, shard: int, rnd: int) -> list[bytes]:
        up = shard % 2 == 0

        def ordered(keys: range | list[int]) -> list[int]:
            return sorted(keys, reverse=not up)

        stamp = self._stamp(rnd * 10 + shard)
        out: list[bytes] = []

        def change(table: str, row: dict, operation: str = "update") -> None:
            row = {"created_at": T0, "last_updated": stamp, **row}
            out.append(record(table, row, operation, commit=next(self.commit)))

        if rnd == 0:
            for d in (1, 2):
                change(
                    "department",
                    {
                        "department_id": d,
                        "department_name": f"Dept {d}",
                        "location": "Leeds",
                        "manager": "M",
                    },
                    "insert",
                )
        for d in ordered([DESIGNS[(shard + rnd + k) % len(DESIGNS)] for k in range(3)]):
            change(
                "design",
                {
                    "design_id": d,
                    "design_name": f"design {d} by shard {shard} round {rnd}",
                    "file_location": "/x",
                    "file_name": f"{d}.json",
                },
            )
        for a in ordered([ADDRESSES[(shard + rnd + k) % len(ADDRESSES)] for k in range(2)]):
            change(
                "address",
                {
                    "address_id": a,
                    "address_line_1": f"{a} Road, shard {shard} round {rnd}",
                    "address_line_2": None,
                    "district": None,
                    "city": "Leeds",
                    "postal_code": "LS1",
                    "country": "UK",
                    "phone": "0113",
                },
            )
            change(
                "counterparty",
                {
                    "counterparty_id": a,
                    "counterparty_legal_name": f"Party {a}",
                    "legal_address_id": a,
                    "commercial_contact": None,
                    "delivery_contact": None,
                },
            )
        for s in ordered([(shard + rnd) % 4 + 1, (shard + rnd + 1) % 4 + 1]):
            change(
                "staff",
                {
                    "staff_id": s,
                    "first_name": f"S{shard}R{rnd}",
                    "last_name": "L",
                    "department_id": s % 2 + 1,
                    "email_address": f"{s}@t",
                },
            )
        dates = ordered([rnd * 5 + k for k in range(5)])
        transactions = range(
            rnd * TRANSACTIONS_PER_ROUND + 1, (rnd + 1) * TRANSACTIONS_PER_ROUND + 1
        )
        mine = [t for t in transactions if t % SHARDS == shard]
        theirs = [t for t in transactions if t % SHARDS == (shard + 1) % SHARDS]
        for t in ordered(mine):  # real rows, which another shard's payments reference
            change(
                "transaction",
                {
                    "transaction_id": t,
                    "transaction_type": "SALE",
                    "sales_order_id": t,
                    "purchase_order_id": None,
                },
                "insert",
            )
        for i, t in enumerate(ordered(theirs)):  # payments before their transactions arrive
            change(
                "payment",
                {
                    "payment_id": t,
                    "transaction_id": t,
                    "counterparty_id": ADDRESSES[i % len(ADDRESSES)],
                    "payment_amount": Decimal("10.00"),
                    "currency_id": i % 3 + 1,
                    "payment_type_id": i % 4 + 1,
                    "paid": False,
                    "payment_date": _date(dates[i % len(dates)]),
                    "company_ac_number": 1,
                    "counterparty_ac_number": 2,
                },
                "insert",
            )
        for i, s in enumerate(ordered(STAFF)):  # orders owned by this shard, shared references
            order_id = shard * 1000 + rnd * 10 + i
            change(
                "sales_order",
                {
                    "sales_order_id": order_id,
                    "design_id": DESIGNS[i],
                    "staff_id": s,
                    "counterparty_id": ADDRESSES[i % len(ADDRESSES)],
                    "units_sold": 5,
                    "unit_price": Decimal("3.80"),
                    "currency_id": i % 3 + 1,
                    "agreed_delivery_date": _date(dates[-1 - i % len(dates)]),
                    "agreed_payment_date": _date(dates[i % len(dates)]),
                    "agreed_delivery_location_id": ADDRESSES[-1 - i % len(ADDRESSES)],
                },
                "insert",
            )
            change(
                "purchase_order",
                {
                    "purchase_order_id": order_id,
                    "staff_id": s,
                    "counterparty_id": ADDRESSES[-1 - i % len(ADDRESSES)],
                    "item_code": "AB12345",
                    "item_quantity": 4,
                    "item_unit_price": Decimal("3.80"),
                    "currency_id": 3 - i % 3,
                    "agreed_delivery_date": _date(dates[i % len(dates)]),
                    "agreed_payment_date": _date(dates[-1 - i % len(dates)]),
                    "agreed_delivery_location_id": ADDRESSES[i % len(ADDRESSES)],
                },
                "insert",
            )
        return out

    def manifest(self, shard_id: str, records: list[bytes]) -> str:
        p = ShardProcessor(
            shard_id, self.state, self.store, ProcessorConfig(bucket="b", state_table="s")
        )
        p.process_many([(str(next(self.seq)), "k", raw) for raw in records])
        return p.commit(lambda _seq: True).manifest_key

    def deliveries(self) -> tuple[list[str], list[str]]:
        """(every distinct manifest, the deliveries in queue order): round by round, the four
        shards' manifests side by side; shard 0's batches replayed (the same records again
        under other sequence numbers: new manifests of the same fact versions) next to the
        originals, and shard 1's delivered twice (SQS's at-least-once)."""
        distinct: list[str] = []
        queued: list[str] = []
        for rnd in range(ROUNDS):
            for shard in range(SHARDS):
                records = self.round_records(shard, rnd)
                key = self.manifest(f"shardId-{shard:012d}", records)
                distinct.append(key)
                queued.append(key)
                if shard == 0:
                    replay = self.manifest(f"shardId-{shard:012d}", records)
                    distinct.append(replay)
                    queued.append(replay)
                if shard == 1:
                    queued.append(key)
        return distinct, queued


@pytest.fixture
def world() -> World:
    return World()


def new_warehouse(fresh_database, *, as_loader: bool = True) -> str:
    """A migrated warehouse; ``as_loader``: set up as a deployment's is (the owner migrates)
    and reached as the loader role, whose loads check the foreign keys (deferred), the path
    production runs. Else as the superuser (who may also set ``deadlock_timeout``)."""
    dsn = fresh_database("warehouse", cluster=WAREHOUSE)
    if not as_loader:
        with psycopg.connect(dsn) as conn:
            migrations.apply(conn)
        return dsn
    cfg = stack_config.load()
    name = conninfo_to_dict(dsn)["dbname"]
    postgres.ensure_roles(cfg)
    postgres.grant_warehouse_roles(cfg, name)
    dsns = cfg.warehouse_dsns(name)
    with psycopg.connect(dsns["TOTESYS_CDC_WAREHOUSE_OWNER_DSN"]) as conn:
        migrations.apply(conn)
    return dsns["TOTESYS_CDC_WAREHOUSE_DSN"]


def load_concurrently(
    dsn: str, store: MemoryStore, deliveries: list[str], loaders: int
) -> tuple[list[Any], list[BaseException]]:
    """``loaders`` threads, each with its own ``Warehouse`` connection, taking the next
    delivery from a shared queue (as Lambda instances take SQS messages) and loading it with
    the handler's retry loop. Returns every LoadResult and every error."""
    work: queue.Queue[str] = queue.Queue()
    for key in deliveries:
        work.put(key)
    results: list[Any] = []
    errors: list[BaseException] = []
    start = threading.Barrier(loaders)

    def loader() -> None:
        warehouse = Warehouse(LoaderConfig(warehouse_dsn=dsn))
        try:
            warehouse.connection()
            start.wait()
            while True:
                try:
                    key = work.get_nowait()
                except queue.Empty:
                    break
                results.append(handler.load_with_retries(warehouse, store, key))
            # deadlocks are counted by the victim's backend: flush its statistics now
            warehouse.connection().execute("SELECT pg_stat_force_next_flush()")
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            warehouse.reset()

    threads = [threading.Thread(target=loader) for _ in range(loaders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return results, errors


def deadlocks(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        return conn.execute(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()[0]


def snapshot(dsn: str) -> dict[str, list[tuple]]:
    """Every table's rows but the loader's own stamps (load time, fact surrogate key)."""
    out: dict[str, list[tuple]] = {}
    with psycopg.connect(dsn) as conn:
        for spec in SPECS:
            columns = [
                c.name for c in spec.columns if c.name not in ("cdc_loaded_at", spec.record_id)
            ]
            out[spec.name] = conn.execute(
                sql.SQL("SELECT {c} FROM {t} ORDER BY {c}").format(
                    c=sql.SQL(", ").join(map(sql.Identifier, columns)),
                    t=sql.Identifier(spec.name),
                )
            ).fetchall()
        out["ledger"] = conn.execute(
            "SELECT manifest_key, generation FROM cdc_load_ledger ORDER BY 1"
        ).fetchall()
    return out


def test_four_loaders_on_overlapping_manifests_lose_nothing_and_match_a_serial_load(
    fresh_database, world
):
    distinct, deliveries = world.deliveries()
    assert len(distinct) == SHARDS * ROUNDS + ROUNDS and len(deliveries) == len(distinct) + ROUNDS
    dsn = new_warehouse(fresh_database)
    before = deadlocks(dsn)

    results, errors = load_concurrently(dsn, world.store, deliveries, LOADERS)

    assert errors == []
    assert len(results) == len(deliveries), "every delivery was loaded or skipped"
    loaded = Counter(r.manifest_key for r in results if not r.skipped)
    assert loaded == Counter(distinct), "every manifest loaded exactly once"
    assert sorted(r.manifest_key for r in results if r.skipped) == sorted(
        k for k, n in Counter(deliveries).items() if n > 1
    ), "each duplicate delivery was a no-op"
    retries = sum(r.attempts - 1 for r in results)
    assert (retries, deadlocks(dsn) - before) == (0, 0), "no deadlock: the lock order is fixed"

    concurrent = snapshot(dsn)
    with psycopg.connect(dsn) as conn:
        assert sorted(conn.execute("SELECT manifest_key FROM cdc_load_ledger")) == sorted(
            (k,) for k in distinct
        )
        for fact in FACTS:  # every fact version of every manifest, exactly once
            key = KEYS[fact]
            stored = conn.execute(
                sql.SQL("SELECT {k}, cdc_version FROM {t}").format(
                    k=sql.Identifier(key), t=sql.Identifier(fact)
                )
            ).fetchall()
            assert len(stored) == len(set(stored)) > 0, fact
            assert {(k, int(v)) for k, v in stored} == fact_versions(world.store, distinct, fact)
        for dim, keys in real_keys(world.store, distinct).items():
            inferred = {
                k
                for (k,) in conn.execute(
                    sql.SQL("SELECT {} FROM {} WHERE cdc_is_inferred").format(
                        sql.Identifier(KEYS[dim]), sql.Identifier(dim)
                    )
                )
            }
            assert not inferred & keys, f"{dim}: no inferred member left where a row arrived"
        assert conn.execute(
            "SELECT array_agg(staff_id ORDER BY staff_id) FROM dim_staff WHERE cdc_is_inferred"
        ).fetchone()[0] == [5, 6, 7, 8], "the staff that never arrived stay inferred"
    assert sum(n for r in results for n in r.inferred.values()) > len(STAFF) // 2

    serial = new_warehouse(fresh_database)  # the same manifests one by one, newest first
    with psycopg.connect(serial, autocommit=True) as conn:
        for key in reversed(distinct):
            load_manifest(conn, world.store, key)
    assert snapshot(serial) == concurrent


def _rows(store: MemoryStore, keys: list[str], table: str, columns: list[str]) -> list[tuple]:
    """``columns`` of every row of ``table`` in these manifests' files."""
    out: list[tuple] = []
    for key in keys:
        for f in Manifest.from_json(store.get(key)).files:
            if f.table == table:
                data = pq.read_table(io.BytesIO(store.get(f.key)), columns=columns)
                out += zip(*data.to_pydict().values(), strict=True)
    return out


def fact_versions(store: MemoryStore, keys: list[str], fact: str) -> set[tuple[int, int]]:
    """(source key, version) of every row of ``fact`` in these manifests."""
    rows = _rows(store, keys, fact, [KEYS[fact], "cdc_version"])
    return {(k, int(v)) for k, v in rows}


def real_keys(store: MemoryStore, keys: list[str]) -> dict[str, set[int]]:
    """Per dimension, the keys of the real rows these manifests carry."""
    return {
        s.name: {k for (k,) in _rows(store, keys, s.name, [s.key])}
        for s in SPECS
        if s.kind in (Kind.DIMENSION, Kind.JOINED)
    }


SALE = {
    "design_id": 1,
    "staff_id": 10,
    "counterparty_id": 3,
    "units_sold": 100,
    "unit_price": Decimal("3.80"),
    "currency_id": 1,
    "agreed_delivery_date": "2026-03-05",
    "agreed_payment_date": "2026-03-04",
    "agreed_delivery_location_id": 5,
    "created_at": T0,
    "last_updated": T0,
}


def design(design_id: int, name: str) -> dict:
    return {
        "design_id": design_id,
        "design_name": name,
        "file_location": "/x",
        "file_name": f"{design_id}.json",
        "created_at": T0,
        "last_updated": T0,
    }


def held(dsn: str, statement: str, *params: Any) -> bool:  # noqa: ANN401
    """Whether a load holds what ``statement`` would lock or insert: the statement waits (and
    gives up at the lock timeout) or goes through (and is rolled back)."""
    with psycopg.connect(dsn) as probe:
        probe.execute("SET lock_timeout = '300ms'")
        try:
            probe.execute(statement, params or None)
        except psycopg.errors.LockNotAvailable:
            return True
        finally:
            probe.rollback()
        return False


def waiting(dsn: str, pid: int) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(
            "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s", (pid,)
        ).fetchone()[0]


INSERT_FACT = (
    "INSERT INTO fact_sales_order (sales_order_id, cdc_version, cdc_operation, cdc_is_deleted) "
    "VALUES (%s, %s, 'insert', false)"
)


def test_a_waiting_load_holds_only_what_comes_before_the_row_it_waits_for(fresh_database):
    """The lock order, observed: a load stopped by another writer at design 2 holds the dates
    and the earlier dimensions' inferred members, and design 1 (a member its facts need,
    below 2 in key order, so taken in the same pass as the staged rows), but not design 3 (a
    staged update above it), design 4 (a member above it), dim_counterparty (a later table)
    or any fact; stopped at sales order 8, it holds all of those but not order 9, which its
    batch lists first."""
    dsn = new_warehouse(fresh_database)
    world = World()
    old = [record("design", design(d, "old"), commit=0x10 + d) for d in (2, 3)]
    with psycopg.connect(dsn, autocommit=True) as conn:
        load_manifest(conn, world.store, world.manifest("shardId-0", old))
    key = world.manifest(
        "shardId-1",
        [
            record("design", design(3, "new"), "update", commit=0x30),
            record("design", design(2, "new"), "update", commit=0x31),
            record("sales_order", {**SALE, "sales_order_id": 9, "design_id": 4}, commit=0x50),
            record("sales_order", {**SALE, "sales_order_id": 8, "design_id": 1}, commit=0x51),
        ],
    )
    versions = dict(fact_versions(world.store, [key], "fact_sales_order"))
    with (
        psycopg.connect(dsn) as design_2,
        psycopg.connect(dsn) as order_8,
        psycopg.connect(dsn, autocommit=True) as loader,
    ):
        design_2.execute("UPDATE dim_design SET file_name = 'held' WHERE design_id = 2")
        order_8.execute(INSERT_FACT, (8, versions[8]))
        pid = loader.execute("SELECT pg_backend_pid()").fetchone()[0]
        done: list[Any] = []
        load = threading.Thread(target=lambda: done.append(load_manifest(loader, world.store, key)))
        load.start()
        try:
            wait_until(lambda: waiting(dsn, pid), what="the load to wait", timeout_s=30)
            assert held(
                dsn, "INSERT INTO dim_date VALUES ('2026-03-04', 2026, 3, 4, 3, 'W', 'M', 1)"
            )
            assert held(dsn, "INSERT INTO dim_staff (staff_id, cdc_version) VALUES (10, 0)")
            assert held(dsn, "INSERT INTO dim_currency (currency_id, cdc_version) VALUES (1, 0)")
            assert held(dsn, "INSERT INTO dim_design (design_id, cdc_version) VALUES (1, 0)")
            assert not held(dsn, "SELECT FROM dim_design WHERE design_id = 3 FOR NO KEY UPDATE")
            assert not held(dsn, "INSERT INTO dim_design (design_id, cdc_version) VALUES (4, 0)")
            assert not held(
                dsn, "INSERT INTO dim_counterparty (counterparty_id, cdc_version) VALUES (3, 0)"
            )
            assert not held(dsn, INSERT_FACT, 9, versions[9])
            design_2.commit()

            wait_until(
                lambda: held(dsn, "SELECT FROM dim_design WHERE design_id = 3 FOR NO KEY UPDATE"),
                what="the load to go past design 2",
                timeout_s=30,
            )
            wait_until(lambda: waiting(dsn, pid), what="the load to wait again", timeout_s=30)
            assert held(dsn, "INSERT INTO dim_design (design_id, cdc_version) VALUES (4, 0)")
            assert held(
                dsn, "INSERT INTO dim_counterparty (counterparty_id, cdc_version) VALUES (3, 0)"
            )
            assert not held(dsn, INSERT_FACT, 9, versions[9])
        finally:
            design_2.rollback()
            order_8.rollback()
            load.join(timeout=30)
    assert done and done[0].inserted == {"dim_design": 0, "fact_sales_order": 2}
    assert done[0].updated["dim_design"] == 2
    assert done[0].inferred == {
        "dim_staff": 1,
        "dim_location": 1,
        "dim_currency": 1,
        "dim_design": 2,
        "dim_counterparty": 1,
    }


def test_a_deadlock_rolls_the_whole_manifest_back_and_the_retry_loads_it(fresh_database):
    """Another writer that does not keep the lock order (it holds a fact version the load
    needs, then wants a design the load has updated) deadlocks with a load; the load is the
    victim (it checks for deadlocks after 3 s, the other session only after 20 s). When the other's update
    goes through, it sees none of the load's first attempt: not its design update, ledger row,
    dates or inferred members. The handler's retry then loads the manifest whole, once."""
    dsn = new_warehouse(fresh_database, as_loader=False)  # SET deadlock_timeout: superuser
    world = World()
    with psycopg.connect(dsn, autocommit=True) as conn:
        first = world.manifest("s0", [record("design", design(1, "old"), commit=0x10)])
        load_manifest(conn, world.store, first)
    key = world.manifest(
        "s1",
        [
            record("design", design(1, "new"), "update", commit=0x20),
            record("sales_order", {**SALE, "sales_order_id": 8}, commit=0x21),
        ],
    )
    ((_, version),) = fact_versions(world.store, [key], "fact_sales_order")
    warehouse = Warehouse(LoaderConfig(warehouse_dsn=dsn))
    pid = warehouse.connection().execute("SELECT pg_backend_pid()").fetchone()[0]
    # the load checks for a deadlock once, this long after it starts waiting: by then the
    # other writer must be waiting too, however slow this machine is
    warehouse.connection().execute("SET deadlock_timeout = '3s'")
    done: list[Any] = []
    with psycopg.connect(dsn) as other:
        other.execute("SET deadlock_timeout = '20s'")
        other.execute(INSERT_FACT, (8, version))
        load = threading.Thread(
            target=lambda: done.append(handler.load_with_retries(warehouse, world.store, key))
        )
        load.start()
        wait_until(lambda: waiting(dsn, pid), what="the load to wait on order 8", timeout_s=30)
        seen = other.execute(  # waits for the load, which is then found in a deadlock
            "UPDATE dim_design SET file_name = 'other' WHERE design_id = 1 RETURNING design_name"
        ).fetchone()
        assert seen == ("old",), "the first attempt's update was rolled back"
        assert other.execute(
            "SELECT (SELECT count(*) FROM cdc_load_ledger), (SELECT count(*) FROM dim_date), "
            "(SELECT count(*) FROM dim_staff)"
        ).fetchone() == (1, 0, 0), "only the first manifest's ledger row; no date, no member"
        other.commit()
        load.join(timeout=30)
    warehouse.reset()
    assert done and done[0].attempts == 2 and not done[0].skipped
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT design_name FROM dim_design").fetchall() == [("new",)]
        assert conn.execute(
            "SELECT count(*), min(cdc_generation), min(units_sold) FROM fact_sales_order"
        ).fetchone() == (1, GENERATION, 100), "one version: the manifest's (a newer generation)"
        assert conn.execute("SELECT count(*) FROM cdc_load_ledger").fetchone()[0] == 2

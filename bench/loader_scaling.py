"""loader_scaling_rows_per_s: 1, 2 and 4 concurrent loaders on the same manifests.

The manifests are a realistic mix written as the processor writes them (parquet files and a
manifest each, in a directory store every loader process reads): four shards, each batch
holding new fact versions (payments, sales orders) that reference shared dimension keys and
dates, real dim_transaction rows that another shard's payments reference (inferred members
first, or not, depending on which loads first), and updates of a few designs, staff and
counterparties that the other shards update too.

Each loader is a separate **process** with its own connection (as Lambda instances are: one
process, one connection, one manifest per transaction; threads would share one Python
interpreter, and its GIL, which a real deployment does not), taking the next manifest from a
shared cursor as instances take SQS messages, and loading it with the handler's own retry
loop (``handler.load_with_retries``); each process reads one manifest before the clock
starts (a warm instance). Each figure is measured beside its baseline in the same run: the
same manifests loaded by one process into another fresh warehouse, in pairs whose order
alternates, the median of three of each (one in quick mode); the 1-runner figure against its
baseline shows the run's noise. A run that loses a manifest fails instead of reporting.

CPU: each loader process's own CPU time, its PostgreSQL backend's (``/proc/<pid>/stat``), and
how many of the machine's cores were busy over the run (``/proc/stat``, every process of the
machine, whoever's). On a 2-core machine that also runs PostgreSQL, loaders compete with the
server for the same cores, so the expected line is flat (docs/warehouse-loader.md,
Concurrent loaders, has the numbers and why).
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import random
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

from bench.results import Figure
from contracts.batches import ObjectMissing
from contracts.star_schema import schema_of
from local_stack.services import postgres
from local_stack.services.config import WAREHOUSE, StackConfig
from local_stack.services.processes import process_cpu_seconds
from stream_processor.batch import Batch, encode_files, put_files, write_manifest
from stream_processor.transform import OutRow
from warehouse_loader import handler, migrations
from warehouse_loader.config import LoaderConfig
from warehouse_loader.connection import Warehouse
from warehouse_loader.load import read_file, read_manifest, to_csv

RUNNERS = (1, 2, 4)
SHARDS = 4
T0 = datetime(2026, 6, 1, 9, 0, 0)


class DirStore:
    """An object store in a directory (``contracts.batches.ObjectStore``), so that loader
    processes read the same manifests without an S3 endpoint's own CPU in the figures."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key

    def put(self, key: str, body: bytes, content_type: str) -> None:  # noqa: ARG002
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectMissing(key) from None

    def keys(self, prefix: str) -> list[str]:
        return sorted(
            str(p.relative_to(self.root))
            for p in self.root.rglob("*")
            if p.is_file()
            if str(p.relative_to(self.root)).startswith(prefix)
        )

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def _row(table: str, **values: Any) -> dict[str, Any]:  # noqa: ANN401
    return dict.fromkeys(schema_of(table).names) | {"cdc_is_deleted": False} | values


def write_manifests(store: DirStore, manifests: int, rows: int, seed: int = 14) -> list[str]:
    """``manifests`` batches of about ``rows`` rows each, shard by shard in turn (the queue's
    order: the four shards' batches of a round side by side)."""
    rng = random.Random(seed)  # noqa: S311 - test data
    version = itertools.count(1_000)
    seqs = {s: itertools.count(1) for s in range(SHARDS)}
    days = [date(2026, 6, 1) + timedelta(days=d) for d in range(60)]
    next_payment = {s: itertools.count(s * 1_000_000 + 1) for s in range(SHARDS)}
    transactions: dict[int, list[int]] = {s: [] for s in range(SHARDS)}  # owed by each shard
    keys = []
    for m in range(manifests):
        shard, rnd = m % SHARDS, m // SHARDS
        stamp = T0 + timedelta(minutes=m)
        out: list[OutRow] = []
        payments = rows * 45 // 100
        for _ in range(payments):  # new payments: their transactions come with the next shard
            pid = next(next_payment[shard])
            transactions[(shard + 1) % SHARDS].append(pid)
            day = rng.choice(days)
            out.append(
                OutRow(
                    "fact_payment",
                    _row(
                        "fact_payment",
                        payment_id=pid,
                        created_date=stamp.date(),
                        created_time=stamp.time(),
                        last_updated_date=stamp.date(),
                        last_updated_time=stamp.time(),
                        transaction_id=pid,
                        counterparty_id=rng.randint(1, 20),
                        payment_amount=Decimal("1234.50"),
                        currency_id=rng.randint(1, 3),
                        payment_type_id=rng.randint(1, 4),
                        paid=False,
                        payment_date=day,
                        cdc_version=Decimal(next(version)),
                        cdc_operation="insert",
                        cdc_source_updated_at=stamp,
                    ),
                )
            )
        for i in range(rows * 30 // 100):  # versions of the shard's sales orders
            order = shard * 1_000_000 + rnd * 1_000 + i % 200
            out.append(
                OutRow(
                    "fact_sales_order",
                    _row(
                        "fact_sales_order",
                        sales_order_id=order,
                        created_date=T0.date(),
                        created_time=T0.time(),
                        last_updated_date=stamp.date(),
                        last_updated_time=stamp.time(),
                        sales_staff_id=rng.randint(1, 20),
                        counterparty_id=rng.randint(1, 20),
                        units_sold=rng.randint(1, 100),
                        unit_price=Decimal("3.80"),
                        currency_id=rng.randint(1, 3),
                        design_id=rng.randint(1, 300),
                        agreed_payment_date=rng.choice(days),
                        agreed_delivery_date=rng.choice(days),
                        agreed_delivery_location_id=rng.randint(1, 30),
                        cdc_version=Decimal(next(version)),
                        cdc_operation="update",
                        cdc_source_updated_at=stamp,
                    ),
                )
            )
        owed, transactions[shard] = transactions[shard], []
        for t in sorted(owed, reverse=shard % 2 == 1):  # real rows of other shards' references
            out.append(
                OutRow(
                    "dim_transaction",
                    _row(
                        "dim_transaction",
                        transaction_id=t,
                        transaction_type="SALE",
                        sales_order_id=t,
                        cdc_version=Decimal(next(version)),
                        cdc_source_updated_at=stamp,
                    ),
                )
            )
        for d in rng.sample(range(1, 301), 10):  # shared hot rows, updated by every shard
            out.append(
                OutRow(
                    "dim_design",
                    _row(
                        "dim_design",
                        design_id=d,
                        design_name=f"design {d} r{rnd}",
                        file_location="/x",
                        file_name=f"{d}.json",
                        cdc_version=Decimal(next(version)),
                        cdc_source_updated_at=stamp,
                    ),
                )
            )
        for s in rng.sample(range(1, 21), 2):
            out.append(
                OutRow(
                    "dim_staff",
                    _row(
                        "dim_staff",
                        staff_id=s,
                        first_name=f"S{s}",
                        last_name="L",
                        department_name="Sales",
                        location="Leeds",
                        email_address=f"{s}@t",
                        cdc_version=Decimal(next(version)),
                        cdc_joined_version=Decimal(1),
                        cdc_source_updated_at=stamp,
                    ),
                )
            )
        for c in rng.sample(range(1, 21), 2):
            out.append(
                OutRow(
                    "dim_counterparty",
                    _row(
                        "dim_counterparty",
                        counterparty_id=c,
                        counterparty_legal_name=f"Party {c}",
                        counterparty_legal_city="Leeds",
                        cdc_version=Decimal(next(version)),
                        cdc_joined_version=Decimal(1),
                        cdc_source_updated_at=stamp,
                    ),
                )
            )
        rng.shuffle(out)  # a batch lists rows in arrival order, not key order
        batch = Batch(f"shardId-{shard:012d}")
        for row in out:
            batch.add_record(str(next(seqs[shard])), [row])
        keys.append(write_manifest(batch, put_files(batch, encode_files(batch)[0], store), store))
    return keys


def _machine_busy_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values[:8]) - idle, sum(values[:8])


def _loader(
    dsn: str,
    root: str,
    keys: list[str],
    cursor: Any,  # noqa: ANN401 - a multiprocessing Value
    ready: Any,  # noqa: ANN401 - a multiprocessing Barrier
    results: Any,  # noqa: ANN401 - a multiprocessing Queue
) -> None:
    """One loader process: its own connection, the next manifest off the shared cursor, one
    transaction per manifest with the handler's retries; reports what it did and its CPU."""
    try:
        results.put(_load_all(dsn, DirStore(Path(root)), keys, cursor, ready))
    except BaseException as exc:  # reported to the parent, which fails the benchmark
        ready.abort()
        results.put({"error": f"{type(exc).__name__}: {exc}"})
        raise


def _load_all(
    dsn: str,
    store: DirStore,
    keys: list[str],
    cursor: Any,  # noqa: ANN401
    ready: Any,  # noqa: ANN401
) -> dict[str, Any]:
    warehouse = Warehouse(LoaderConfig(warehouse_dsn=dsn))
    conn = warehouse.connection()
    backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    manifest = read_manifest(store, keys[0])  # warm, as a Lambda instance after its first call
    for f in manifest.files:
        to_csv(read_file(store, f.table, f.key))
    ready.wait()
    cpu, backend_cpu = time.process_time(), process_cpu_seconds(backend)
    rows = attempts = loaded = 0
    while True:
        with cursor.get_lock():
            i = cursor.value
            cursor.value += 1
        if i >= len(keys):
            break
        result = handler.load_with_retries(warehouse, store, keys[i])
        rows += sum(result.staged.values())
        attempts += result.attempts
        loaded += not result.skipped
    finished = time.perf_counter()
    cpu, backend_cpu = time.process_time() - cpu, process_cpu_seconds(backend) - backend_cpu
    warehouse.connection().execute("SELECT pg_stat_force_next_flush()")  # deadlocks counted
    warehouse.reset()
    return {
        "rows": rows,
        "loaded": loaded,
        "retries": attempts - loaded,
        "cpu_s": cpu,
        "backend_cpu_s": backend_cpu,
        "finished": finished,
    }


@dataclass
class Run:
    """One load of the manifests by ``runners`` loader processes into a fresh warehouse."""

    runners: int
    rows: int
    wall_s: float
    loader_cpu_s: float
    postgres_cpu_s: float
    machine_busy_cores: float
    retries: int
    deadlocks: int

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall_s


def cpu(runs: list[Run], prefix: str = "") -> dict[str, Any]:
    """CPU of these runs: seconds per 10,000 rows (the loader processes, their PostgreSQL
    backends), cores the load kept busy on average, and cores the whole machine was busy."""
    rows, wall = sum(r.rows for r in runs), sum(r.wall_s for r in runs)
    loader, backend = sum(r.loader_cpu_s for r in runs), sum(r.postgres_cpu_s for r in runs)
    return {
        f"{prefix}loader_cpu_s_per_10k_rows": round(loader / rows * 10_000, 2),
        f"{prefix}postgres_backend_cpu_s_per_10k_rows": round(backend / rows * 10_000, 2),
        f"{prefix}cores_used_by_load": round((loader + backend) / wall, 2),
        f"{prefix}machine_busy_cores": round(
            sum(r.machine_busy_cores * r.wall_s for r in runs) / wall, 2
        ),
    }


def measure(cfg: StackConfig, root: Path, keys: list[str], runners: int) -> Run:
    """Load ``keys`` with ``runners`` loader processes into a fresh warehouse; check that
    every manifest landed once and no load deadlocked."""
    name = f"bench_scaling_{uuid.uuid4().hex[:8]}"
    dsn = postgres.create_database(cfg, name, cluster=WAREHOUSE)
    try:
        with psycopg.connect(dsn) as conn:
            migrations.apply(conn)
        ctx = mp.get_context("spawn")
        cursor, ready, results = ctx.Value("i", 0), ctx.Barrier(runners + 1), ctx.Queue()
        procs = [
            ctx.Process(target=_loader, args=(dsn, str(root), keys, cursor, ready, results))
            for _ in range(runners)
        ]
        for p in procs:
            p.start()
        ready.wait(timeout=120)  # every loader connected and migrated: start the clock
        started, busy = time.perf_counter(), _machine_busy_ticks()
        done = [results.get(timeout=1_800) for _ in procs]
        failed = [d["error"] for d in done if "error" in d]
        if failed:
            raise RuntimeError(f"{runners} loaders: a loader failed: {failed[0]}")
        finished, busy_after = max(d["finished"] for d in done), _machine_busy_ticks()
        for p in procs:
            p.join(timeout=60)
        with psycopg.connect(dsn, autocommit=True) as conn:
            ledger = conn.execute("SELECT count(*) FROM cdc_load_ledger").fetchone()[0]
            deadlocks = conn.execute(
                "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
            ).fetchone()[0]
        if ledger != len(keys) or sum(d["loaded"] for d in done) != len(keys):
            raise RuntimeError(f"{runners} loaders: {ledger} of {len(keys)} manifests loaded")
        wall = finished - started
        return Run(
            runners=runners,
            rows=sum(d["rows"] for d in done),
            wall_s=wall,
            loader_cpu_s=sum(d["cpu_s"] for d in done),
            postgres_cpu_s=sum(d["backend_cpu_s"] for d in done),
            machine_busy_cores=(busy_after[0] - busy[0])
            / max(1, busy_after[1] - busy[1])
            * (os.cpu_count() or 1),
            retries=sum(d["retries"] for d in done),
            deadlocks=deadlocks,
        )
    finally:
        postgres.drop_database(cfg, name)


def run(cfg: StackConfig, work: Path, *, quick: bool) -> list[Figure]:
    """Per runner count: ``repeats`` pairs of (one loader, that many loaders), the order
    alternating between pairs so that drift in the machine's other load hits both; the
    figure and its baseline are the medians of their runs."""
    manifests, rows, repeats = (16, 500, 1) if quick else (48, 1_000, 3)
    root = work / "loader_scaling"
    keys = write_manifests(DirStore(root), manifests, rows)
    figures = []
    for runners in RUNNERS:
        measured: list[Run] = []
        baseline: list[Run] = []
        for repeat in range(repeats):
            pair = [(baseline, 1), (measured, runners)]
            for runs, n in pair if repeat % 2 == 0 else reversed(pair):
                runs.append(measure(cfg, root, keys, n))
        value = statistics.median(r.rows_per_s for r in measured)
        base = statistics.median(r.rows_per_s for r in baseline)
        figures.append(
            Figure(
                "loader_scaling_rows_per_s",
                round(value, 1),
                "rows/s",
                "1_runner_same_manifests",
                round(base, 1),
                {
                    "runners": runners,
                    "manifests": len(keys),
                    "rows": measured[0].rows,
                    "repeats": repeats,
                    "runs_rows_per_s": [round(r.rows_per_s) for r in measured],
                    "baseline_runs_rows_per_s": [round(r.rows_per_s) for r in baseline],
                    "cores": os.cpu_count(),
                    **cpu(measured),
                    **cpu(baseline, "baseline_"),
                    "retries": sum(r.retries for r in measured + baseline),
                    "deadlocks": sum(r.deadlocks for r in measured + baseline),
                    "note": (
                        "loaders and the warehouse's PostgreSQL share this machine's cores "
                        "(and so does whatever else runs on it: machine_busy_cores): once "
                        "they are busy, more loaders cannot load faster"
                    ),
                },
            )
        )
    return figures

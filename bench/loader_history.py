"""loader_history_fact_rows_per_s and loader_history_dim_rows_per_s: the loader's fact and
dimension loads (``bench/loader.py``'s manifests and rows) with the dimension histories kept,
beside the same loads with history off (``TOTESYS_CDC_HISTORY=off``), in the same run.

Each round loads, into a fresh warehouse per mode, the fact manifest (its references make
inferred members, so their histories too), a first dimension manifest, then the timed mixed
one (half updates of loaded rows, half new). The modes alternate within a round and which
goes first alternates between rounds (an even number of rounds: the first load of a round
measured slower, whichever mode it was), so drift in the machine's load falls on both; each
figure is the median over the rounds. The ratio is
history on / history off (below 1: the cost of history; the goal is a dimension load
costing less than 1.5x, a ratio above 0.67).
"""

from __future__ import annotations

import statistics
import time
import uuid
from pathlib import Path

import psycopg

from bench.loader import dim_rows, fact_rows, manifest
from bench.results import Figure
from contracts.batches import MemoryStore
from local_stack.services import postgres
from local_stack.services.config import WAREHOUSE, StackConfig
from warehouse_loader import migrations
from warehouse_loader.load import load_manifest


def _timed(dsn: str, store: MemoryStore, key: str, *, history: bool) -> float:
    with psycopg.connect(dsn, autocommit=True) as conn:
        started = time.perf_counter()
        load_manifest(conn, store, key, history=history)
        return time.perf_counter() - started


def measure(cfg: StackConfig, facts: int, dims: int, *, history: bool) -> tuple[float, float]:
    """(fact rows/s, dimension rows/s) of one fresh warehouse."""
    name = f"bench_history_{uuid.uuid4().hex[:8]}"
    dsn = postgres.create_database(cfg, name, cluster=WAREHOUSE)
    try:
        with psycopg.connect(dsn) as conn:
            migrations.apply(conn)
        store = MemoryStore()
        fact_key = manifest(store, "fact_payment", fact_rows(facts))
        first = manifest(store, "dim_transaction", dim_rows(range(1, dims // 2 + 1), 1))
        mixed = manifest(store, "dim_transaction", dim_rows(range(1, dims + 1), 2))
        fact_s = _timed(dsn, store, fact_key, history=history)
        _timed(dsn, store, first, history=history)
        dim_s = _timed(dsn, store, mixed, history=history)
    finally:
        postgres.drop_database(cfg, name)
    return facts / fact_s, dims / dim_s


def run(cfg: StackConfig, work: Path, *, quick: bool) -> list[Figure]:  # noqa: ARG001
    facts, dims, rounds = (20_000, 10_000, 2) if quick else (100_000, 50_000, 4)
    on: list[tuple[float, float]] = []
    off: list[tuple[float, float]] = []
    for i in range(rounds):  # alternate which mode goes first
        for history in (i % 2 == 0, i % 2 != 0):
            (on if history else off).append(measure(cfg, facts, dims, history=history))
    figures = []
    for index, what, rows in ((0, "fact", facts), (1, "dim", dims)):
        with_history = statistics.median(r[index] for r in on)
        without = statistics.median(r[index] for r in off)
        figures.append(
            Figure(
                f"loader_history_{what}_rows_per_s",
                round(with_history, 1),
                "rows/s",
                "history_off",
                round(without, 1),
                {
                    "rows": rows,
                    "rounds": rounds,
                    "history_cost_x": round(without / with_history, 2),
                    "history_on_runs": [round(r[index], 1) for r in on],
                    "history_off_runs": [round(r[index], 1) for r in off],
                },
            )
        )
    return figures

"""Live traffic (``cdc.simulator.traffic``) against a real ToteSys schema on the local
PostgreSQL."""

from __future__ import annotations

import random

import psycopg
import pytest

from cdc import source_schema
from cdc.simulator import dataset, traffic, writer
from tests.cdc.fixtures import check_invariants, row_counts

pytestmark = pytest.mark.stack


def test_live_traffic_writes_inserts_updates_and_deletes_that_keep_every_constraint(totesys_dsn):
    with psycopg.connect(totesys_dsn) as conn:
        writer.load_dataset(conn, dataset.generate(7, dataset.SMALL))
    before = row_counts(totesys_dsn)

    stats = traffic.run(totesys_dsn, rate=400, duration_s=3, seed=3, allow_deletes=True)

    operations = {op for _, op in stats.changes}
    assert {"insert", "update", "delete"} <= operations
    assert stats.actions["pay"] > 0 and stats.actions["new_sales_order"] > 0
    after = row_counts(totesys_dsn)
    for table in source_schema.TABLES:
        expected = (
            before[table] + stats.changes[(table, "insert")] - stats.changes[(table, "delete")]
        )
        assert after[table] == expected, table
    with psycopg.connect(totesys_dsn) as conn:
        check_invariants(conn)
        newly_paid = conn.execute(
            "SELECT count(*) FROM payment WHERE paid AND last_updated > created_at AND last_updated > now() - interval '1 hour'"
        ).fetchone()[0]
    assert newly_paid == stats.changes[("payment", "update")]


def test_traffic_never_runs_ahead_of_its_rate(totesys_dsn):
    with psycopg.connect(totesys_dsn) as conn:
        writer.load_dataset(conn, dataset.generate(7, dataset.SMALL))
    stats = traffic.run(totesys_dsn, rate=50, duration_s=1.5, seed=4)
    # Pacing pays a debt of rate x elapsed; one action (at most 3 rows) may overshoot it.
    assert 0 < stats.total_changes <= 50 * stats.elapsed_s + 3


def test_the_same_seed_replays_the_same_sequence_of_actions(totesys_dsn, fresh_database):
    other = fresh_database("totesys")
    results = []
    for dsn in (totesys_dsn, other):
        with psycopg.connect(dsn) as conn:
            if dsn == other:
                source_schema.create(conn)
            writer.load_dataset(conn, dataset.generate(7, dataset.SMALL))
            generator = traffic.TrafficGenerator(conn, random.Random(9), allow_deletes=True)
            for _ in range(200):
                generator.step()
            conn.commit()
            results.append((generator.stats.actions, generator.stats.changes))
    assert results[0] == results[1]


def test_traffic_refuses_an_unseeded_database_with_a_clear_error(totesys_dsn):
    with pytest.raises(ValueError, match="seed it first"):
        traffic.run(totesys_dsn, rate=10, duration_s=0.1)


def test_several_writers_change_disjoint_rows_and_add_up_to_the_rate(totesys_dsn):
    with psycopg.connect(totesys_dsn) as conn:
        writer.load_dataset(conn, dataset.generate(7, dataset.SMALL))
    # Each writer changes only its share: no lock waits, so no deadlock, at any rate.
    with psycopg.connect(totesys_dsn) as conn:
        generators = [
            traffic.TrafficGenerator(conn, random.Random(n), writer=(n, 3)) for n in range(3)
        ]
        for n, generator in enumerate(generators):
            assert all(p % 3 == n for p in generator.known.unpaid)
            assert all(o % 3 == n for o in generator.known.sales_orders)
            for _ in range(50):
                assert generator._own(generator.known.staff) % 3 == n
        conn.rollback()
    stats = traffic.run_writers(totesys_dsn, rate=300, duration_s=2, writers=3, seed=5)
    assert stats.commits >= 3
    assert 300 <= stats.total_changes <= 300 * 2 + 3 * 200  # paced, each commit at most 200
    with psycopg.connect(totesys_dsn) as conn:
        check_invariants(conn)
    with psycopg.connect(totesys_dsn) as conn, pytest.raises(ValueError, match="own no department"):
        traffic.TrafficGenerator(conn, random.Random(1), writer=(0, 9))
    with psycopg.connect(totesys_dsn) as conn, pytest.raises(ValueError, match="single writer"):
        traffic.TrafficGenerator(conn, random.Random(1), allow_deletes=True, writer=(0, 2))

"""The whole pipeline, end to end, on the local stack: the capture engine, the real KCL daemon
with the stream processor, the loader runner, as processes, against one ToteSys database and
one warehouse. ``reconcile`` is the oracle.

The tests run in order on one pipeline (module scope): live traffic; then bad input; then live
traffic with faults injected; then a replay of the whole stream. Each ends quiet and
reconciled, so each starts from a warehouse known to be right.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from contracts.star_schema import TABLES as WAREHOUSE_TABLES
from local_stack.harness.observe import fact_versions_written
from local_stack.harness.pipeline import Names, Pipeline
from tests.processor_log import checked_events

# The module's tests share one pipeline (a module fixture), in order: make test's workers
# (pytest-xdist, --dist loadfile) run a module's tests on one worker, in order.
pytestmark = [pytest.mark.stack, pytest.mark.kcl, pytest.mark.timeout(900)]

SEED = int(os.environ.get("TOTESYS_CDC_E2E_SEED", "20261125"))
RATE = 100  # row changes per second


class Run:
    """The pipeline and what was written to its source, cumulatively."""

    def __init__(self, pipeline: Pipeline, loaded: dict[str, int]) -> None:
        self.pipeline = pipeline
        self.changes: Counter[tuple[str, str]] = Counter(
            {(t, "load"): n for t, n in loaded.items()}
        )
        self.actions: Counter[str] = Counter()

    def traffic(self, seconds: float, seed: int, stop: threading.Event | None = None) -> None:
        stats = self.pipeline.traffic(
            rate=RATE, duration_s=seconds, seed=seed, allow_deletes=True, stop=stop
        )
        self.changes += stats.changes
        self.actions += stats.actions


@pytest.fixture(scope="module")
def run(stack_cfg) -> Iterator[Run]:
    pipeline = Pipeline(stack_cfg, Names.unique("e2e"), kinesis_relay=True)
    loaded = pipeline.create(seed=SEED)
    pipeline.start()
    yield Run(pipeline, loaded)
    pipeline.stop()
    pipeline.destroy()


def assert_reconciled(pipeline: Pipeline) -> None:
    report = pipeline.observe.reconcile()
    assert report.differences == 0, json.dumps(report.to_json(), indent=1)


def assert_every_fact_version_once(run: Run) -> None:
    """Every change committed to a fact's source table is one fact row: none lost, none twice."""
    counts = run.pipeline.observe.counts()
    for fact, written in fact_versions_written(run.changes).items():
        assert counts[fact] == written, (fact, counts[fact], written)


def warehouse_fingerprint(pipeline: Pipeline) -> dict[str, tuple[int, str]]:
    """Per table: row count and a digest of every row, every column (ledger aside)."""
    out = {}
    with psycopg.connect(pipeline.warehouse_dsn) as conn:
        for table in WAREHOUSE_TABLES:
            rows = conn.execute(
                sql.SQL("SELECT t::text FROM {} t ORDER BY 1").format(sql.Identifier(table))
            ).fetchall()
            digest = hashlib.sha256("\n".join(r[0] for r in rows).encode()).hexdigest()
            out[table] = (len(rows), digest)
    return out


def test_live_traffic_reaches_the_warehouse_exactly(run):
    run.traffic(120, seed=SEED)
    run.pipeline.quiesce()

    assert_reconciled(run.pipeline)
    assert_every_fact_version_once(run)
    # The traffic had what the test is about.
    for action in ("pay", "edit_department", "edit_address", "edit_staff", "edit_counterparty"):
        assert run.actions[action] > 0, action
    assert run.changes[("payment", "update")] > 50
    assert run.changes[("sales_order", "delete")] + run.changes[("design", "delete")] > 0
    with psycopg.connect(run.pipeline.warehouse_dsn) as conn:
        updates, histories_not_unpaid_then_paid = conn.execute(
            "SELECT count(*) FILTER (WHERE cdc_operation = 'update'), "
            "(SELECT count(*) FROM (SELECT array_agg(paid ORDER BY cdc_version) AS h "
            "   FROM fact_payment GROUP BY payment_id "
            "   HAVING bool_or(cdc_operation = 'update')) x "
            " WHERE x.h[1] OR NOT x.h[array_upper(x.h, 1)]) "
            "FROM fact_payment"
        ).fetchone()
    # Every payment that became paid: its unpaid version, then its paid one.
    assert updates == run.changes[("payment", "update")]
    assert histories_not_unpaid_then_paid == 0
    # Dimension history (reconcile above checked each history against its dimension): the
    # departments renamed and staff moved show, in fact_sales_order_as_of, every order version
    # with the department its staff member had when the version was committed: once per
    # version, that history row's, and for some versions not today's.
    with psycopg.connect(run.pipeline.warehouse_dsn) as conn:
        missing, not_the_valid_row, not_todays = conn.execute(
            "SELECT (SELECT count(*) FROM fact_sales_order) - count(*), "
            "count(*) FILTER (WHERE staff_department_name IS DISTINCT FROM ("
            "  SELECT h.department_name FROM dim_staff_history h "
            "  WHERE h.staff_id = v.sales_staff_id AND h.valid_from_version <= v.cdc_version "
            "  ORDER BY h.valid_from_version DESC, h.valid_to_version DESC NULLS FIRST LIMIT 1)), "
            "count(*) FILTER (WHERE staff_department_name IS DISTINCT FROM ("
            "  SELECT d.department_name FROM dim_staff d WHERE d.staff_id = v.sales_staff_id)) "
            "FROM fact_sales_order_as_of v"
        ).fetchone()
    assert (missing, not_the_valid_row) == (0, 0)
    assert not_todays > 0
    # What the demo's dashboard shows, read from the parts (no log lines): every record on the
    # stream was processed (the RecordsIn metric), every manifest in the bucket was loaded.
    observe = run.pipeline.observe
    on_stream = sum(1 for _ in observe.stream_records())
    assert observe.records_processed(run.pipeline.metrics_namespace, run.pipeline.created_at) >= (
        on_stream
    )
    assert len(observe.manifests()) == observe.ledger()
    assert observe.millis_behind_latest(run.pipeline.metrics_namespace) is not None
    # No fault yet: the processor's log holds no ERROR line and every event once, and shows
    # its start-up in order before its batches.
    events = checked_events(run.pipeline.log_path("processor"))
    steps = [e["step"] for e in events if e["event"] == "startup"]
    assert (
        steps.index("daemon_started") < steps.index("lease_taken") < steps.index("first_checkpoint")
    ), steps
    assert sum(1 for e in events if e["event"] == "batch_committed") >= len(observe.manifests())


def test_garbage_on_the_stream_is_dead_lettered_and_the_warehouse_is_unaffected(run):
    before, counts = run.pipeline.observe.dead_letters(), run.pipeline.observe.counts()
    junk = [
        b"\x00\x01 not json at all",
        b'{"data": {"payment_id": 1}, "metadata": {"table-name": "payment"',  # cut short
        json.dumps({"data": {}, "metadata": {}}).encode(),  # no table, no operation
        json.dumps(
            {
                "data": {"secret_id": 1},
                "metadata": {
                    "record-type": "data",
                    "operation": "insert",
                    "schema-name": "public",
                    "table-name": "secrets",  # not a ToteSys table
                    "timestamp": "2026-11-25T12:00:00.000000Z",
                },
            }
        ).encode(),
    ]
    run.pipeline.faults.inject(junk)
    run.pipeline.quiesce()
    assert run.pipeline.observe.dead_letters() == before + len(junk)
    assert run.pipeline.observe.counts() == counts
    assert_reconciled(run.pipeline)


def test_faults_at_random_moments_lose_and_duplicate_nothing(run):
    pipeline, rng = run.pipeline, random.Random(SEED)
    stop = threading.Event()
    stolen: list[str] = []
    failures: list[BaseException] = []

    def write() -> None:
        try:
            run.traffic(None, SEED + 1, stop)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    writer = threading.Thread(target=write)
    stealer = threading.Thread(
        target=lambda: stolen.append(pipeline.faults.steal_manifest_event(timeout_s=400))
    )

    def restart_after(name: str, pause: float) -> None:
        pipeline.kill(name)
        time.sleep(pause)
        pipeline.restart(name)

    faults = {
        "SIGKILL capture engine": lambda: restart_after("capture", rng.uniform(0.5, 3)),
        "SIGKILL KCL daemon and record processors": lambda: restart_after(
            "processor", rng.uniform(0.5, 3)
        ),
        "SIGKILL loader runner": lambda: restart_after("loader", rng.uniform(0.5, 3)),
        # The next manifest event is taken off the queue (whenever the processor writes one:
        # it may be down) and deleted unseen, as if S3 had never sent it.
        "lose a manifest event": lambda: stealer.start(),
        "Kinesis unreachable for 4 s": lambda: pipeline.faults.kinesis_outage(4),
    }
    order = list(faults)
    rng.shuffle(order)
    # The KCL daemon's SIGKILL comes early: its leader lock then expires (2 minutes) while the
    # traffic still runs, instead of after it.
    schedule = sorted(
        (rng.uniform(5, 30) if "KCL" in name else rng.uniform(5, 80), name) for name in order
    )
    print(f"seed {SEED}; faults at: " + ", ".join(f"{t:.0f}s {n}" for t, n in schedule))
    writer.start()
    began = time.monotonic()
    try:
        for at, name in schedule:
            time.sleep(max(0.0, at - (time.monotonic() - began)))
            faults[name]()
            assert all(pipeline.alive().values()), pipeline.alive()
        time.sleep(max(0.0, 90 - (time.monotonic() - began)))
    finally:
        stop.set()
        writer.join()
    stealer.join(timeout=420)  # a SIGKILLed KCL leader's lock holds for 2 minutes
    pipeline.quiesce(timeout_s=420)
    assert not failures, failures
    assert len(stolen) == 1
    pipeline.faults.redeliver(
        stolen[0]
    )  # the lost notification, redelivered (an operator, S3's retry)
    pipeline.quiesce()
    assert_reconciled(pipeline)  # this includes: no (key, version) stored twice
    assert_every_fact_version_once(run)


def test_replaying_the_whole_stream_leaves_the_warehouse_unchanged(run):
    pipeline = run.pipeline
    before, ledger = warehouse_fingerprint(pipeline), pipeline.observe.ledger()
    pipeline.stop_process("processor")
    reset = pipeline.replay_reset("--trim-horizon")
    assert reset.count("->") == pipeline.cfg.stream_shards, reset
    pipeline.restart("processor")
    pipeline.quiesce(timeout_s=420)

    assert pipeline.observe.ledger() > ledger  # the stream really was processed again...
    assert warehouse_fingerprint(pipeline) == before  # ...and changed nothing
    assert_reconciled(pipeline)

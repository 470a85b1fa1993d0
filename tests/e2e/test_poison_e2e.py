"""Poison on the stream and a throttled join state, under live traffic, end to end on the local
stack (issue 23): the real KCL daemon under ``stream-processor run``, the capture engine and the
loader as processes. The poison records are dead letters, one each; the throttled join state
stops the worker's shards, its supervisor restarts the daemon, and the shards move again on
their own; reconcile finds nothing lost and nothing twice."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from local_stack.harness.observe import fact_versions_written
from local_stack.harness.pipeline import Names, Pipeline
from local_stack.services import aws
from local_stack.services.processes import wait_until
from stream_processor.cli import EXIT_STALLED
from tests.stream_processor.fixtures import SALE, STAFF, record

# The module's tests share one pipeline (a module fixture), in order: make test's workers
# (pytest-xdist, --dist loadfile) run a module's tests on one worker, in order.
pytestmark = [pytest.mark.stack, pytest.mark.kcl, pytest.mark.timeout(900)]

SEED = 20261203
RATE = 100  # row changes per second
ABSENT = 9_000_001  # a key no ToteSys row has: a poison that landed would be a difference


def poison_records() -> dict[str, bytes]:
    """Records decode, the join state or parquet could not take before issue 23: reason → data."""

    def edited(table: str, row: dict, **data: object) -> bytes:
        body = json.loads(record(table, row))
        body["data"].update(data)
        return json.dumps(body).encode()

    return {
        # a DynamoDB item over 400 KB: the join state refuses it (ValidationException)
        "join state refused": record(
            "staff",
            {**STAFF, "staff_id": ABSENT, "department_id": ABSENT, "first_name": "A" * 450_000},
        ),
        # an offset that moves the moment past the calendar's end when made UTC
        "9999-12-31": edited(
            "sales_order",
            {**SALE, "sales_order_id": ABSENT},
            created_at="9999-12-31T23:59:59.000-05:00",
        ),
        # varchar(3) in the warehouse
        "currency_code": edited(
            "currency", {"currency_id": ABSENT, "currency_code": "GBP"}, currency_code="ABCD"
        ),
        # PostgreSQL text cannot hold NUL
        "design_name": edited(
            "design",
            {
                "design_id": ABSENT,
                "created_at": SALE["created_at"],
                "design_name": "x",
                "file_location": "/x",
                "file_name": "x.json",
                "last_updated": SALE["last_updated"],
            },
            design_name="bad\u0000name",
        ),
    }


@pytest.fixture(scope="module")
def pipeline(stack_cfg, tmp_path_factory) -> Iterator[Pipeline]:
    p = Pipeline(stack_cfg, Names.unique("poison"))
    flag = tmp_path_factory.mktemp("throttle") / "throttled"
    p.env["TOTESYS_CDC_TEST_THROTTLE_FILE"] = str(flag)
    p.throttle_flag = flag
    p.loaded = p.create(seed=SEED)
    p.start(record_processor="tests.e2e.throttled_join_state_app")
    yield p
    p.stop()
    p.destroy()


def status(pipeline: Pipeline) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stream_processor.cli", "status", "--check"],
        env=pipeline.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def dead_letters(pipeline: Pipeline) -> list[dict]:
    s3 = aws.client(pipeline.cfg, "s3")
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=pipeline.names.bucket, Prefix="dead-letters/"
    )
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    return [
        json.loads(s3.get_object(Bucket=pipeline.names.bucket, Key=k)["Body"].read()) for k in keys
    ]


def test_poison_and_a_throttled_join_state_under_live_traffic_lose_nothing(pipeline):
    changes: Counter = Counter({(t, "load"): n for t, n in pipeline.loaded.items()})
    stop, failures = threading.Event(), []

    def write() -> None:
        try:
            stats = pipeline.traffic(rate=RATE, duration_s=None, seed=SEED, stop=stop)
            changes.update(stats.changes)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        time.sleep(10)
        poison = poison_records()
        pipeline.faults.inject(list(poison.values()))
        time.sleep(10)
        pipeline.throttle_flag.touch()  # DynamoDB throttles every join-state call
        wait_until(
            lambda: status(pipeline).returncode == EXIT_STALLED,
            what="stream-processor status to report a stalled shard",
            timeout_s=120,
        )
        time.sleep(10)
        pipeline.throttle_flag.unlink()
        throttle_ended = time.monotonic()
        time.sleep(20)
    finally:
        stop.set()
        writer.join()
    assert not failures, failures
    pipeline.quiesce(timeout_s=300)
    caught_up_s = time.monotonic() - throttle_ended
    # The shards move again on their own: within the daemon's start-up after its last restart
    # (about 20 s here, backoff included) and a minute, after the 20 s of traffic still to come.
    assert caught_up_s < 20 + 20 + 60 + 30, caught_up_s

    letters = dead_letters(pipeline)
    assert len(letters) == len(poison), [(d["cause"], d["reason"][:120]) for d in letters]
    causes = {d["reason"].split(" ")[0]: d["cause"] for d in letters}
    assert causes == {
        "sales_order.created_at": "bad_record",
        "design.design_name": "bad_record",
        "currency.currency_code": "bad_record",
        "join": "processor_error",  # a valid record the join state cannot hold
    }, [d["reason"][:200] for d in letters]
    assert any("over DynamoDB's" in d["reason"] for d in letters)

    report = pipeline.observe.reconcile()
    assert report.differences == 0, json.dumps(report.to_json(), indent=1)
    counts = pipeline.observe.counts()
    for fact, written in fact_versions_written(changes).items():  # each version once
        assert counts[fact] == written, (fact, counts[fact], written)

    log = pipeline.log_path("processor").read_text(errors="replace")
    events = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    stops = [e for e in events if e["event"] == "shard_stopped"]
    assert stops and all("ProvisionedThroughputExceededException" in e["reason"] for e in stops)
    assert any(e["event"] == "daemon_exited" for e in events)
    after = status(pipeline)
    assert after.returncode == 0 and "stalled" not in after.stdout, after.stdout + after.stderr
    print(f"caught up {caught_up_s:.0f}s after the throttling ended; {len(stops)} stops")

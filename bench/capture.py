"""capture_changes_per_s: changes per second from commit to Kinesis acknowledgement.

A backlog of simulator changes (a realistic mix: new orders with their transaction and
payment, payments becoming paid, edits, deletes) is committed while the engine is stopped;
the engine is then started and drains it. The figure is CDC records acknowledged by Kinesis
divided by the time the engine's CDC steps took (from its own ``cdc_step`` log lines), so
process start-up is not counted. Baseline, same run: the same engine putting one record per
PutRecords call (``TOTESYS_CDC_CAPTURE_BATCH_RECORDS=1``), as a naive per-record capture would.
"""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path

import psycopg

from bench.results import Figure
from cdc import source_schema
from cdc.simulator import dataset, traffic, writer
from local_stack.harness.capture_process import CaptureProcess
from local_stack.services import aws, postgres
from local_stack.services.config import StackConfig, app_env, process_env


def _fresh_source(cfg: StackConfig, name: str) -> str:
    dsn = postgres.create_database(cfg, name)
    with psycopg.connect(dsn) as conn:
        source_schema.create(conn)
        writer.load_dataset(conn, dataset.generate(3, dataset.SMALL))
    return dsn


def _backlog(dsn: str, changes: int, seed: int) -> int:
    """Commit about ``changes`` simulator row changes as fast as one connection can."""
    made = 0
    with psycopg.connect(dsn) as conn:
        generator = traffic.TrafficGenerator(conn, random.Random(seed), allow_deletes=True)  # noqa: S311
        conn.commit()
        while made < changes:
            with conn.transaction():
                batch = 0
                while batch < 200:
                    batch += generator.step()
            made += batch
    return made


def _measure(
    cfg: StackConfig, work: Path, *, changes: int, batch_records: int, shards: int
) -> dict:
    name = f"bench_capture_{uuid.uuid4().hex[:8]}"
    stream = name.replace("_", "-")
    kinesis = aws.client(cfg, "kinesis")
    kinesis.create_stream(StreamName=stream, ShardCount=shards)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.2})
    dsn = _fresh_source(cfg, name)
    state_dir = work / name
    env = process_env(
        {
            **app_env(cfg),
            "TOTESYS_CDC_SOURCE_DSN": dsn,
            "TOTESYS_CDC_STREAM_NAME": stream,
            "TOTESYS_CDC_CAPTURE_STATE_DIR": str(state_dir),
            "TOTESYS_CDC_CAPTURE_TASK_ID": name,
            "TOTESYS_CDC_CAPTURE_SLOT": name,
            "TOTESYS_CDC_CAPTURE_BATCH_RECORDS": str(batch_records),
        }
    )
    engine = CaptureProcess(env, state_dir, name, state_dir / "engine.log")
    try:
        engine.start()  # full load, then stop: the backlog is CDC only
        engine.wait_running()
        engine.stop()
        made = _backlog(dsn, changes, seed=batch_records)
        log_offset = engine.log.stat().st_size
        engine.start()
        engine.wait_caught_up(dsn, timeout_s=900)
        engine.stop()
        with open(engine.log) as log:
            log.seek(log_offset)
            steps = [
                e
                for line in log
                if line.startswith("{") and (e := json.loads(line))["event"] == "cdc_step"
            ]
        records = sum(e["records"] for e in steps)
        seconds = sum(e["seconds"] for e in steps)
        return {"changes": made, "records": records, "seconds": seconds, "per_s": records / seconds}
    finally:
        postgres.drop_database(cfg, name)
        kinesis.delete_stream(StreamName=stream)


def run(cfg: StackConfig, work: Path, *, quick: bool) -> list[Figure]:
    changes, baseline_changes = (5_000, 1_000) if quick else (30_000, 3_000)
    shards = 4
    measured = _measure(cfg, work, changes=changes, batch_records=500, shards=shards)
    baseline = _measure(cfg, work, changes=baseline_changes, batch_records=1, shards=shards)
    return [
        Figure(
            name="capture_changes_per_s",
            value=round(measured["per_s"], 1),
            unit="changes/s",
            baseline="one_put_per_record",
            baseline_value=round(baseline["per_s"], 1),
            params={
                "changes": measured["records"],
                "baseline_changes": baseline["records"],
                "shards": shards,
                "kinesis": "moto (local stack)",
                "seconds": round(measured["seconds"], 2),
            },
        )
    ]

"""Fixtures for the cdc tests: an empty ToteSys schema, and a seeded ToteSys with a capture
engine ready to start."""

from __future__ import annotations

import os

import psycopg
import pytest

from cdc import source_schema
from cdc.simulator import dataset, writer
from local_stack.harness.capture_process import CaptureProcess
from local_stack.services.config import app_env
from tests.fixtures import unique_name


@pytest.fixture
def totesys_dsn(fresh_database):
    """A fresh database with the ToteSys schema and no rows."""
    dsn = fresh_database("totesys")
    with psycopg.connect(dsn) as conn:
        source_schema.create(conn)
    return dsn


@pytest.fixture
def capture(stack_cfg, fresh_database, aws_client, tmp_path):
    """A seeded ToteSys, an empty 2-shard stream, an oracle slot, and an engine (not started).

    Replication slots are the cluster's, not the database's: the oracle's name is unique, so
    tests side by side do not share it."""
    dsn = fresh_database("totesys")
    oracle = unique_name("oracle").replace("-", "_")
    with psycopg.connect(dsn) as conn:
        source_schema.create(conn)
        writer.load_dataset(conn, dataset.generate(5, dataset.SMALL))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_create_logical_replication_slot(%s, 'test_decoding')", (oracle,))
    stream = unique_name("totesys")
    kinesis = aws_client("kinesis")
    kinesis.create_stream(StreamName=stream, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.2})
    task_id = unique_name("task")
    env = {
        **os.environ,
        **app_env(stack_cfg),
        "TOTESYS_CDC_SOURCE_DSN": dsn,
        "TOTESYS_CDC_STREAM_NAME": stream,
        "TOTESYS_CDC_CAPTURE_STATE_DIR": str(tmp_path / "capture"),
        "TOTESYS_CDC_CAPTURE_TASK_ID": task_id,
        "TOTESYS_CDC_CAPTURE_SLOT": task_id.replace("-", "_"),
    }
    engine = CaptureProcess(env, tmp_path / "capture", task_id, tmp_path / "capture" / "engine.log")
    yield type(
        "Capture",
        (),
        {"dsn": dsn, "oracle": oracle, "stream": stream, "kinesis": kinesis, "engine": engine},
    )
    if engine.proc is not None and engine.proc.poll() is None:
        engine.stop()

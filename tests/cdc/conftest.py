"""Fixtures for the cdc tests: a seeded ToteSys with a capture engine ready to start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from cdc import source_schema
from cdc.capture import status as engine_status
from cdc.capture.pgoutput import format_lsn, parse_lsn
from cdc.simulator import dataset, writer
from local_stack.config import app_env
from local_stack.processes import wait_until
from tests.fixtures import unique_name


class Engine:
    """``cdc capture`` in its own process."""

    def __init__(self, env: dict[str, str], state_dir: Path, task_id: str) -> None:
        self.env, self.state_dir, self.task_id = env, state_dir, task_id
        self.proc: subprocess.Popen | None = None
        self.log = state_dir / "engine.log"

    def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cdc.cli", "capture"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def status(self) -> engine_status.EngineStatus | None:
        return engine_status.read_status(self.state_dir, self.task_id)

    def wait_running(self, timeout_s: float = 60) -> None:
        wait_until(
            lambda: (
                (s := self.status()) is not None
                and s.status == "running"
                and s.pid == self.proc.pid
            ),
            what="the capture engine to finish its full load",
            timeout_s=timeout_s,
            log_path=self.log,
        )

    def wait_caught_up(self, dsn: str, timeout_s: float = 60) -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            target = parse_lsn(
                conn.execute("SELECT pg_current_wal_flush_lsn()::text").fetchone()[0]
            )

        def caught_up() -> bool:
            s = self.status()
            return s is not None and s.confirmed_lsn != "" and parse_lsn(s.confirmed_lsn) >= target

        wait_until(
            caught_up,
            what=f"the engine to confirm {format_lsn(target)}",
            timeout_s=timeout_s,
            log_path=self.log,
        )

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


@pytest.fixture
def capture(stack_cfg, fresh_database, aws_client, tmp_path):
    """A seeded ToteSys, an empty 2-shard stream, an oracle slot, and an engine (not started)."""
    dsn = fresh_database("totesys")
    with psycopg.connect(dsn) as conn:
        source_schema.create(conn)
        writer.load_dataset(conn, dataset.generate(5, dataset.SMALL))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_create_logical_replication_slot('oracle', 'test_decoding')")
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
    engine = Engine(env, tmp_path / "capture", task_id)
    yield type("Capture", (), {"dsn": dsn, "stream": stream, "kinesis": kinesis, "engine": engine})
    if engine.proc is not None and engine.proc.poll() is None:
        engine.stop()

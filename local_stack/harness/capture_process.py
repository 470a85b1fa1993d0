"""``cdc capture`` as a process of its own, with the waits its users need (demo, benchmarks,
tests)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import psycopg

from cdc.capture.status import EngineStatus, read_status
from contracts.change_records import format_lsn, parse_lsn
from local_stack.services.processes import StackError, wait_until


class CaptureProcess:
    def __init__(self, env: Mapping[str, str], state_dir: Path, task_id: str, log: Path) -> None:
        self.env = dict(env)
        self.state_dir, self.task_id, self.log = state_dir, task_id, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cdc.cli", "capture"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def status(self) -> EngineStatus | None:
        return read_status(self.state_dir, self.task_id)

    def _alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise StackError(
                f"the capture engine exited with {self.proc.returncode}; see {self.log}"
            )

    def wait_running(self, timeout_s: float = 120) -> None:
        """Until this process reports CDC running (its full load done)."""

        def running() -> bool:
            self._alive()
            s = self.status()
            return s is not None and s.status == "running" and s.pid == self.proc.pid

        wait_until(
            running, what="the capture engine's full load", timeout_s=timeout_s, log_path=self.log
        )

    def wait_caught_up(self, dsn: str, timeout_s: float = 60) -> None:
        """Until the engine has confirmed every change the source had flushed when called."""
        with psycopg.connect(dsn, autocommit=True) as conn:
            target = parse_lsn(
                conn.execute("SELECT pg_current_wal_flush_lsn()::text").fetchone()[0]
            )

        def caught_up() -> bool:
            self._alive()
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
        """SIGTERM (the engine finishes its step and says so); returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)

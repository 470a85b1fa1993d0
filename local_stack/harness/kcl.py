"""Running the real KCL MultiLangDaemon (Java) against the local stack.

The daemon starts a Python record processor (``executableName``) per shard and talks to it
over stdin/stdout. Two settings make the AWS SDK for Java work with moto:
``-Daws.cborEnabled=false`` (moto speaks JSON, not CBOR, to Kinesis) and the ``http://``
endpoints (the Kinesis client then uses HTTP/2 cleartext, which hypercorn serves).
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import replace
from pathlib import Path

from contracts.settings import LOCAL
from local_stack.services.config import StackConfig, process_env
from local_stack.services.processes import StackError, group_members, wait_until
from stream_processor import daemon
from stream_processor.daemon import DaemonSettings

GRACEFUL_DONE = "Process shutdown is complete."


class Daemon:
    """One MultiLangDaemon process (and the record processors it spawns)."""

    def __init__(self, config: StackConfig, settings: DaemonSettings, work_dir: Path) -> None:
        """``settings`` as rendered for AWS; the local environment and endpoint are set here."""
        self.config = config
        self.settings = settings
        self.work_dir = work_dir
        self.properties_path = work_dir / f"{settings.application_name}.properties"
        self.log_path = work_dir / f"{settings.application_name}.kcl.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        local = replace(
            self.settings,
            environment=LOCAL,
            endpoint=self.config.aws_endpoint,
            region=self.config.region,
        )
        argv = daemon.prepare(local, self.properties_path)
        env = process_env(self.config.aws_env())
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.work_dir,
                start_new_session=True,
            )

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def graceful_shutdown_completed(self) -> bool:
        """True when the daemon's log says its SIGTERM shutdown finished within the grace time."""
        return self.log_path.exists() and GRACEFUL_DONE in self.log_path.read_text(errors="replace")

    def stop(self, timeout_s: float = 60.0) -> int:
        """Ask the daemon to shut down (SIGTERM: record processors get ``shutdown_requested``
        and may checkpoint), wait for it and every child, and return its exit code: 143
        (128 + SIGTERM) is how the JVM reports that shutdown. Escalates to SIGKILL only after
        ``timeout_s``."""
        if self._proc is None:
            raise StackError("the KCL daemon was never started")
        group = self._proc.pid
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(group, signal.SIGKILL)
                self._proc.wait(timeout=10)
                raise StackError(
                    f"the KCL daemon ignored SIGTERM for {timeout_s}s; see {self.log_path}"
                ) from None
        # The record processors are the daemon's children, in its process group.
        try:
            wait_until(
                lambda: not _group_alive(group),
                what="the KCL record processors to exit",
                timeout_s=15,
                log_path=self.log_path,
            )
        except StackError:
            os.killpg(group, signal.SIGKILL)
            raise
        return self._proc.returncode


def _group_alive(pgid: int) -> bool:
    return bool(group_members(pgid))  # live, not zombies

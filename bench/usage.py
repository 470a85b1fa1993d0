"""What each of the pipeline's processes uses while a benchmark runs: peak resident memory
and CPU seconds, by role, sampled from ``/proc``.

Roles: the capture engine, the KCL's JVM, the Python record processors (the daemon's
one-per-shard children), the loader runners (``OWN_STAGES``: what a user runs and pays for in
AWS), the traffic writers (the benchmark's own ``spawn`` children, writing ToteSys's changes),
and the services: the AWS emulation and PostgreSQL, the source cluster (``postgresql``: ToteSys's
writes and the logical decoding) and the warehouse's (``warehouse_postgresql``: the loads), each
its postmaster and every process it started, so another cluster on the machine does not count,
but any other use of these does.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from local_stack.harness.pipeline import Pipeline
from local_stack.services import aws, postgres
from local_stack.services.config import SOURCE, WAREHOUSE
from local_stack.services.processes import children_of, group_members, process_cpu_seconds

ROLES = ("capture", "kcl_jvm", "record_processor", "loader")
OWN_STAGES = ROLES  # the stages that run in AWS as our code (DMS replaces capture there)
SERVICES = ("traffic_writers", "aws_emulation", "postgresql", "warehouse_postgresql")


class Usage:
    """A sampler thread (``with Usage(pipeline): …``): ``peak_mb[role]`` is the largest
    ``VmHWM`` (the kernel's own peak RSS) of any one process of the role; ``cpu_s()`` the CPU
    seconds each role has used since the sampler started (a process seen for the first time
    counts from its first sample, so sample often enough to see short-lived ones)."""

    def __init__(self, pipeline: Pipeline, interval_s: float = 0.5) -> None:
        self.pipeline, self.interval_s = pipeline, interval_s
        self.peak_mb: dict[str, float] = dict.fromkeys(ROLES, 0.0)
        self._first: dict[int, tuple[str, float]] = {}
        self._last: dict[int, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Usage:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def sample(self) -> None:
        for role, pid in self._processes():
            used = process_cpu_seconds(pid)
            with self._lock:
                if used < self._last.get(pid, 0.0):
                    continue  # gone since it was listed
                self._first.setdefault(pid, (role, used))
                self._last[pid] = used
            if role in self.peak_mb and (mb := _vm_hwm_mb(pid)) is not None:
                self.peak_mb[role] = max(self.peak_mb[role], mb)

    def cpu_s(self) -> dict[str, float]:
        """CPU seconds per role (and service) since the sampler started."""
        used = dict.fromkeys((*ROLES, *SERVICES), 0.0)
        with self._lock:
            for pid, (role, first) in self._first.items():
                used[role] += self._last[pid] - first
        return {role: round(s, 1) for role, s in used.items()}

    def _processes(self) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = []
        capture = self.pipeline.capture.proc
        if capture is not None and capture.poll() is None:
            found.append(("capture", capture.pid))
        for name, proc in list(self.pipeline.procs.items()):
            if proc.poll() is not None:
                continue
            if name.startswith("loader"):
                found.append(("loader", proc.pid))
                continue
            for pid in group_members(proc.pid):
                command = _cmdline(pid)
                if Path(command.split(" ", 1)[0]).name == "java":
                    found.append(("kcl_jvm", pid))
                elif "stream_processor.kcl_app" in command:
                    found.append(("record_processor", pid))
        emulation = aws.pid(self.pipeline.cfg)
        if emulation is not None:
            found += [("aws_emulation", pid) for pid in group_members(emulation)]
        found += [("traffic_writers", pid) for pid in _writer_processes()]
        for cluster, role in ((SOURCE, "postgresql"), (WAREHOUSE, "warehouse_postgresql")):
            postmaster = _postmaster_pid(self.pipeline, cluster)
            if postmaster is not None:
                found += [(role, pid) for pid in (postmaster, *children_of(postmaster))]
        return found


def _writer_processes() -> list[int]:
    """This process's ``multiprocessing`` spawn children (``traffic.run_writers``' pool), not
    its resource tracker."""
    return [
        pid
        for pid in children_of(os.getpid())
        if "spawn_main" in (command := _cmdline(pid)) and "resource_tracker" not in command
    ]


def _postmaster_pid(pipeline: Pipeline, cluster: str) -> int | None:
    """A local cluster's postmaster: the first line of its ``postmaster.pid``."""
    try:
        pid_file = postgres.cluster(pipeline.cfg, cluster).data_dir / "postmaster.pid"
        return int(pid_file.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def _vm_hwm_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, UnicodeDecodeError):
        return ""

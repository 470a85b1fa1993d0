"""Starting, polling and stopping the stack's long-running processes.

Readiness is always polled with a deadline and a named check, never assumed after a fixed
sleep; a timeout says what was awaited and where its log is.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


class StackError(RuntimeError):
    """A local-stack operation failed; the message says what and where to look."""


class PrerequisiteMissing(StackError):
    """A tool the stack needs is not installed; the message says what to install."""


def require_executable(name: str, install_hint: str) -> str:
    """Return the path of ``name`` on PATH, or raise with what to install."""
    path = shutil.which(name)
    if path is None:
        raise PrerequisiteMissing(f"'{name}' was not found on PATH: {install_hint}")
    return path


def wait_until(
    check: Callable[[], bool],
    *,
    what: str,
    timeout_s: float,
    log_path: Path | None = None,
    interval_s: float = 0.1,
) -> float:
    """Poll ``check`` until it returns true; return the seconds it took.

    Raises StackError naming ``what`` (and the log to read) once ``timeout_s`` has passed.
    """
    started = time.monotonic()
    deadline = started + timeout_s
    while True:
        if check():
            return time.monotonic() - started
        if time.monotonic() >= deadline:
            where = f"; see {log_path}" if log_path else ""
            raise StackError(f"timed out after {timeout_s:.0f}s waiting for {what}{where}")
        time.sleep(interval_s)


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def read_pid(pid_file: Path) -> int | None:
    """The pid recorded in ``pid_file`` if that process is still alive."""
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def start_detached(
    argv: Sequence[str],
    *,
    log_path: Path,
    pid_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start ``argv`` in its own session (it outlives the caller), logging to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    pid_file.write_text(f"{proc.pid}\n")
    return proc.pid


def stop_process_group(pid: int, *, timeout_s: float = 20.0) -> None:
    """SIGTERM the process group led by ``pid``; SIGKILL it if it outlives ``timeout_s``."""
    for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        try:
            wait_until(lambda: not pid_alive(pid), what=f"pid {pid} to exit", timeout_s=wait_s)
            _reap(pid)
            return
        except StackError:
            continue
    raise StackError(f"process group {pid} survived SIGKILL")


def _reap(pid: int) -> None:
    """Collect the exit status if ``pid`` is our child, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _stat_fields(pid: str) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (field 3 onwards)."""
    try:
        return (Path("/proc") / pid / "stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return None


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of process group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(entry.name)
            if fields and int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


def children_of(ppid: int) -> list[int]:
    """The live (not zombie) processes whose parent is ``ppid``."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(entry.name)
            if fields and int(fields[1]) == ppid and fields[0] != "Z":
                children.append(int(entry.name))
    return children


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) ``pid`` has used so far, with its exited, reaped children's
    (0 once it is gone)."""
    fields = _stat_fields(str(pid))
    if not fields:
        return 0.0
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # fields 14-17


def cpu_seconds(pgid: int) -> float:
    """CPU time used so far by the live processes of group ``pgid`` (``process_cpu_seconds``
    of each). For a benchmark: sample before the group ends."""
    return sum(process_cpu_seconds(pid) for pid in group_members(pgid))

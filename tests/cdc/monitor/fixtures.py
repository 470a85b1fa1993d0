"""What the monitor's tests share: a ``TaskHealth`` to judge and ``cdc monitor`` run as the
operator runs it."""

from __future__ import annotations

import subprocess
import sys

from cdc.monitor.model import TaskHealth


def monitor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cdc.cli", "monitor", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def health(**kw) -> TaskHealth:
    return TaskHealth(
        **{"engine": "local", "task_id": "t", "status": "running", "checked_at": "now", **kw}
    )

"""The container's entry point supervises the daemon: signals passed on, exit status kept."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

# A stand-in daemon: says it is up, then waits; ``handles`` makes SIGTERM a clean exit 7.
CHILD = textwrap.dedent(
    """
    import signal, sys, time
    if sys.argv[1] == "handles":
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(7))
    print("up", flush=True)
    time.sleep(60)
    """
)
SUPERVISOR = (
    "import sys; from stream_processor.daemon import supervise; "
    "sys.exit(supervise([sys.executable, '-c', sys.argv[1], sys.argv[2]]))"
)


@pytest.mark.parametrize(("child", "status"), [("handles", 7), ("dies", 128 + signal.SIGTERM)])
def test_sigterm_reaches_the_daemon_and_its_exit_status_is_the_supervisors(child, status):
    supervisor = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, CHILD, child], stdout=subprocess.PIPE, text=True
    )
    assert supervisor.stdout.readline().strip() == "up"  # the daemon runs
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=20) == status

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


# A stand-in daemon that exits 1 on its first runs (a record processor stopped its shard), as
# counted in a file, then says it is up and waits.
FLAKY = textwrap.dedent(
    """
    import pathlib, sys, time
    runs = pathlib.Path(sys.argv[1])
    n = int(runs.read_text() or 0) + 1 if runs.exists() else 1
    runs.write_text(str(n))
    if n <= int(sys.argv[2]):
        sys.exit(1)
    print("up", n, flush=True)
    time.sleep(60)
    """
)
RESTARTING = (
    "import sys; from stream_processor.daemon import Restarts, supervise; "
    "sys.exit(supervise([sys.executable, '-c', sys.argv[1], sys.argv[2], sys.argv[3]], "
    "restarts=Restarts(first_s=0.1, max_s=0.4)))"
)


def test_a_daemon_that_exits_on_its_own_is_restarted_until_a_signal_stops_it(tmp_path):
    runs = tmp_path / "runs"
    supervisor = subprocess.Popen(
        [sys.executable, "-c", RESTARTING, FLAKY, str(runs), "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert supervisor.stdout.readline().split() == ["up", "4"]  # three exits, three restarts
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=20) == 128 + signal.SIGTERM
    exits = [line for line in supervisor.stderr.read().splitlines() if "daemon_exited" in line]
    assert len(exits) == 3 and '"restart_in_s": 0.4' in exits[-1]  # 0.1, 0.2, 0.4


def test_a_signal_during_the_pause_before_a_restart_stops_at_once(tmp_path):
    supervisor = subprocess.Popen(
        [
            sys.executable,
            "-c",
            RESTARTING.replace("first_s=0.1, max_s=0.4", "first_s=30, max_s=30"),
            FLAKY,
            str(tmp_path / "runs"),
            "1",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert "daemon_exited" in supervisor.stderr.readline()  # now pausing 30 s
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=5) == 128 + signal.SIGTERM
    assert (tmp_path / "runs").read_text() == "1"


def test_a_daemon_that_cannot_start_is_given_up_on_so_ecs_sees_the_task_fail(tmp_path):
    supervisor = subprocess.run(
        [
            sys.executable,
            "-c",
            RESTARTING.replace("max_s=0.4", "max_s=0.4, start_failures=3"),
            FLAKY,
            str(tmp_path / "runs"),
            "99",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert supervisor.returncode == 1
    assert (tmp_path / "runs").read_text() == "3"
    assert '"event": "daemon_cannot_start"' in supervisor.stderr

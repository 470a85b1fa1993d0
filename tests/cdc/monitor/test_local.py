"""``cdc monitor`` against the local capture engine (``cdc.monitor.local``): healthy while it
runs, not once it is stopped or killed."""

from __future__ import annotations

import json

import pytest

from tests.cdc.monitor.fixtures import monitor


@pytest.mark.stack
def test_the_local_engine_is_healthy_while_running_and_not_once_stopped_or_killed(capture):
    env = capture.engine.env
    capture.engine.start()
    capture.engine.wait_running()
    result = monitor(env, "--check", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert (
        report["healthy"] is True and report["status"] == "running" and report["engine"] == "local"
    )
    assert {t["name"] for t in report["tables"]} >= {"payment", "sales_order"}
    assert sum(t["full_load_rows"] for t in report["tables"]) > 0
    table = monitor(env)
    assert table.returncode == 0 and "payment" in table.stdout and "CDC latency" in table.stdout

    capture.engine.kill()
    killed = monitor(env, "--check", "--json")
    assert killed.returncode == 1
    assert "is gone" in json.loads(killed.stdout)["stop_reason"]

    capture.engine.start()
    capture.engine.wait_running()
    capture.engine.stop()
    stopped = monitor(env, "--check")
    assert stopped.returncode == 1 and "task is stopped" in stopped.stdout

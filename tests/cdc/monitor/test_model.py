"""What counts as a problem in a task's health (``cdc.monitor.model.problems``)."""

from __future__ import annotations

from cdc.monitor.model import Thresholds, problems
from tests.cdc.monitor.fixtures import health


def test_a_running_task_within_its_latency_budget_is_healthy():
    assert (
        problems(health(cdc_latency_source_s=2.0, cdc_latency_target_s=3.0), Thresholds(10)) == []
    )


def test_a_slot_holding_back_too_much_wal_is_reported():
    held = health(retained_wal_bytes=3 * 1024 * 1024 * 1024)
    assert problems(held, Thresholds(max_retained_wal_mb=4096)) == []
    [problem] = problems(held, Thresholds(max_retained_wal_mb=1024))
    assert "holds back 3,072 MB of WAL" in problem and "above 1024 MB" in problem


def test_stopped_failed_slow_or_errored_tasks_are_each_reported():
    assert problems(health(status="stopped", stop_reason="user"), Thresholds()) == [
        "task is stopped (user)"
    ]
    found = problems(
        health(
            status="failed",
            last_failure_message="boom",
            tables_errored=2,
            cdc_latency_target_s=99.0,
        ),
        Thresholds(30),
    )
    assert found == [
        "task is failed",
        "last failure: boom",
        "2 table(s) errored",
        "CDC latency (target) 99.0s is above 30s",
    ]

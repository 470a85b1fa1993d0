"""The rule that ends bench.e2e_max's rate steps, without a pipeline."""

from __future__ import annotations

from datetime import datetime, timedelta

from bench.e2e_max import cpu_figures, judge, per_change, thirds_of
from tests.bench.fixtures import STEP_CPU_S


def test_a_step_holds_when_everything_landed_with_p99_under_the_limit():
    assert judge([[0.5] * 100, [0.8] * 100, [1.2] * 100], caught_up=True) == (True, "")


def test_a_step_fails_on_p99_over_the_limit_or_not_caught_up_or_nothing_landed():
    held, why = judge([[1.0] * 90, [1.0] * 5, [9.0] * 5], caught_up=True)
    assert not held and why.startswith("p99 9.00 s")
    assert judge([[1.0] * 10] * 3, caught_up=False)[0] is False
    assert judge([[], [], []], caught_up=True) == (False, "no fact version landed")


def test_a_p99_growing_towards_the_limit_fails_below_it():
    held, why = judge([[1.0] * 100, [2.0] * 100, [3.0] * 100], caught_up=True)
    assert not held and why.startswith("p99 growing") and "6.00 s one window on" in why
    # growing but still low is noise, not saturation
    assert judge([[0.5] * 100, [0.7] * 100, [0.9] * 100], caught_up=True)[0]
    # a 0.24 s rise at a 3 s floor (a measured step) would not reach the limit for minutes
    assert judge([[2.76] * 100, [2.89] * 100, [3.00] * 100], caught_up=True)[0]
    # the same rise near the limit would pass it within a window
    assert not judge([[4.0] * 100, [4.3] * 100, [4.6] * 100], caught_up=True)[0]


def test_a_windows_latencies_are_split_by_third_and_nothing_outside_it_counts():
    start = datetime(2026, 11, 26, 9, 0, 0)
    at = [
        start - timedelta(seconds=1),
        start,
        start + timedelta(seconds=10.5),
        start + timedelta(seconds=29.9),
        start + timedelta(seconds=30),
    ]
    samples = [(t, float(i)) for i, t in enumerate(at)]
    assert thirds_of(samples, start, start + timedelta(seconds=30)) == [[1.0], [2.0], [3.0]]


def _step(rate: float, cpu_s: dict[str, float], changes: int, held: bool = True) -> dict:
    return {"rate": rate, "held": held, "cpu_us_per_change": per_change(cpu_s, changes)}


CPU = STEP_CPU_S


def test_cpu_per_change_is_each_roles_seconds_over_the_changes_with_our_stages_summed():
    us = per_change(CPU, 10_000)
    assert us["record_processor"] == 200.0
    assert us["own_stages"] == 500.0  # capture + JVM + record processors + loaders
    assert us["total"] == 1700.0
    assert per_change(CPU, 0) == {}


def test_the_headline_is_our_stages_at_the_fixed_rate_and_the_daemon_is_set_over_in_process():
    steps = [
        _step(500.0, CPU, 5_000),
        _step(1000.0, CPU, 10_000),
        _step(1500.0, {**CPU, "loader": 3.0}, 15_000, held=False),
    ]
    headline, daemon = cpu_figures(steps, in_process_us=50.0)
    assert headline.name == "e2e_cpu_us_per_change" and headline.value == 500.0
    assert headline.params["own_stages_at_1500"] == 433.3
    assert headline.params["by_step"]["500"]["own_stages"] == 1000.0
    assert headline.ratio == round(150 / 500, 2)  # lower is better: under 1 misses the goal
    # A ratio as the project's other *_ratio figures: the daemon path's µs per change over the
    # in-process µs per record, its 1x the baseline, lower is better, both µs in the params.
    assert daemon.name == "record_processor_daemon_ratio"
    assert daemon.value == 200.0 / 50.0 and daemon.unit.startswith("x ")
    assert daemon.baseline_value == 1.0 and daemon.lower_is_better
    assert daemon.ratio == round(1 / 4.0, 2)
    assert daemon.params["daemon_us_per_change"] == 200.0
    assert daemon.params["in_process_us_per_record"] == 50.0
    assert daemon.params["goal"] == "<= 3"
    assert cpu_figures([_step(500.0, CPU, 5_000)], in_process_us=50.0) == []

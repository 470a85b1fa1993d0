"""The rule that ends bench.e2e_max's rate steps, without a pipeline."""

from __future__ import annotations

from datetime import datetime, timedelta

from bench.e2e_max import judge, thirds_of


def test_a_step_holds_when_everything_landed_with_p99_under_the_limit():
    assert judge([[0.5] * 100, [0.8] * 100, [1.2] * 100], caught_up=True) == (True, "")


def test_a_step_fails_on_p99_over_the_limit_or_not_caught_up_or_nothing_landed():
    held, why = judge([[1.0] * 90, [1.0] * 5, [9.0] * 5], caught_up=True)
    assert not held and why.startswith("p99 9.00 s")
    assert judge([[1.0] * 10] * 3, caught_up=False)[0] is False
    assert judge([[], [], []], caught_up=True) == (False, "no fact version landed")


def test_a_p99_growing_third_by_third_past_half_the_limit_fails_below_the_limit():
    held, why = judge([[1.0] * 100, [2.0] * 100, [3.0] * 100], caught_up=True)
    assert not held and why.startswith("p99 growing")
    # growing but still low is noise, not saturation
    assert judge([[0.5] * 100, [0.7] * 100, [0.9] * 100], caught_up=True)[0]


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

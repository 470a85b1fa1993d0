"""The rule that ends bench.e2e_max's rate steps, without a pipeline."""

from __future__ import annotations

from bench.e2e_max import judge


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

"""The one retry policy: its waits, its bound, its jitter."""

from __future__ import annotations

import pytest

from contracts.retry import Backoff


def test_waits_double_from_the_first_and_stop_at_the_cap():
    backoff = Backoff(first_s=0.1, max_s=0.5)
    assert [backoff.delay(n) for n in range(1, 6)] == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5])


def test_a_bounded_backoff_is_exhausted_after_its_attempts_and_an_unbounded_never():
    bounded = Backoff(first_s=1.0, attempts=3)
    assert [bounded.exhausted(n) for n in (1, 2, 3)] == [False, False, True]
    assert not Backoff(first_s=1.0).exhausted(10**6)
    assert Backoff(first_s=1.0, max_s=5.0).delay(10**6) == 5.0  # no overflow however long


def test_jitter_scales_each_wait_into_its_upper_half():
    backoff = Backoff(first_s=0.4, jitter=True)
    assert backoff.delay(2, rand=lambda: 0.0) == pytest.approx(0.4)
    assert backoff.delay(2, rand=lambda: 0.999) == pytest.approx(0.7996)


@pytest.mark.parametrize(
    "kwargs", [{"first_s": -1.0}, {"first_s": 1.0, "max_s": -1.0}, {"first_s": 1.0, "attempts": 0}]
)
def test_a_nonsensical_policy_is_refused(kwargs):
    with pytest.raises(ValueError, match="backoff"):
        Backoff(**kwargs)


def test_no_wait_comes_before_a_failure():
    with pytest.raises(ValueError, match="failure"):
        Backoff(first_s=1.0).delay(0)

"""The one retry policy: exponential backoff, capped, bounded, with optional jitter.

Every stage's retry loop waits ``Backoff.delay(failures)`` after its n-th failed attempt and
gives up when ``Backoff.exhausted(failures)``: the capture's PutRecords (unbounded, jittered),
the loader's manifest load, the processor's KCL checkpoint and DynamoDB batch reads.

Why a small module and not a library such as tenacity: the policy is a formula (a dozen
lines), and the loops that use it differ in what an attempt is (PutRecords resends only the
records that failed, BatchGetItem only the keys left unprocessed), which a decorator that
re-calls a whole function does not model. The module also ships in the loader's Lambda zip
(``contracts`` does), which stays without a dependency that nothing else needs; nothing in
``constraints.txt`` provides it today.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Wait ``first_s * 2**(n - 1)`` after the n-th failure, at most ``max_s``.

    ``attempts`` bounds the attempts (``None``: retry for ever); ``jitter`` scales each wait by
    a uniform factor in [0.5, 1) so that many clients throttled together do not retry together.
    """

    first_s: float
    max_s: float = math.inf
    attempts: int | None = None
    jitter: bool = False

    def __post_init__(self) -> None:
        if self.first_s < 0 or self.max_s < 0:
            raise ValueError("backoff waits must not be negative")
        if self.attempts is not None and self.attempts < 1:
            raise ValueError("a backoff needs at least one attempt")

    def delay(self, failures: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after ``failures`` failed attempts (1 for the first failure)."""
        if failures < 1:
            raise ValueError("a delay follows at least one failure")
        wait = min(self.max_s, self.first_s * 2 ** min(failures - 1, 64))
        return wait * (0.5 + rand() / 2) if self.jitter else wait

    def exhausted(self, failures: int) -> bool:
        """True when ``failures`` failed attempts leave none to make."""
        return self.attempts is not None and failures >= self.attempts

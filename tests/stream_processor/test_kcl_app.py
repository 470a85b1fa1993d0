"""The KCL checkpoint's retries (``kcl_app.checkpoint``) against a fake checkpointer."""

from __future__ import annotations

from amazon_kclpy import kcl

from contracts.retry import Backoff
from stream_processor import kcl_app


class Checkpointer:
    """Answers each checkpoint with the next of ``errors`` (None: taken)."""

    def __init__(self, *errors: str | None) -> None:
        self.errors = list(errors)
        self.calls: list[str | None] = []

    def checkpoint(self, sequence_number: str | None) -> None:
        self.calls.append(sequence_number)
        failure = self.errors.pop(0) if self.errors else None
        if failure:
            raise kcl.CheckpointError(failure)


def fast(monkeypatch) -> None:
    monkeypatch.setattr(kcl_app, "CHECKPOINT_BACKOFF", Backoff(first_s=0.001, attempts=5))


def test_a_throttled_checkpoint_is_retried_until_taken(monkeypatch):
    fast(monkeypatch)
    checkpointer = Checkpointer("ThrottlingException", "ThrottlingException", None)
    assert kcl_app.checkpoint(checkpointer, "42", "shard-1") is True
    assert checkpointer.calls == ["42", "42", "42"]


def test_throttling_gives_up_after_the_policys_attempts(monkeypatch):
    fast(monkeypatch)
    checkpointer = Checkpointer(*["ThrottlingException"] * 9)
    assert kcl_app.checkpoint(checkpointer, "42", "shard-1") is False
    assert len(checkpointer.calls) == 5


def test_shutdown_and_invalid_state_are_not_retried(monkeypatch):
    fast(monkeypatch)
    for failure in ("ShutdownException", "InvalidStateException"):
        checkpointer = Checkpointer(failure, None)
        assert kcl_app.checkpoint(checkpointer, "42", "shard-1") is False
        assert checkpointer.calls == ["42"]


def test_the_checkpoint_waits_are_one_two_four_eight_seconds():
    assert [kcl_app.CHECKPOINT_BACKOFF.delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert kcl_app.CHECKPOINT_BACKOFF.exhausted(5)

"""A shard's state (``shard_health.state``) from its recorded health and how far behind its
checkpoint the stream is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from stream_processor.shard_health import Health, state


def test_a_shard_s_state_from_its_health_and_how_far_behind_it_is():
    now = datetime.now(UTC)
    committing = Health("s", now - timedelta(seconds=5), None, None, 0)
    stopped = Health("s", now - timedelta(seconds=5), now, "join state unavailable", 2)
    quiet = Health("s", now - timedelta(seconds=600), None, None, 0)
    assert state(stopped, 0, 120) == "ok"  # nothing waits behind its checkpoint
    assert state(stopped, 2_000, 120).startswith("stalled: 2 stop(s)")
    assert state(quiet, 2_000, 120).startswith("stalled: no commit for 600s")
    assert state(committing, 500_000, 120) == "behind"  # a backlog it is catching up
    assert state(committing, 2_000, 120) == "ok"
    assert state(None, 2_000, 120) == "ok"

"""Start-up steps seen in the lease table (the pure part of stream_processor.startup)."""

from __future__ import annotations

from stream_processor.replay import Lease
from stream_processor.startup import Watch


def lease(shard: str, owner: str | None, checkpoint: str = "TRIM_HORIZON") -> Lease:
    return Lease(shard, checkpoint, owner, 1)


def steps(watch: Watch, leases: list[Lease] | None) -> list[tuple]:
    return [(s["step"], s.get("shard")) for s in watch.step(leases)]


def test_each_step_is_reported_once_in_the_order_the_kcl_takes_them():
    w = Watch("me")
    assert steps(w, None) == []  # the daemon has not created its lease table yet
    assert steps(w, []) == [("lease_table_present", None)]
    assert not w.settled([])
    unowned = [lease("shard-0", None), lease("shard-1", None)]
    assert steps(w, unowned) == [("leases_created", None)]
    assert steps(w, unowned) == []
    assert not w.settled(unowned)
    taken = [lease("shard-0", "me"), lease("shard-1", "other")]
    assert steps(w, taken) == [("lease_taken", "shard-0")]
    assert steps(w, taken) == []
    assert not w.settled(taken), "ours has not been checkpointed yet"
    moved = [lease("shard-0", "me", "49"), lease("shard-1", "other")]
    assert steps(w, moved) == [("first_checkpoint", "shard-0")]
    assert steps(w, [lease("shard-0", "me", "50"), lease("shard-1", "other")]) == []
    assert w.settled(moved)


def test_a_lease_lost_and_taken_again_is_reported_each_time():
    w = Watch("me")
    assert steps(w, [lease("shard-0", "me")]) == [
        ("lease_table_present", None),
        ("leases_created", None),
        ("lease_taken", "shard-0"),
    ]
    steps(w, [lease("shard-0", "me", "7")])
    assert steps(w, [lease("shard-0", "other", "7")]) == [("lease_gone", "shard-0")]
    assert steps(w, [lease("shard-0", "me", "9")]) == [("lease_taken", "shard-0")]
    assert steps(w, [lease("shard-0", "me", "12")]) == [("first_checkpoint", "shard-0")]

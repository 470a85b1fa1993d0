"""Shared by the loader tests: a currency row, and manifests written by the real processor
pipeline."""

from __future__ import annotations

import itertools

from contracts.batches import MemoryStore
from stream_processor.config import ProcessorConfig
from stream_processor.join_state.memory import MemoryJoinState
from stream_processor.shard import ShardProcessor
from tests.stream_processor.fixtures import SALE

CURRENCY = {
    "currency_id": 1,
    "currency_code": "GBP",
    "created_at": SALE["created_at"],
    "last_updated": SALE["created_at"],
}
_seq = itertools.count(1)


def manifest(store: MemoryStore, *raws: bytes, state: MemoryJoinState | None = None) -> str:
    """A manifest (and its files) from these records, as the processor writes it."""
    p = ShardProcessor(
        "shardId-000000000000",
        state or MemoryJoinState(),
        store,
        ProcessorConfig(bucket="b", state_table="s"),
    )
    for raw in raws:
        p.process(str(next(_seq)), "k", raw)
    return p.commit(lambda _seq: True).manifest_key

"""Shared by the loader tests: a currency row, manifests written by the real processor
pipeline, and reconcile and repair run on a source and a warehouse DSN."""

from __future__ import annotations

import itertools

import psycopg

from contracts.batches import MemoryStore
from stream_processor.config import ProcessorConfig
from stream_processor.join_state import MemoryJoinState
from stream_processor.shard import ShardProcessor
from tests.stream_processor.fixtures import SALE
from warehouse_loader import reconcile, repair

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


def differences(source: str, warehouse: str) -> int:
    with psycopg.connect(source) as s, psycopg.connect(warehouse) as w:
        return reconcile.reconcile(s, w).differences


def run_repair(source: str, warehouse: str, **kwargs) -> repair.RepairReport:
    with psycopg.connect(source) as s, psycopg.connect(warehouse, autocommit=True) as w:
        return repair.repair(s, w, **kwargs)

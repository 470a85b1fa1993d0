"""processor_records_per_s: Contract A records through decode + transform + micro-batch +
parquet write, in one process, against the old batch ETL's way in the same run.

Input: the simulator's dataset as DMS ``load`` records, then updates of its orders and
payments, encoded with the capture engine's own encoder. Output: parquet files and manifests in
memory (the object store is the only part swapped; S3 latency is not the processor's).
Baseline ``pandas_per_record``: each record becomes a one-row pandas DataFrame that is
transformed (timestamps split, text dates parsed) and concatenated per table, then written
to parquet, the way the batch ETL this project replaces handled rows.
"""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from bench.results import Figure
from cdc.capture.records import TransactionPosition, data_record, pg_text, table_def
from cdc.simulator import dataset
from contracts.batches import MemoryStore
from contracts.change_records import SOURCE_TABLES
from local_stack.config import StackConfig
from stream_processor.config import ProcessorConfig
from stream_processor.join_state import MemoryJoinState
from stream_processor.shard import ShardProcessor

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def records(count: int) -> list[bytes]:
    """``count`` Contract A records: the dataset's rows as loads, then order/payment updates."""
    data = dataset.generate(11)
    defs = {t: table_def(t) for t in SOURCE_TABLES}
    out: list[bytes] = []
    for table, rows in data.tables.items():
        for row in rows:
            out.append(
                data_record(
                    defs[table],
                    "load",
                    [pg_text(row.get(c.name)) for c in defs[table].columns],
                    now=NOW,
                ).data
            )
    commit = 0x1000
    hot = data.tables["payment"] + data.tables["sales_order"]
    while len(out) < count:
        for row in hot:
            table = "payment" if "payment_id" in row else "sales_order"
            commit += 64
            position = TransactionPosition(
                xid=commit,
                record_id=1,
                commit_lsn=commit,
                change_lsn=commit - 8,
                commit_time=NOW,
                previous=None,
            )
            out.append(
                data_record(
                    defs[table],
                    "update",
                    [pg_text(row.get(c.name)) for c in defs[table].columns],
                    now=NOW,
                    position=position,
                ).data
            )
            if len(out) >= count:
                break
    return out[:count]


def run_pipeline(batch: list[bytes]) -> float:
    cfg = ProcessorConfig(
        bucket="bench", state_table="bench", max_batch_rows=20_000, max_batch_age_s=3600
    )
    shard = ShardProcessor("shardId-000000000000", MemoryJoinState(), MemoryStore(), cfg)
    started = time.perf_counter()
    for i, raw in enumerate(batch, start=1):
        shard.process(str(i), "k", raw)
        if shard.due():
            shard.commit(lambda _seq: True)
    shard.commit(lambda _seq: True)
    elapsed = time.perf_counter() - started
    assert shard.metrics.dead_letters == 0
    return len(batch) / elapsed


def run_pandas_per_record(batch: list[bytes]) -> float:
    started = time.perf_counter()
    frames: dict[str, list[pd.DataFrame]] = {}
    for raw in batch:
        body = json.loads(raw)
        frame = pd.DataFrame([body["data"]])
        for column in ("created_at", "last_updated"):
            stamp = pd.to_datetime(frame[column])
            frame[column.replace("_at", "") + "_date"] = stamp.dt.date
            frame[column.replace("_at", "") + "_time"] = stamp.dt.time
        for column in frame.columns:
            if column.startswith("agreed_") or column == "payment_date":
                frame[column] = pd.to_datetime(frame[column]).dt.date
        frame["cdc_operation"] = body["metadata"]["operation"]
        frames.setdefault(body["metadata"]["table-name"], []).append(frame)
    for parts in frames.values():
        table = pd.concat(parts, ignore_index=True)
        table.astype(str).to_parquet(io.BytesIO())
    return len(batch) / (time.perf_counter() - started)


def run(cfg: StackConfig, work: Path, *, quick: bool) -> list[Figure]:
    count, baseline_count = (40_000, 2_000) if quick else (200_000, 5_000)
    batch = records(count)
    run_pipeline(batch[:5_000])  # warm caches (pycountry, imports) before timing
    value = run_pipeline(batch)
    baseline = run_pandas_per_record(batch[:baseline_count])
    return [
        Figure(
            name="processor_records_per_s",
            value=round(value, 1),
            unit="records/s",
            baseline="pandas_per_record",
            baseline_value=round(baseline, 1),
            params={"records": count, "baseline_records": baseline_count, "processes": 1},
        )
    ]

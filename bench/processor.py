"""processor_records_per_s and processor_ceiling_ratio: Contract A records through decode +
transform + micro-batch + parquet write, in one process, against the old batch ETL's way and
against a floor, both in the same run.

Input: the simulator's dataset as DMS ``load`` records, then updates of its orders and
payments, encoded with the capture engine's own encoder. Output: parquet files and manifests in
memory (the object store is the only part swapped; S3 latency is not the processor's).
Baseline ``pandas_per_record``: each record becomes a one-row pandas DataFrame that is
transformed (timestamps split, text dates parsed) and concatenated per table, then written
to parquet, the way the batch ETL this project replaces handled rows.

Floor (``processor_ceiling_ratio``): the least any processor of these records must do, timed on
the same records: ``orjson.loads`` of each record (the fastest decoder at hand, the one the
processor itself uses: with the standard library's, ~3x slower, the floor would flatter the
ratio), and the very rows the
processor wrote, already typed (read back from its own files before timing, as Python values
per column), turned into Arrow tables with the same explicit schemas and written as parquet
with the same compression, one file per file the processor wrote. No validation, no
transformation, no batching. The ratio is the processor's time over the floor's: machine noise
moves both alike, so it holds where records/s swing by 2x from hour to hour.
"""

from __future__ import annotations

import io
import json
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bench.results import Figure
from cdc.capture.records import TransactionPosition, data_record, pg_text, table_def
from cdc.simulator import dataset
from contracts.batches import Manifest, MemoryStore
from contracts.change_records import SOURCE_TABLES
from contracts.star_schema import schema_of
from local_stack.services.config import StackConfig
from stream_processor.config import ProcessorConfig
from stream_processor.join_state.memory import MemoryJoinState
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


CONFIG = ProcessorConfig(
    bucket="bench", state_table="bench", max_batch_rows=20_000, max_batch_age_s=3600
)
Columns = dict[str, list[Any]]


def run_pipeline(batch: list[bytes]) -> tuple[float, MemoryStore]:
    """Seconds to process ``batch`` one record at a time, committing whenever a batch is due;
    and the store the files and manifests went to."""
    store = MemoryStore()
    shard = ShardProcessor("shardId-000000000000", MemoryJoinState(), store, CONFIG)
    started = time.perf_counter()
    for i, raw in enumerate(batch, start=1):
        shard.process(str(i), "k", raw)
        if shard.due():
            shard.commit(lambda _seq: True)
    shard.commit(lambda _seq: True)
    elapsed = time.perf_counter() - started
    assert shard.metrics.dead_letters == 0
    return elapsed, store


def written_rows(store: MemoryStore) -> list[tuple[str, Columns]]:
    """Every file the processor wrote, in manifest order: its table and its rows as typed
    Python values per column (what the floor writes again)."""
    files = []
    for key in store.keys("manifests/"):
        for f in Manifest.from_json(store.get(key)).files:
            files.append((f.table, pq.read_table(io.BytesIO(store.get(f.key))).to_pydict()))
    return files


def run_floor(batch: list[bytes], files: list[tuple[str, Columns]]) -> tuple[float, float]:
    """Seconds to ``orjson.loads`` every record, and to write ``files`` as parquet (Arrow tables
    with the tables' explicit schemas, the processor's compression)."""
    started = time.perf_counter()
    for raw in batch:
        orjson.loads(raw)
    parsed = time.perf_counter()
    for table, columns in files:
        arrow = pa.Table.from_pydict(columns, schema=schema_of(table))
        pq.write_table(arrow, io.BytesIO(), compression=CONFIG.compression)
    return parsed - started, time.perf_counter() - parsed


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
    rounds = 3
    batch = records(count)
    run_pipeline(batch[:5_000])  # warm caches (pycountry, imports) before timing
    processor_s, floor_s, json_s, parquet_s = [], [], [], []
    for _ in range(rounds):  # the processor and its floor back to back, each round
        elapsed, store = run_pipeline(batch)
        loads, write = run_floor(batch, written_rows(store))
        processor_s.append(elapsed)
        floor_s.append(loads + write)
        json_s.append(loads)
        parquet_s.append(write)
    ratios = [p / f for p, f in zip(processor_s, floor_s, strict=True)]
    processor = statistics.median(processor_s)
    baseline = run_pandas_per_record(batch[:baseline_count])
    return [
        Figure(
            name="processor_records_per_s",
            value=round(count / processor, 1),
            unit="records/s",
            baseline="pandas_per_record",
            baseline_value=round(baseline, 1),
            params={
                "records": count,
                "baseline_records": baseline_count,
                "processes": 1,
                "rounds": rounds,
            },
        ),
        Figure(
            name="processor_ceiling_ratio",
            value=round(statistics.median(ratios), 2),
            unit="x the floor's time",
            baseline="floor_orjson_loads_and_parquet",
            baseline_value=1.0,
            lower_is_better=True,
            params={
                "records": count,
                "goal": "<= 2",
                "rounds": rounds,
                "processor_s": round(processor, 3),
                "floor_s": round(statistics.median(floor_s), 3),
                "floor_orjson_loads_s": round(statistics.median(json_s), 3),
                "floor_arrow_parquet_s": round(statistics.median(parquet_s), 3),
                "ratios": [round(r, 2) for r in ratios],
            },
        ),
    ]

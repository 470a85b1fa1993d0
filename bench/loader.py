"""loader_fact_rows_per_s and loader_dim_rows_per_s: manifests loaded into the warehouse.

Facts: one manifest of 100,000 fact_payment rows (versions of 3,500 payments). Dimensions: a
manifest of 50,000 dim_transaction rows, half of them newer versions of rows already loaded
(updates), half new. Each load is the real one transaction: COPY to staging, inferred members,
dim_date, version-guarded merge, ledger row. References, same run, same rows: the old batch
ETL's pandas ``to_sql`` into an empty table, and plain ``COPY`` into an empty table (the
practical ceiling).
"""

from __future__ import annotations

import time
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pyarrow as pa
import sqlalchemy
from psycopg import sql

from bench.results import Figure
from contracts.batches import MemoryStore
from contracts.star_schema import schema_of
from local_stack import postgres
from local_stack.config import StackConfig
from stream_processor.batch import Batch, write_files, write_manifest
from stream_processor.transform import OutRow
from warehouse_loader import migrations
from warehouse_loader.load import load_manifest, to_csv

T0 = datetime(2026, 6, 1, 9, 0, 0)


def fact_rows(count: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(count):
        stamp = T0 + timedelta(minutes=i)
        rows.append(
            {
                "payment_id": i % 3500 + 1,
                "created_date": T0.date(),
                "created_time": T0.time(),
                "last_updated_date": stamp.date(),
                "last_updated_time": stamp.time(),
                "transaction_id": i % 3500 + 1,
                "counterparty_id": i % 20 + 1,
                "payment_amount": Decimal("1234.50"),
                "currency_id": i % 3 + 1,
                "payment_type_id": i % 4 + 1,
                "paid": i % 2 == 0,
                "payment_date": date(2026, 6, 3),
                "cdc_version": Decimal(i + 1),
                "cdc_operation": "update",
                "cdc_is_deleted": False,
                "cdc_source_updated_at": stamp,
            }
        )
    return rows


def dim_rows(keys: range, version: int) -> list[dict[str, Any]]:
    return [
        {
            "transaction_id": k,
            "transaction_type": "SALE",
            "sales_order_id": k,
            "purchase_order_id": None,
            "cdc_version": Decimal(version),
            "cdc_is_deleted": False,
            "cdc_source_updated_at": T0,
        }
        for k in keys
    ]


def manifest(store: MemoryStore, table: str, rows: list[dict[str, Any]]) -> str:
    batch = Batch(f"shardId-{uuid.uuid4().hex[:12]}")
    for i, row in enumerate(rows, start=1):
        batch.add_record(str(i), [OutRow(table, row)])
    return write_manifest(batch, write_files(batch, store), store)


def _timed_load(dsn: str, store: MemoryStore, key: str) -> float:
    with psycopg.connect(dsn, autocommit=True) as conn:
        started = time.perf_counter()
        load_manifest(conn, store, key)
        return time.perf_counter() - started


def _empty_copy_of(conn: psycopg.Connection, table: str) -> str:
    name = f"ref_{table}_{uuid.uuid4().hex[:6]}"
    conn.execute(
        sql.SQL("CREATE TABLE {} AS SELECT {} FROM {} WITH NO DATA").format(
            sql.Identifier(name),
            sql.SQL(", ").join(map(sql.Identifier, schema_of(table).names)),
            sql.Identifier(table),
        )
    )
    return name


def plain_copy(dsn: str, table: str, rows: list[dict[str, Any]]) -> float:
    """The ceiling: the same rows, serialised the loader's way (CSV from Arrow), COPYed into an
    empty table with no keys, no staging and no merge."""
    data = pa.Table.from_pylist(rows, schema=schema_of(table))
    with psycopg.connect(dsn, autocommit=True) as conn:
        target = _empty_copy_of(conn, table)
        started = time.perf_counter()
        with (
            conn.transaction(),
            conn.cursor().copy(
                sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
                    sql.Identifier(target),
                    sql.SQL(", ").join(map(sql.Identifier, data.column_names)),
                )
            ) as copy,
        ):
            copy.write(to_csv(data))
        return len(rows) / (time.perf_counter() - started)


def pandas_to_sql(dsn: str, table: str, rows: list[dict[str, Any]]) -> float:
    target = f"ref_pandas_{table}_{uuid.uuid4().hex[:6]}"  # pandas creates it, as the old ETL did
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    engine = sqlalchemy.create_engine(
        f"postgresql+psycopg://{params['user']}@{params['host']}:{params['port']}/{params['dbname']}"
    )
    frame = pd.DataFrame(rows)
    for column in frame.columns:  # pandas has no decimal dtype: the old ETL wrote floats
        if isinstance(rows[0][column], Decimal):
            frame[column] = frame[column].astype(float)
    started = time.perf_counter()
    frame.to_sql(target, engine, if_exists="append", index=False)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return len(rows) / elapsed


def run(cfg: StackConfig, work: Path, *, quick: bool) -> list[Figure]:
    facts, dims = (20_000, 10_000) if quick else (100_000, 50_000)
    name = f"bench_loader_{uuid.uuid4().hex[:8]}"
    dsn = postgres.create_database(cfg, name)
    try:
        with psycopg.connect(dsn) as conn:
            migrations.apply(conn)
        store = MemoryStore()
        rows = fact_rows(facts)
        fact_value = facts / _timed_load(dsn, store, manifest(store, "fact_payment", rows))
        fact_copy, fact_pandas = (
            plain_copy(dsn, "fact_payment", rows),
            pandas_to_sql(dsn, "fact_payment", rows),
        )

        _timed_load(
            dsn, store, manifest(store, "dim_transaction", dim_rows(range(1, dims // 2 + 1), 1))
        )
        mixed = dim_rows(
            range(1, dims + 1), 2
        )  # first half: updates of loaded rows; second half: new rows
        dim_value = dims / _timed_load(dsn, store, manifest(store, "dim_transaction", mixed))
        dim_copy, dim_pandas = (
            plain_copy(dsn, "dim_transaction", mixed),
            pandas_to_sql(dsn, "dim_transaction", mixed),
        )
    finally:
        postgres.drop_database(cfg, name)
    return [
        Figure(
            "loader_fact_rows_per_s",
            round(fact_value, 1),
            "rows/s",
            "pandas_to_sql",
            round(fact_pandas, 1),
            {
                "rows": facts,
                "plain_copy_rows_per_s": round(fact_copy, 1),
                "fraction_of_plain_copy": round(fact_value / fact_copy, 2),
            },
        ),
        Figure(
            "loader_dim_rows_per_s",
            round(dim_value, 1),
            "rows/s",
            "pandas_to_sql",
            round(dim_pandas, 1),
            {
                "rows": dims,
                "updates": dims // 2,
                "plain_copy_rows_per_s": round(dim_copy, 1),
                "fraction_of_plain_copy": round(dim_value / dim_copy, 2),
            },
        ),
    ]

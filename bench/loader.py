"""loader_fact_rows_per_s, loader_dim_rows_per_s and their ceiling ratios: manifests loaded
into the warehouse.

Facts: one manifest of 100,000 fact_payment rows (versions of 3,500 payments). Dimensions: a
manifest of 50,000 dim_transaction rows, half of them newer versions of rows already loaded
(updates), half new. Each load is the real one transaction: the manifest's parquet read, COPY
to staging, inferred members, dim_date, version-guarded merge, ledger row.

References, same run, same rows:
- the ceilings (``loader_*_ceiling_ratio``: the load's time over theirs, goal <= 1.5):
  facts, COPY straight into an empty table with the same columns and the same
  ``(key, cdc_version)`` unique index, the least an append can cost; dimensions, COPY into a
  staging table, a plain ``UPDATE … FROM staging`` and ``INSERT … SELECT`` into a table with
  the same primary key already holding the first half. Both serialise the rows as the loader
  does (CSV from Arrow) and run in one transaction. Each round runs the load and its ceiling
  back to back on a fresh warehouse; the figures are medians of three rounds.
- the history floor (``loader_dim_history_floor_ratio``: its time over the dimension
  ceiling's): the ceiling's two statements into two such tables in one transaction, the
  least any design that keeps the history apart from the current rows writes here (each
  key's current row, and its open history row extended or made), whatever the history's
  storage. ``load_over_floor`` is the history load's time over it; ``history_off_ratios``
  (``loader_dim_ceiling_ratio``'s) the same dimension load with history off over the
  ceiling, on a fresh warehouse of its own in the same round.
- the old batch ETL's pandas ``to_sql`` into an empty table (the rows/s figures' baseline).
"""

from __future__ import annotations

import statistics
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
from contracts.star_schema import schema_of, spec
from local_stack.services import postgres
from local_stack.services.config import WAREHOUSE, StackConfig
from stream_processor.batch import Batch, encode_files, put_files, write_manifest
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
    return write_manifest(batch, put_files(batch, encode_files(batch)[0], store), store)


def _timed_load(dsn: str, store: MemoryStore, key: str, *, history: bool = True) -> float:
    with psycopg.connect(dsn, autocommit=True) as conn:
        started = time.perf_counter()
        load_manifest(conn, store, key, history=history)
        return time.perf_counter() - started


def _dim_load_without_history(
    cfg: StackConfig, loaded: list[dict[str, Any]], mixed: list[dict[str, Any]]
) -> float:
    """The dimension load of a round with history off (``TOTESYS_CDC_HISTORY=off``), on a
    fresh warehouse holding the same first half: the merge's share of the load; seconds."""
    name, dsn = _fresh_warehouse(cfg)
    try:
        store = MemoryStore()
        _timed_load(dsn, store, manifest(store, "dim_transaction", loaded), history=False)
        return _timed_load(dsn, store, manifest(store, "dim_transaction", mixed), history=False)
    finally:
        postgres.drop_database(cfg, name)


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


def _copy(conn: psycopg.Connection, target: str, data: pa.Table) -> None:
    """The rows, serialised the loader's way (CSV from Arrow), COPYed into ``target``."""
    with conn.cursor().copy(
        sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
            sql.Identifier(target), sql.SQL(", ").join(map(sql.Identifier, data.column_names))
        )
    ) as copy:
        copy.write(to_csv(data))


def fact_ceiling(dsn: str, table: str, rows: list[dict[str, Any]]) -> float:
    """Seconds to COPY the rows straight into an empty table with the same columns and the
    same ``(key, cdc_version)`` unique index: the true ceiling for an append."""
    table_spec, data = spec(table), pa.Table.from_pylist(rows, schema=schema_of(table))
    with psycopg.connect(dsn, autocommit=True) as conn:
        target = _empty_copy_of(conn, table)
        conn.execute(
            sql.SQL("CREATE UNIQUE INDEX ON {} ({}, cdc_version)").format(
                sql.Identifier(target), sql.Identifier(table_spec.key)
            )
        )
        started = time.perf_counter()
        with conn.transaction():
            _copy(conn, target, data)
        return time.perf_counter() - started


def dim_ceiling(
    dsn: str,
    table: str,
    loaded: list[dict[str, Any]],
    rows: list[dict[str, Any]],
    *,
    copies: int = 1,
) -> float:
    """Seconds for the plainest upsert of ``rows`` into a table already holding ``loaded``,
    with the same columns and primary key: COPY into a temporary staging table, ``UPDATE …
    FROM staging`` the keys present, ``INSERT … SELECT`` the others. No version guard, no
    ledger, no inferred members.

    ``copies=2``: the same two statements into a second such table as well, in the same
    transaction (one staging COPY): the **history floor**, the least any design keeping a
    dimension's history apart from its current rows writes for these rows, whatever its
    shape: every key's current row, and its open history row extended (an update) or made
    (an insert)."""
    table_spec, schema = spec(table), schema_of(table)
    columns = [c for c in schema.names if c != table_spec.key]
    with psycopg.connect(dsn, autocommit=True) as conn:
        targets = [_empty_copy_of(conn, table) for _ in range(copies)]
        for target in targets:
            conn.execute(
                sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(
                    sql.Identifier(target), sql.Identifier(table_spec.key)
                )
            )
            with conn.transaction():
                _copy(conn, target, pa.Table.from_pylist(loaded, schema=schema))
        data = pa.Table.from_pylist(rows, schema=schema)
        common = {
            "key": sql.Identifier(table_spec.key),
            "columns": sql.SQL(", ").join(map(sql.Identifier, columns)),
            "values": sql.SQL(", ").join(sql.Identifier("s", c) for c in columns),
        }
        started = time.perf_counter()
        with conn.transaction():
            conn.execute(
                sql.SQL("CREATE TEMPORARY TABLE staging (LIKE {target}) ON COMMIT DROP").format(
                    target=sql.Identifier(targets[0])
                )
            )
            _copy(conn, "staging", data)
            for target in map(sql.Identifier, targets):
                conn.execute(
                    sql.SQL(
                        "UPDATE {target} AS t SET ({columns}) = ({values}) FROM staging AS s "
                        "WHERE t.{key} = s.{key}"
                    ).format(target=target, **common)
                )
                conn.execute(
                    sql.SQL(
                        "INSERT INTO {target} SELECT * FROM staging AS s WHERE NOT EXISTS "
                        "(SELECT FROM {target} AS t WHERE t.{key} = s.{key})"
                    ).format(target=target, **common)
                )
        return time.perf_counter() - started


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


def _fresh_warehouse(cfg: StackConfig) -> tuple[str, str]:
    name = f"bench_loader_{uuid.uuid4().hex[:8]}"
    dsn = postgres.create_database(cfg, name, cluster=WAREHOUSE)
    with psycopg.connect(dsn) as conn:
        migrations.apply(conn)
    return name, dsn


def _as_loader_role(cfg: StackConfig, store: MemoryStore, key: str) -> float:
    """The same load as the loader's role on a warehouse set up as the stack sets one up
    (owner migrates, loader loads): the role may not set session_replication_role, so the
    foreign keys are checked, deferred to the end of the load; seconds."""
    name = f"bench_loader_role_{uuid.uuid4().hex[:8]}"
    postgres.create_warehouse_database(cfg, name)
    try:
        dsns = cfg.warehouse_dsns(name)
        with psycopg.connect(dsns["TOTESYS_CDC_WAREHOUSE_OWNER_DSN"]) as conn:
            migrations.apply(conn)
        return _timed_load(dsns["TOTESYS_CDC_WAREHOUSE_DSN"], store, key)
    finally:
        postgres.drop_database(cfg, name)


def _round(cfg: StackConfig, facts: list[dict[str, Any]], dims: int) -> dict[str, float]:
    """One round on a fresh warehouse: the loader's fact and dimension loads, then their
    ceilings on the same rows; seconds each. The fact load again as the loader's role,
    back to back (the foreign keys checked)."""
    name, dsn = _fresh_warehouse(cfg)
    try:
        store = MemoryStore()
        fact_key = manifest(store, "fact_payment", facts)
        fact_s = _timed_load(dsn, store, fact_key)
        fact_role_s = _as_loader_role(cfg, store, fact_key)
        fact_ceiling_s = fact_ceiling(dsn, "fact_payment", facts)
        loaded = dim_rows(range(1, dims // 2 + 1), 1)
        _timed_load(dsn, store, manifest(store, "dim_transaction", loaded))
        # first half: updates of loaded rows; second half: new rows
        mixed = dim_rows(range(1, dims + 1), 2)
        dim_s = _timed_load(dsn, store, manifest(store, "dim_transaction", mixed))
        dim_ceiling_s = dim_ceiling(dsn, "dim_transaction", loaded, mixed)
        dim_floor_s = dim_ceiling(dsn, "dim_transaction", loaded, mixed, copies=2)
    finally:
        postgres.drop_database(cfg, name)
    dim_off_s = _dim_load_without_history(cfg, loaded, mixed)
    return {
        "fact": fact_s,
        "fact_role": fact_role_s,
        "fact_ceiling": fact_ceiling_s,
        "dim": dim_s,
        "dim_ceiling": dim_ceiling_s,
        "dim_floor": dim_floor_s,
        "dim_off": dim_off_s,
    }


def run(cfg: StackConfig, work: Path, *, quick: bool) -> list[Figure]:
    """Each round on a fresh warehouse, the load and its ceiling back to back; medians."""
    facts, dims = (20_000, 10_000) if quick else (100_000, 50_000)
    rounds = 3
    rows = fact_rows(facts)
    measured = [_round(cfg, rows, dims) for _ in range(rounds)]
    name, dsn = _fresh_warehouse(cfg)
    try:
        fact_pandas = pandas_to_sql(dsn, "fact_payment", rows)
        dim_pandas = pandas_to_sql(dsn, "dim_transaction", dim_rows(range(1, dims + 1), 2))
    finally:
        postgres.drop_database(cfg, name)

    def median(what: str) -> float:
        return statistics.median(m[what] for m in measured)

    def ratios(what: str) -> list[float]:
        return [round(m[what] / m[f"{what}_ceiling"], 2) for m in measured]

    def over_dim_ceiling(what: str) -> list[float]:
        return [round(m[what] / m["dim_ceiling"], 2) for m in measured]

    fact_s, dim_s = median("fact"), median("dim")
    return [
        Figure(
            "loader_fact_rows_per_s",
            round(facts / fact_s, 1),
            "rows/s",
            "pandas_to_sql",
            round(fact_pandas, 1),
            {"rows": facts, "rounds": rounds},
        ),
        Figure(
            "loader_fact_rows_per_s_as_loader_role",
            round(facts / median("fact_role"), 1),
            "rows/s",
            "superuser_fk_checks_skipped",
            round(facts / fact_s, 1),
            {"rows": facts, "rounds": rounds, "fk_checks": "deferred to the load's end"},
        ),
        Figure(
            "loader_dim_rows_per_s",
            round(dims / dim_s, 1),
            "rows/s",
            "pandas_to_sql",
            round(dim_pandas, 1),
            {"rows": dims, "updates": dims // 2, "rounds": rounds},
        ),
        Figure(
            "loader_fact_ceiling_ratio",
            statistics.median(ratios("fact")),
            "x the ceiling's time",
            "copy_into_table_with_key_version_index",
            1.0,
            {
                "rows": facts,
                "goal": "<= 1.5",
                "load_s": round(fact_s, 3),
                "ceiling_s": round(median("fact_ceiling"), 3),
                "ceiling_rows_per_s": round(facts / median("fact_ceiling"), 1),
                "ratios": ratios("fact"),
            },
            lower_is_better=True,
        ),
        Figure(
            "loader_dim_ceiling_ratio",
            statistics.median(ratios("dim")),
            "x the ceiling's time",
            "copy_staging_update_from_insert_select",
            1.0,
            {
                "rows": dims,
                "updates": dims // 2,
                "goal": "<= 1.5",
                "load_s": round(dim_s, 3),
                "ceiling_s": round(median("dim_ceiling"), 3),
                "ceiling_rows_per_s": round(dims / median("dim_ceiling"), 1),
                "ratios": ratios("dim"),
                "history_off_ratios": over_dim_ceiling("dim_off"),
            },
            lower_is_better=True,
        ),
        Figure(
            "loader_dim_history_floor_ratio",
            statistics.median(over_dim_ceiling("dim_floor")),
            "x the ceiling's time",
            "copy_staging_update_from_insert_select",
            1.0,
            {
                "rows": dims,
                "updates": dims // 2,
                "floor": "the ceiling's UPDATE and INSERT into two keyed tables, one COPY",
                "floor_s": round(median("dim_floor"), 3),
                "load_over_floor": statistics.median(
                    round(m["dim"] / m["dim_floor"], 2) for m in measured
                ),
                "ratios": over_dim_ceiling("dim_floor"),
            },
            lower_is_better=True,
        ),
    ]

"""Loading one manifest: one PostgreSQL transaction, in order:

1. claim the manifest in the load ledger by (key, generation): one already there is skipped
   (a redelivery, a replay by the same generation); a replay by a newer generation loads;
2. per file: COPY into a staging table, then merge (``merge_sql``), dimensions before facts
   (dim_date rows and inferred members for what the facts reference, then the facts);
3. record what was loaded in the ledger row, and commit.

Anything wrong with the manifest or a file (missing, corrupt, schema mismatch) raises
``BadBatch`` before commit: nothing of that manifest lands.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from contracts.batches import Manifest, ManifestError, ObjectMissing, ObjectStore
from contracts.star_schema import PUBLISHED, schema_of
from warehouse_loader import merge_sql
from warehouse_loader.errors import BadBatch


@dataclass
class LoadResult:
    manifest_key: str
    skipped: bool
    generation: int = 1
    staged: dict[str, int] = field(default_factory=dict)
    inserted: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    duration_ms: float = 0.0

    def to_log(self) -> dict[str, Any]:
        return {
            "manifest": self.manifest_key,
            "generation": self.generation,
            "skipped": self.skipped,
            "staged": self.staged,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": {
                t: n - self.inserted.get(t, 0) - self.updated.get(t, 0)
                for t, n in self.staged.items()
            },
            "duration_ms": self.duration_ms,
        }


def _order(table: str) -> tuple[int, str]:
    """Dimensions, then facts."""
    return (1 if table.startswith("dim_") else 2, table)


def read_manifest(store: ObjectStore, key: str) -> Manifest:
    try:
        body = store.get(key)
    except ObjectMissing:
        raise BadBatch(f"cannot read manifest {key}: no such object") from None
    try:
        return Manifest.from_json(body)
    except ManifestError as exc:
        raise BadBatch(f"manifest {key}: {exc}") from None


def read_file(store: ObjectStore, table: str, key: str) -> pa.Table:
    if table not in PUBLISHED:
        raise BadBatch(f"unknown table {table!r} in a manifest")
    try:
        data = pq.read_table(io.BytesIO(store.get(key)))
    except ObjectMissing:
        raise BadBatch(f"cannot read {key}: no such object") from None
    except (pa.ArrowException, OSError) as exc:  # not parquet, or a corrupt file
        raise BadBatch(f"cannot read {key}: {type(exc).__name__}: {exc}") from None
    if not data.schema.equals(schema_of(table), check_metadata=False):
        raise BadBatch(f"{key} does not have the published {table} schema")
    return data


def to_csv(data: pa.Table) -> bytes:
    """Arrow rows as COPY's CSV (NULL: unquoted empty; empty string: quoted)."""
    out = io.BytesIO()
    pa_csv.write_csv(data, out, pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    return out.getvalue()


def _skip_row_by_row_fk_checks(conn: psycopg.Connection) -> None:
    """Foreign keys stay declared, but a load does not pay PostgreSQL's per-row check of each
    (about 0.5 s per 20,000 facts with 8 references): every key a fact references is made to
    exist in this same transaction (inferred members, dim_date), which is what the check would
    prove. Needs the right to set session_replication_role (superuser, rds_superuser on RDS);
    without it the checks simply run (deferred to commit, so load order does not matter)."""
    try:
        with conn.transaction():  # a savepoint: a refusal leaves the load's transaction usable
            conn.execute("SET LOCAL session_replication_role = replica")
    except psycopg.errors.InsufficientPrivilege:
        conn.execute("SET CONSTRAINTS ALL DEFERRED")


def _distinct(data: pa.Table, columns: tuple[str, ...] | list[str]) -> list[Any]:
    values = pa.chunked_array(
        [chunk for c in columns for chunk in data.column(c).chunks],
        type=data.column(columns[0]).type,
    )
    return pc.unique(values.drop_null()).to_pylist()


def _ensure_referenced_rows(
    conn: psycopg.Connection, p: merge_sql.TablePlan, data: pa.Table
) -> None:
    """dim_date rows and inferred dimension members for every value the facts reference."""
    dates = _distinct(data, p.date_columns)
    if dates:
        conn.execute(merge_sql.ensure_dates(), (dates,))
    for column, statement in merge_sql.inferred_members(p).items():
        keys = _distinct(data, [column])
        if keys:
            conn.execute(statement, (keys,))


def _insert_facts(
    conn: psycopg.Connection, p: merge_sql.TablePlan, generation: int
) -> tuple[int, int]:
    """(rows inserted, rows written): all of them in one plain INSERT when no version is in
    the warehouse yet, else (the unique index refused it) each new (key, version) once, and
    each stored one replaced only by a newer generation, with ON CONFLICT."""
    params = {"generation": generation}
    try:
        with conn.transaction():  # a savepoint: a refusal undoes the attempt only
            inserted = conn.execute(merge_sql.insert_all(p), params).rowcount
            return inserted, inserted
    except psycopg.errors.UniqueViolation:
        return conn.execute(merge_sql.merge_counted(p), params).fetchone()


def load_manifest(
    conn: psycopg.Connection, store: ObjectStore, manifest_key: str, etag: str | None = None
) -> LoadResult:
    """Read a manifest and its files (``BadBatch`` if anything is wrong) and load them."""
    started = time.monotonic()
    manifest = read_manifest(store, manifest_key)
    tables = {f.table: read_file(store, f.table, f.key) for f in manifest.files}
    return load_tables(
        conn,
        tables,
        ledger_key=manifest_key,
        generation=manifest.generation,
        shard_id=manifest.shard_id,
        records=manifest.records,
        etag=etag,
        started=started,
    )


def load_tables(
    conn: psycopg.Connection,
    tables: dict[str, pa.Table],
    *,
    ledger_key: str,
    generation: int,
    shard_id: str,
    records: int,
    etag: str | None = None,
    started: float | None = None,
) -> LoadResult:
    """Load rows of published tables (each in its Arrow schema) in one transaction, recorded
    in the ledger under (``ledger_key``, ``generation``): the steps of this module's
    docstring. A manifest's files come through here, and so do ``reconcile --repair``'s rows."""
    started = time.monotonic() if started is None else started
    result = LoadResult(ledger_key, skipped=False, generation=generation)
    with conn.transaction():
        claimed = conn.execute(  # 1
            "INSERT INTO cdc_load_ledger "
            "(manifest_key, generation, etag, shard_id, records, rows_loaded) "
            "VALUES (%s, %s, %s, %s, %s, '{}') ON CONFLICT (manifest_key, generation) DO NOTHING "
            "RETURNING manifest_key",
            (ledger_key, generation, etag, shard_id, records),
        ).fetchone()
        if claimed is None:
            result.skipped = True
            return result
        _skip_row_by_row_fk_checks(conn)
        for table in sorted(tables, key=_order):  # 2
            p = merge_sql.table_plan(table)
            data = tables[table]
            conn.execute(merge_sql.create_stage(p))
            with conn.cursor().copy(merge_sql.copy_into_stage(p)) as copy:
                copy.write(to_csv(data.select(list(p.columns))))
            result.staged[p.table] = data.num_rows
            if p.is_fact:
                _ensure_referenced_rows(conn, p, data)
                inserted, written = _insert_facts(conn, p, generation)
            else:
                inserted, written = conn.execute(
                    merge_sql.merge_counted(p), {"generation": generation}
                ).fetchone()
            result.inserted[p.table] = inserted
            result.updated[p.table] = written - inserted
        result.duration_ms = round((time.monotonic() - started) * 1000, 1)
        conn.execute(  # 3
            "UPDATE cdc_load_ledger SET rows_loaded = %s, duration_ms = %s, "
            "loaded_at = clock_timestamp() WHERE manifest_key = %s AND generation = %s",
            (json.dumps(result.to_log()), result.duration_ms, ledger_key, generation),
        )
    return result

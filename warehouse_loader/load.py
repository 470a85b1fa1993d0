"""Loading one manifest: one PostgreSQL transaction (READ COMMITTED), in order:

1. claim the manifest in the load ledger by (key, generation): one already there is skipped
   (a redelivery, a replay by the same generation); a replay by a newer generation loads;
2. per dimension file: COPY into a staging table (session-private);
3. write, in the lock order (``merge_sql.WRITE_ORDER``, rows sorted by key within a table):
   dim_date rows for every date the facts reference, each dimension (its staged rows and the
   inferred members the facts need, in one pass; then, unless history is off, the versions
   it received and the history of the keys whose versions changed), then the facts (COPYed
   straight in, sorted by key and version; staged and merged if a version is there already);
4. record what was loaded in the ledger row, and commit.

Every load takes its row locks in that one order, so concurrent loads (several Lambda
instances, local runners) wait for each other but never deadlock among themselves; a deadlock
with some other writer, or any failure, rolls the whole manifest back and the handler retries
it (docs/warehouse-loader.md, Concurrent loaders).

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
    inferred: dict[str, int] = field(default_factory=dict)  # inferred members made, per dim
    history: dict[str, int] = field(default_factory=dict)  # keys whose history was remade
    duration_ms: float = 0.0
    attempts: int = 1  # set by ``handler.load_with_retries``: tries it took (not in the ledger)

    def to_log(self) -> dict[str, Any]:
        return {
            "manifest": self.manifest_key,
            "generation": self.generation,
            "skipped": self.skipped,
            "staged": self.staged,
            "inserted": self.inserted,
            "updated": self.updated,
            "inferred": self.inferred,
            "history_keys": self.history,
            "unchanged": {
                t: n - self.inserted.get(t, 0) - self.updated.get(t, 0)
                for t, n in self.staged.items()
            },
            "duration_ms": self.duration_ms,
        }


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


def referenced(
    tables: dict[str, pa.Table],
) -> tuple[list[Any], dict[str, list[int]]]:
    """(every date the facts reference, per dimension the keys they reference), each sorted
    and distinct over all the manifest's fact files, from their Arrow columns."""
    dates: set[Any] = set()
    keys: dict[str, set[int]] = {}
    for table, data in tables.items():
        p = merge_sql.table_plan(table)
        if not p.is_fact or data.num_rows == 0:
            continue
        dates.update(_distinct(data, p.date_columns))
        for column, dim in merge_sql.references(p).items():
            keys.setdefault(dim, set()).update(_distinct(data, [column]))
    return sorted(dates), {dim: sorted(ks) for dim, ks in keys.items() if ks}


def _stage(conn: psycopg.Connection, p: merge_sql.TablePlan, data: pa.Table) -> None:
    conn.execute(merge_sql.create_stage(p))
    with conn.cursor().copy(merge_sql.copy_into_stage(p)) as copy:
        copy.write(to_csv(data.select(list(p.columns))))


def fact_copy_rows(p: merge_sql.TablePlan, data: pa.Table, generation: int) -> pa.Table:
    """A fact file's rows as ``merge_sql.copy_into_facts`` takes them: sorted by (key,
    version), the lock order, with the manifest's generation."""
    rows = data.select(list(p.columns)).sort_by(
        [(p.spec.key, "ascending"), ("cdc_version", "ascending")]
    )
    generations = pa.array([generation] * rows.num_rows, pa.int32())
    return rows.append_column(pa.field("cdc_generation", pa.int32()), generations)


def _insert_facts(
    conn: psycopg.Connection, p: merge_sql.TablePlan, data: pa.Table, generation: int
) -> tuple[int, int]:
    """(rows inserted, rows written): all of them, sorted by (key, version), COPYed straight
    into the fact table when no version is in the warehouse yet, else (the unique index
    refused the COPY) staged, and each new (key, version) inserted once and each stored one
    replaced only by a newer generation, with ON CONFLICT."""
    rows = fact_copy_rows(p, data, generation)
    try:
        with conn.transaction():  # a savepoint: a refusal undoes the attempt only
            with conn.cursor().copy(merge_sql.copy_into_facts(p)) as copy:
                copy.write(to_csv(rows))
            return rows.num_rows, rows.num_rows
    except psycopg.errors.UniqueViolation:
        _stage(conn, p, data)
        statement = merge_sql.merge_counted(p)
        inserted, written, _, _ = conn.execute(statement, {"generation": generation}).fetchone()
        return inserted, written


def record_history(
    conn: psycopg.Connection,
    p: merge_sql.TablePlan,
    generation: int,
    members: list[int],
    *,
    staged: bool,
) -> int:
    """After the dimension's merge (whose row locks serialize this per key): the versions
    received and the inferred ``members`` the merge made, then the history of each key whose
    versions changed; returns how many keys."""
    statement = merge_sql.record_versions(p, staged=staged, inferred=bool(members))
    params: dict[str, Any] = {"generation": generation}
    if members:
        params["inferred"] = members
    rebuilt, appended = conn.execute(statement, params).fetchone()
    if rebuilt:
        conn.execute(merge_sql.rebuild_history(p), {"keys": rebuilt})
    return len(rebuilt) + appended


def load_manifest(
    conn: psycopg.Connection,
    store: ObjectStore,
    manifest_key: str,
    etag: str | None = None,
    *,
    history: bool = True,
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
        history=history,
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
    history: bool = True,
) -> LoadResult:
    """Load rows of published tables (each in its Arrow schema) in one transaction, recorded
    in the ledger under (``ledger_key``, ``generation``): the steps of this module's
    docstring. A manifest's files come through here, and so do ``reconcile --repair``'s rows.
    ``history`` false (``TOTESYS_CDC_HISTORY=off``) leaves the dimension histories alone."""
    started = time.monotonic() if started is None else started
    result = LoadResult(ledger_key, skipped=False, generation=generation)
    with conn.transaction():
        # the analysis of concurrent loads assumes it (ON CONFLICT waits for, then sees, rows
        # other loads commit); an isolation level set on the connection must not change it
        conn.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        # the planner cannot estimate the rows of a load's CTEs and joins of staged rows (it
        # guessed millions for 50,000), so JIT compiled them: 1.9 s of a 2.7 s statement
        conn.execute("SET LOCAL jit = off")
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
        for table, data in tables.items():  # 2
            p = merge_sql.table_plan(table)
            if not p.is_fact:
                _stage(conn, p, data)
            result.staged[p.table] = data.num_rows
        dates, members = referenced(tables)
        params = {"generation": generation}
        if dates:  # 3, in the lock order
            conn.execute(merge_sql.ensure_dates(), (dates,))
        for table in merge_sql.WRITE_ORDER:
            staged, keys = table in tables, members.get(table)
            if not staged and not keys:
                continue
            p = merge_sql.table_plan(table)
            if p.is_fact:
                inserted, written = _insert_facts(conn, p, tables[table], generation)
            else:
                statement = merge_sql.merge_counted(p, staged=staged, inferred=bool(keys))
                dim_params = {**params, "inferred": keys} if keys else params
                inserted, written, made, made_keys = conn.execute(statement, dim_params).fetchone()
                if made:
                    result.inferred[table] = made
                if history and (staged or made_keys):
                    result.history[table] = record_history(
                        conn, p, generation, made_keys, staged=staged
                    )
                if not staged:
                    continue
            result.inserted[table] = inserted
            result.updated[table] = written - inserted
        result.duration_ms = round((time.monotonic() - started) * 1000, 1)
        conn.execute(  # 4
            "UPDATE cdc_load_ledger SET rows_loaded = %s, duration_ms = %s, "
            "loaded_at = clock_timestamp() WHERE manifest_key = %s AND generation = %s",
            (json.dumps(result.to_log()), result.duration_ms, ledger_key, generation),
        )
    return result

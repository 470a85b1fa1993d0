"""Loading one manifest: one PostgreSQL transaction (READ COMMITTED), in order:

1. claim the manifest in the load ledger by (key, generation): one already there is skipped
   (a redelivery, a replay by the same generation); a replay by a newer generation loads;
2. per dimension file: COPY into a staging table (session-private);
3. write, in the lock order (``merge_sql.plan.WRITE_ORDER``, rows sorted by key within a
   table): dim_date rows for every date the facts reference, each dimension (its staged rows
   and the inferred members the facts need, in one pass; then, unless history is off, the
   versions it received and the history of the keys whose versions changed), then the facts
   (COPYed straight in, sorted by key and version; staged and merged if a version is there
   already);
4. record what was loaded in the ledger row, and commit.

Every load takes its row locks in that one order, so concurrent loads (several Lambda
instances, local runners) wait for each other but never deadlock among themselves; a deadlock
with some other writer, or any failure, rolls the whole manifest back and the handler retries
it (docs/warehouse-loader.md, Concurrent loaders).

Anything wrong with the manifest or a file (missing, corrupt, schema mismatch) raises
``BadBatch`` before commit: nothing of that manifest lands.

A row the warehouse refuses for its data (SQLSTATE class 22, a ``NOT NULL`` or ``CHECK``
violation) is refused by a ``COPY`` (into staging, whose table carries the target's
constraints, or straight into a fact table) and set aside: the rest of its file loads in the
same transaction, and the refused rows are handed to ``refused`` (``load_manifest``: the
rejected-row letters of ``warehouse_loader.rejected``) before commit. The common path pays
nothing for this but a savepoint per staged file; the rows are looked for only after a
refusal (``copy_rows``).
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from psycopg import sql

from contracts.batches import Manifest, ManifestError, ObjectMissing, ObjectStore
from contracts.events import warning
from contracts.star_schema import PUBLISHED, dimension_references, schema_of
from warehouse_loader import rejected
from warehouse_loader.errors import BadBatch
from warehouse_loader.merge_sql.dimension import ensure_dates, merge_dimension_counted
from warehouse_loader.merge_sql.fact import copy_into_facts, merge_facts_counted
from warehouse_loader.merge_sql.history import rebuild_history, record_versions
from warehouse_loader.merge_sql.plan import WRITE_ORDER, TablePlan, table_plan
from warehouse_loader.merge_sql.stage import copy_into_stage, create_stage

# What a COPY refuses for a row's data: SQLSTATE class 22 (data exception: a value too long,
# a NUL or invalid byte, a number out of range, a malformed value) and the two row-level
# integrity checks. A unique violation is not one (the facts' fast path turns it into a
# merge), nor a foreign key (deferred, checked for the whole load: ``_check_deferred``).
REFUSALS = (psycopg.DataError, psycopg.errors.NotNullViolation, psycopg.errors.CheckViolation)
# More refused rows than this in one file is not a bad row but a bad file (or a column the
# warehouse cannot hold at all): the manifest fails whole, as a bad batch.
MAX_REFUSED_PER_FILE = 100


@dataclass(frozen=True)
class Refusal:
    """A row the warehouse refused, set aside: its table, its index in the rows given for
    that table, its values (as Arrow gives them), and PostgreSQL's reason."""

    table: str
    position: int
    values: dict[str, Any]
    sqlstate: str
    error: str  # the exception's class, e.g. StringDataRightTruncation
    message: str

    @classmethod
    def of(cls, table: str, data: pa.Table, position: int, exc: psycopg.Error) -> Refusal:
        message = exc.diag.message_primary or str(exc).splitlines()[0]
        if exc.diag.context:  # COPY's context names the column and the value
            message = f"{message} ({exc.diag.context.splitlines()[0]})"
        return cls(
            table,
            position,
            data.slice(position, 1).to_pylist()[0],
            exc.sqlstate or "",
            type(exc).__name__,
            message,
        )


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
    refused: dict[str, int] = field(default_factory=dict)  # rows set aside, per table
    refusals: list[Refusal] = field(default_factory=list)  # those rows (not logged)
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
            "refused": self.refused,
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
    return conform(data, table, key)


def conform(data: pa.Table, table: str, key: str) -> pa.Table:
    """A file's rows in the published schema of ``table``. A file written by the previous
    spec during a roll-out (docs/contracts.md, Adding a column) lacks a nullable column the
    spec has since added: the column is NULL in every row (``warehouse-loader backfill``
    fills it later). Anything else that differs is a bad batch: a column the spec does not
    have (a processor newer than this loader), a column of another type or nullability, a
    NOT NULL column missing."""
    schema = schema_of(table)
    if data.schema.equals(schema, check_metadata=False):
        return data
    unknown = [n for n in data.schema.names if schema.get_field_index(n) < 0]
    if unknown:
        raise BadBatch(f"{key}: columns {unknown} are not in the published {table} schema")
    if len(set(data.schema.names)) != len(data.schema.names):
        raise BadBatch(f"{key}: a column is repeated")
    columns = []
    for published in schema:
        if published.name not in data.schema.names:
            if not published.nullable:
                raise BadBatch(f"{key} lacks {table}.{published.name}, which is NOT NULL")
            columns.append(pa.nulls(data.num_rows, published.type))
            continue
        theirs = data.schema.field(published.name)
        if not theirs.equals(published):
            raise BadBatch(
                f"{key}: {table}.{published.name} is {theirs.type}"
                f"{'' if theirs.nullable else ' not null'}, the published schema's "
                f"{published.type}{'' if published.nullable else ' not null'}"
            )
        columns.append(data.column(published.name))
    return pa.Table.from_arrays(columns, schema=schema)


def to_csv(data: pa.Table) -> bytes:
    """Arrow rows as COPY's CSV (NULL: unquoted empty; empty string: quoted)."""
    out = io.BytesIO()
    pa_csv.write_csv(data, out, pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    return out.getvalue()


def _skip_row_by_row_fk_checks(conn: psycopg.Connection) -> bool:
    """Foreign keys stay declared, but a load does not pay PostgreSQL's per-row check of each
    (about 0.5 s per 20,000 facts with 8 references): every key a fact references is made to
    exist in this same transaction (inferred members, dim_date), which is what the check would
    prove. Needs the right to set session_replication_role (superuser, rds_superuser on RDS);
    without it the checks simply run, deferred to the end of the load's writes (so load order
    does not matter; ``_check_deferred``). Returns whether they were deferred."""
    try:
        with conn.transaction():  # a savepoint: a refusal leaves the load's transaction usable
            conn.execute("SET LOCAL session_replication_role = replica")
    except psycopg.errors.InsufficientPrivilege:
        conn.execute("SET CONSTRAINTS ALL DEFERRED")
        return True
    return False


def _check_deferred(conn: psycopg.Connection) -> None:
    """Run the deferred foreign-key checks now, once every table is written, rather than at
    COMMIT: a violation (which the inferred members should make impossible) then fails the
    load before any refused row's letter is written. It cannot be pinned on one row (the
    check is the whole load's), so it fails the manifest whole: ``ForeignKeyViolation``, a
    bad batch to the handler."""
    conn.execute("SET CONSTRAINTS ALL IMMEDIATE")


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
        p = table_plan(table)
        if not p.is_fact or data.num_rows == 0:
            continue
        dates.update(_distinct(data, p.date_columns))
        for column, dim in dimension_references(p.spec).items():
            keys.setdefault(dim, set()).update(_distinct(data, [column]))
    return sorted(dates), {dim: sorted(ks) for dim, ks in keys.items() if ks}


def _send(conn: psycopg.Connection, statement: sql.Composed, rows: pa.Table) -> None:
    with conn.cursor().copy(statement) as copy:
        copy.write(to_csv(rows))


_COPY_LINE = re.compile(r"\bline (\d+)\b")


def _line_of(exc: psycopg.Error) -> int | None:
    """The row a COPY's error names (its context, ``COPY t, line N, column c``), 0-based.
    A hint only: a quoted value spanning lines makes the line count run ahead of the rows."""
    found = _COPY_LINE.search(exc.diag.context or "")
    return int(found[1]) - 1 if found else None


def copy_rows(
    conn: psycopg.Connection,
    statement: sql.Composed,
    rows: pa.Table,
    *,
    isolate: bool,
    what: str,
) -> list[tuple[int, psycopg.Error]]:
    """COPY ``rows`` with ``statement`` in a savepoint; returns (index, error) of each row
    refused for its data (``REFUSALS``) and set aside, the others loaded. ``isolate`` false:
    a refusal is raised as it is. Any other error (a unique violation among them) is raised,
    every row of this call undone.

    The common path is one COPY. After a refusal the rows are COPYed again in ranges, each in
    its own savepoint, in order (so a fact table's rows are still written in key order):
    the rows before the one the error names, that row alone, the rest; a range with no
    usable hint is halved. A range of one refused row is set aside."""
    try:
        with conn.transaction():
            _send(conn, statement, rows)
        return []
    except REFUSALS as exc:
        if not isolate:
            raise
        first = exc
    refused: list[tuple[int, psycopg.Error]] = []
    with conn.transaction():  # a UniqueViolation below undoes the ranges loaded before it
        todo: list[tuple[int, int, psycopg.Error | None]] = [(0, rows.num_rows, first)]
        while todo:
            start, end, known = todo.pop()
            if known is None:
                try:
                    with conn.transaction():
                        _send(conn, statement, rows.slice(start, end - start))
                    continue
                except REFUSALS as exc:
                    known = exc
            if end - start == 1:
                refused.append((start, known))
                if len(refused) > MAX_REFUSED_PER_FILE:
                    raise BadBatch(
                        f"more than {MAX_REFUSED_PER_FILE} rows of {what} refused, the first: "
                        f"{type(refused[0][1]).__name__}: {refused[0][1]}"
                    ) from None
                continue
            line = _line_of(known)
            if line is not None and 0 <= line < end - start:
                at = start + line
                ranges = [(start, at), (at, at + 1), (at + 1, end)]
            else:
                middle = (start + end) // 2
                ranges = [(start, middle), (middle, end)]
            todo += [(a, b, None) for a, b in reversed(ranges) if b > a]
    return refused


def _stage(
    conn: psycopg.Connection, p: TablePlan, data: pa.Table, *, isolate: bool
) -> list[tuple[int, psycopg.Error]]:
    conn.execute(create_stage(p))
    return copy_rows(
        conn,
        copy_into_stage(p),
        data.select(list(p.columns)),
        isolate=isolate,
        what=p.table,
    )


def _fact_order(p: TablePlan, data: pa.Table) -> pa.Array:
    """The indices that sort a fact file's rows by (key, version): the lock order."""
    return pc.sort_indices(
        data, sort_keys=[(p.spec.key, "ascending"), ("cdc_version", "ascending")]
    )


def fact_copy_rows(
    p: TablePlan, data: pa.Table, generation: int, order: pa.Array | None = None
) -> pa.Table:
    """A fact file's rows as ``merge_sql.fact.copy_into_facts`` takes them: sorted by (key,
    version), the lock order (``order``, from ``_fact_order``), with the manifest's
    generation."""
    order = _fact_order(p, data) if order is None else order
    rows = data.select(list(p.columns)).take(order)
    generations = pa.array([generation] * rows.num_rows, pa.int32())
    return rows.append_column(pa.field("cdc_generation", pa.int32()), generations)


def _insert_facts(
    conn: psycopg.Connection,
    p: TablePlan,
    data: pa.Table,
    generation: int,
    *,
    isolate: bool,
) -> tuple[int, int, list[tuple[int, psycopg.Error]]]:
    """(rows inserted, rows written, (index in ``data``, error) of each row refused): all of
    them, sorted by (key, version), COPYed straight into the fact table when no version is in
    the warehouse yet, else (the unique index refused the COPY) staged, and each new (key,
    version) inserted once and each stored one replaced only by a newer generation, with ON
    CONFLICT."""
    order = _fact_order(p, data)
    rows = fact_copy_rows(p, data, generation, order)
    try:  # copy_rows's savepoints: a refusal undoes the attempt only
        refused = copy_rows(conn, copy_into_facts(p), rows, isolate=isolate, what=p.table)
        loaded = rows.num_rows - len(refused)
        return loaded, loaded, [(order[i].as_py(), exc) for i, exc in refused]
    except psycopg.errors.UniqueViolation:
        refused = _stage(conn, p, data, isolate=isolate)
        statement = merge_facts_counted(p)
        inserted, written, _, _ = conn.execute(statement, {"generation": generation}).fetchone()
        return inserted, written, refused


def record_history(
    conn: psycopg.Connection,
    p: TablePlan,
    generation: int,
    members: list[int],
    *,
    staged: bool,
) -> int:
    """After the dimension's merge (whose row locks serialize this per key): the versions
    received and the inferred ``members`` the merge made, then the history of each key whose
    versions changed; returns how many keys."""
    statement = record_versions(p, staged=staged, inferred=bool(members))
    params: dict[str, Any] = {"generation": generation}
    if members:
        params["inferred"] = members
    rebuilt, appended = conn.execute(statement, params).fetchone()
    if rebuilt:
        conn.execute(rebuild_history(p), {"keys": rebuilt})
    return len(rebuilt) + appended


def load_manifest(
    conn: psycopg.Connection,
    store: ObjectStore,
    manifest_key: str,
    etag: str | None = None,
    *,
    history: bool = True,
) -> LoadResult:
    """Read a manifest and its files (``BadBatch`` if anything is wrong) and load them; rows
    the warehouse refuses are set aside as rejected-row letters in ``store``
    (``warehouse_loader.rejected``), written before the load commits."""
    started = time.monotonic()
    manifest = read_manifest(store, manifest_key)
    tables = {f.table: read_file(store, f.table, f.key) for f in manifest.files}

    def set_aside(refusals: list[Refusal]) -> None:
        rejected.write(store, manifest_key, manifest.generation, manifest.shard_id, refusals)

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
        refused=set_aside,
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
    refused: Callable[[list[Refusal]], None] | None = None,
) -> LoadResult:
    """Load rows of published tables (each in its Arrow schema) in one transaction, recorded
    in the ledger under (``ledger_key``, ``generation``): the steps of this module's
    docstring. A manifest's files come through here, and so do ``reconcile --repair``'s rows
    and ``rejected redrive``'s. ``history`` false (``TOTESYS_CDC_HISTORY=off``) leaves the
    dimension histories alone. ``refused``: given, the rows the warehouse refuses for their
    data are set aside (counted per table in the ledger row) and handed to it before commit
    (its failure rolls the load back); not given, a refusal fails the load."""
    started = time.monotonic() if started is None else started
    isolate = refused is not None
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
        deferred = _skip_row_by_row_fk_checks(conn)

        def set_aside(table: str, rows: list[tuple[int, psycopg.Error]]) -> None:
            result.refusals.extend(Refusal.of(table, tables[table], i, exc) for i, exc in rows)
            result.staged[table] -= len(rows)

        for table, data in tables.items():  # 2
            p = table_plan(table)
            result.staged[p.table] = data.num_rows
            if not p.is_fact:
                set_aside(table, _stage(conn, p, data, isolate=isolate))
        dates, members = referenced(tables)
        params = {"generation": generation}
        if dates:  # 3, in the lock order
            conn.execute(ensure_dates(), (dates,))
        for table in WRITE_ORDER:
            staged, keys = table in tables, members.get(table)
            if not staged and not keys:
                continue
            p = table_plan(table)
            if p.is_fact:
                inserted, written, rows = _insert_facts(
                    conn, p, tables[table], generation, isolate=isolate
                )
                set_aside(table, rows)
            else:
                statement = merge_dimension_counted(p, staged=staged, inferred=bool(keys))
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
        if deferred:
            _check_deferred(conn)
        for r in result.refusals:
            result.refused[r.table] = result.refused.get(r.table, 0) + 1
        if result.refusals and refused is not None:
            refused(result.refusals)
        result.duration_ms = round((time.monotonic() - started) * 1000, 1)
        conn.execute(  # 4
            "UPDATE cdc_load_ledger SET rows_loaded = %s, duration_ms = %s, "
            "loaded_at = clock_timestamp() WHERE manifest_key = %s AND generation = %s",
            (json.dumps(result.to_log()), result.duration_ms, ledger_key, generation),
        )
    for table, count in sorted(result.refused.items()):  # committed: counted once
        theirs = [r for r in result.refusals if r.table == table]
        warning(
            "rows_refused",
            manifest=ledger_key,
            generation=generation,
            table=table,
            rows=count,
            sqlstates=sorted({r.sqlstate for r in theirs}),
            reason=theirs[0].message,
        )
    return result

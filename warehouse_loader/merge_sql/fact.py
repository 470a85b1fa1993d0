"""A fact table's writes: each (key, version) inserted once, sorted by (key, version), by a
plain ``COPY`` when the warehouse holds none of the batch's versions (the usual case), else
from the staged rows with ``ON CONFLICT``, where only a newer generation replaces a row."""

from __future__ import annotations

from psycopg import sql

from warehouse_loader.merge_sql.plan import GENERATION, TablePlan, column_list


def _require_fact(p: TablePlan) -> None:
    if not p.is_fact:
        raise ValueError(f"{p.table} is not a fact table")


def copy_into_facts(p: TablePlan) -> sql.Composed:
    """COPY straight into a fact table (its columns and ``cdc_generation``; ``cdc_loaded_at``
    takes its default): the fast path for a batch of versions the warehouse has not seen (the
    usual case), rows sent sorted by (key, version). The (key, version) unique index refuses
    the whole COPY if any version is there already; the loader then stages the rows and uses
    ``merge_facts``."""
    _require_fact(p)
    return sql.SQL("COPY {t} ({cols}, cdc_generation) FROM STDIN WITH (FORMAT csv)").format(
        t=sql.Identifier(p.table), cols=column_list(p.columns)
    )


def merge_facts(p: TablePlan) -> sql.Composed:
    """The statement that moves a fact table's staged rows into it, stamped with the
    manifest's generation (the ``generation`` parameter), sorted by (key, version); returns
    one row per row written, ``inserted`` true for a new row and false for an update.

    Each (key, version) is stored once: a newer generation replaces a row of an equal version
    (a replay after a fix to the transform), an equal or older one changes nothing."""
    _require_fact(p)
    table, key = sql.Identifier(p.table), sql.Identifier(p.spec.key)
    replace = sql.SQL(", ").join(
        sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c))
        for c in p.columns
        if c not in (p.spec.key, "cdc_version")
    )
    return sql.SQL(
        "INSERT INTO {t} ({cols}, cdc_generation) "
        "SELECT DISTINCT ON ({key}, cdc_version) {cols}, {generation} FROM {s} "
        "ORDER BY {key}, cdc_version "
        "ON CONFLICT ({key}, cdc_version) DO UPDATE SET {replace}, "
        "cdc_generation = EXCLUDED.cdc_generation, cdc_loaded_at = clock_timestamp() "
        "WHERE {t}.cdc_generation < EXCLUDED.cdc_generation "
        "RETURNING (xmax = 0) AS inserted"
    ).format(
        t=table,
        cols=column_list(p.columns),
        key=key,
        s=sql.Identifier(p.stage),
        generation=GENERATION,
        replace=replace,
    )


def merge_facts_counted(p: TablePlan) -> sql.Composed:
    """``merge_facts`` wrapped to return one row instead of a row per row written, shaped as
    ``dimension.merge_dimension_counted``'s: (rows inserted, rows written, 0, an empty
    ``integer[]``: a fact table makes no inferred members)."""
    return sql.SQL(
        "WITH written AS ({merge}) "
        "SELECT count(*) FILTER (WHERE inserted), count(*), 0, '{{}}'::integer[] FROM written"
    ).format(merge=merge_facts(p))

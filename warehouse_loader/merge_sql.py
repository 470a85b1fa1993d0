"""The SQL of one load, built by pure functions with ``psycopg.sql`` (no database needed to
test what they build).

Per table touched by a manifest, inside the manifest's transaction:

1. ``CREATE TEMP TABLE`` a staging table shaped like the batch file, ``ON COMMIT DROP``;
2. ``COPY`` the file's rows into it;
3. merge:
   - dimensions: the newest staged version per key is upserted only where it is newer than the
     stored row (joined dimensions compare (version, joined version)), or the stored row is an
     inferred member; a delete flags the row and keeps its attributes;
   - facts: inferred members first for every dimension a fact references that is missing,
     ``dim_date`` ensured for every date it references (both from the distinct values of the
     batch, passed as array parameters), then each (key, version) inserted once: a plain
     ``INSERT`` in a savepoint first, ``ON CONFLICT DO NOTHING`` when that meets a version
     already loaded (a replay, an overlapping batch, a concurrent loader);
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from contracts.star_schema import (
    KEYS,
    PUBLISHED,
    Kind,
    TableSpec,
    date_columns,
    dimension_references,
    spec,
)


@dataclass(frozen=True)
class TablePlan:
    """How one published table is loaded, from its spec (``contracts.star_schema``)."""

    spec: TableSpec

    @property
    def table(self) -> str:
        return self.spec.name

    @property
    def stage(self) -> str:
        return f"stage_{self.spec.name}"

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.spec.published)

    @property
    def is_fact(self) -> bool:
        return self.spec.is_fact

    @property
    def date_columns(self) -> tuple[str, ...]:
        return date_columns(self.spec)


# The query parameter every statement that writes rows takes: the manifest's generation.
GENERATION = sql.Placeholder("generation")


def table_plan(table: str | TableSpec) -> TablePlan:
    """The plan of a published table, by name or from a spec (a spec need not be one of
    ``STAR_SCHEMA``'s: the merge SQL follows from whatever spec it is given)."""
    found = table if isinstance(table, TableSpec) else None
    if found is None:
        if table not in PUBLISHED:
            raise ValueError(f"no table {table!r} among the published tables")
        found = spec(table)
    return TablePlan(found)


def _cols(names: tuple[str, ...] | list[str]) -> sql.Composable:
    return sql.SQL(", ").join(map(sql.Identifier, names))


def create_stage(p: TablePlan) -> sql.Composed:
    return sql.SQL(
        "CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {cols} FROM {table} WITH NO DATA"
    ).format(stage=sql.Identifier(p.stage), cols=_cols(p.columns), table=sql.Identifier(p.table))


def copy_into_stage(p: TablePlan) -> sql.Composed:
    """CSV as pyarrow writes it: NULL is an unquoted empty field, an empty string is quoted."""
    return sql.SQL("COPY {stage} ({cols}) FROM STDIN WITH (FORMAT csv)").format(
        stage=sql.Identifier(p.stage), cols=_cols(p.columns)
    )


def ensure_dates() -> sql.Composed:
    """dim_date rows for the dates passed as one ``date[]`` parameter (ISO weekday, English
    names). The loader collects a batch's distinct dates from its Arrow columns: far cheaper
    than a UNION over every staged row."""
    return sql.SQL(
        "INSERT INTO dim_date "
        "(date_id, year, month, day, day_of_week, day_name, month_name, quarter) "
        "SELECT d, extract(year FROM d), extract(month FROM d), extract(day FROM d), "
        "extract(isodow FROM d), to_char(d, 'FMDay'), to_char(d, 'FMMonth'), "
        "extract(quarter FROM d) FROM unnest(%s::date[]) AS d "
        "ON CONFLICT (date_id) DO NOTHING"
    )


def inferred_members(p: TablePlan) -> dict[str, sql.Composed]:
    """Per fact column that references a dimension: the statement that adds placeholder rows
    (flagged inferred) for the keys passed as one ``integer[]`` parameter, where the dimension
    does not hold them yet, so foreign keys hold and no fact is dropped."""
    return {
        column: sql.SQL(
            "INSERT INTO {dim} ({key}, cdc_version, cdc_is_inferred) "
            "SELECT k, 0, true FROM unnest(%s::integer[]) AS k "
            "ON CONFLICT ({key}) DO NOTHING"
        ).format(dim=sql.Identifier(dim), key=sql.Identifier(KEYS[dim]))
        for column, dim in dimension_references(p.spec).items()
    }


def insert_all(p: TablePlan) -> sql.Composed:
    """Every staged fact row, with no conflict handling: the fast path for a batch of versions
    the warehouse has not seen (the usual case). The (key, version) unique index refuses the
    statement as a whole if any version is there already; the loader then uses ``merge``."""
    if not p.is_fact:
        raise ValueError(f"{p.table} is not a fact table")
    cols = _cols(p.columns)
    return sql.SQL(
        "INSERT INTO {t} ({cols}, cdc_generation) SELECT {cols}, {generation} FROM {s}"
    ).format(t=sql.Identifier(p.table), cols=cols, s=sql.Identifier(p.stage), generation=GENERATION)


def merge(p: TablePlan) -> sql.Composed:
    """The statement that moves staged rows into the table, stamped with the manifest's
    generation (the ``generation`` parameter); returns one row per row written, with
    ``inserted`` true for a new row and false for an update.

    Rows are ordered by (version, joined version, generation): a newer generation replaces a
    row of an equal version (a replay after a fix to the transform), an older one never
    overwrites a newer one, and no generation brings an older version back."""
    table, stage, key = (
        sql.Identifier(p.table),
        sql.Identifier(p.stage),
        sql.Identifier(p.spec.key),
    )
    cols = _cols(p.columns)
    if p.is_fact:
        replace = sql.SQL(", ").join(
            sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c))
            for c in p.columns
            if c not in (p.spec.key, "cdc_version")
        )
        return sql.SQL(
            "INSERT INTO {t} ({cols}, cdc_generation) "
            "SELECT DISTINCT ON ({key}, cdc_version) {cols}, {generation} FROM {s} "
            "ON CONFLICT ({key}, cdc_version) DO UPDATE SET {replace}, "
            "cdc_generation = EXCLUDED.cdc_generation, cdc_loaded_at = clock_timestamp() "
            "WHERE {t}.cdc_generation < EXCLUDED.cdc_generation "
            "RETURNING (xmax = 0) AS inserted"
        ).format(t=table, cols=cols, key=key, s=stage, generation=GENERATION, replace=replace)
    attributes = [c for c in p.columns if c != p.spec.key and not c.startswith("cdc_")]
    keep_on_delete = sql.SQL(", ").join(
        sql.SQL(
            "{c} = CASE WHEN EXCLUDED.cdc_is_deleted THEN {t}.{c} ELSE EXCLUDED.{c} END"
        ).format(c=sql.Identifier(c), t=table)
        for c in attributes
    )
    bookkeeping = [c for c in p.columns if c.startswith("cdc_")]
    set_bookkeeping = sql.SQL(", ").join(
        sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in bookkeeping
    )
    if p.spec.kind is Kind.JOINED:
        newest = sql.SQL("{key}, cdc_version DESC, cdc_joined_version DESC NULLS LAST").format(
            key=key
        )
        newer = sql.SQL(
            "({t}.cdc_version, coalesce({t}.cdc_joined_version, -1), {t}.cdc_generation) < "
            "(EXCLUDED.cdc_version, coalesce(EXCLUDED.cdc_joined_version, -1), "
            "EXCLUDED.cdc_generation)"
        ).format(t=table)
    else:
        newest = sql.SQL("{key}, cdc_version DESC").format(key=key)
        newer = sql.SQL(
            "({t}.cdc_version, {t}.cdc_generation) < "
            "(EXCLUDED.cdc_version, EXCLUDED.cdc_generation)"
        ).format(t=table)
    return sql.SQL(
        "INSERT INTO {t} ({cols}, cdc_generation) "
        "SELECT DISTINCT ON ({key}) {cols}, {generation} FROM {s} ORDER BY {newest} "
        "ON CONFLICT ({key}) DO UPDATE SET {attrs}, {book}, "
        "cdc_generation = EXCLUDED.cdc_generation, "
        "cdc_is_inferred = false, cdc_loaded_at = clock_timestamp() "
        "WHERE {newer} OR {t}.cdc_is_inferred "
        "RETURNING (xmax = 0) AS inserted"
    ).format(
        t=table,
        cols=cols,
        key=key,
        s=stage,
        newest=newest,
        attrs=keep_on_delete,
        book=set_bookkeeping,
        newer=newer,
        generation=GENERATION,
    )


def merge_counted(p: TablePlan) -> sql.Composed:
    """``merge`` wrapped to return one row, (rows inserted, rows written), instead of a row per
    row written."""
    return sql.SQL(
        "WITH written AS ({merge}) SELECT count(*) FILTER (WHERE inserted), count(*) FROM written"
    ).format(merge=merge(p))

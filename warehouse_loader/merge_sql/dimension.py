"""A dimension's writes: dim_date's rows for the dates the facts reference, and each other
dimension's merge of its staged rows and of the inferred members the facts need, in one
sorted pass over its keys."""

from __future__ import annotations

from psycopg import sql

from contracts.star_schema import Kind
from warehouse_loader.merge_sql.plan import GENERATION, TablePlan, column_list

# The query parameter of the keys the facts reference (a dimension's inferred members).
INFERRED = sql.Placeholder("inferred")


def ensure_dates() -> sql.Composed:
    """dim_date rows for the dates passed as one ``date[]`` parameter (ISO weekday, English
    names), inserted in date order. The loader collects the distinct dates of all the
    manifest's facts from their Arrow columns (far cheaper than a UNION over every staged row)
    and ensures them in this one statement, before any other table is written."""
    return sql.SQL(
        "INSERT INTO dim_date "
        "(date_id, year, month, day, day_of_week, day_name, month_name, quarter) "
        "SELECT d, extract(year FROM d), extract(month FROM d), extract(day FROM d), "
        "extract(isodow FROM d), to_char(d, 'FMDay'), to_char(d, 'FMMonth'), "
        "extract(quarter FROM d) FROM unnest(%s::date[]) AS d ORDER BY d "
        "ON CONFLICT (date_id) DO NOTHING"
    )


def inferred_members(p: TablePlan, where: sql.Identifier) -> sql.Composed:
    """The inferred members of the keys the ``inferred`` parameter lists that table ``where``
    does not hold, as rows of the plan's columns and ``cdc_is_inferred``: a member knows its
    key only (``(NULL::dimension).column`` is a NULL of the column's type)."""
    member = {
        p.spec.key: sql.SQL("k"),
        "cdc_version": sql.SQL("0"),
        "cdc_is_deleted": sql.SQL("false"),
    }
    return sql.SQL(
        "SELECT {values}, true AS cdc_is_inferred FROM unnest({keys}::integer[]) AS k "
        "WHERE NOT EXISTS (SELECT FROM {w} WHERE {w}.{key} = k)"
    ).format(
        values=sql.SQL(", ").join(
            sql.SQL("{v} AS {c}").format(
                v=member.get(
                    c, sql.SQL("(NULL::{t}).{c}").format(t=sql.Identifier(p.table), c=name)
                ),
                c=name,
            )
            for c in p.columns
            for name in (sql.Identifier(c),)
        ),
        keys=INFERRED,
        w=where,
        key=sql.Identifier(p.spec.key),
    )


def incoming_rows(
    p: TablePlan, where: sql.Identifier, *, staged: bool, inferred: bool
) -> list[sql.Composable]:
    """The rows a merge takes in, each with ``cdc_is_inferred``: the staged rows (``staged``)
    and the inferred members ``where`` does not hold (``inferred``), to be joined by UNION ALL."""
    sources: list[sql.Composable] = []
    if staged:
        sources.append(
            sql.SQL("SELECT {cols}, false AS cdc_is_inferred FROM {s}").format(
                cols=column_list(p.columns), s=sql.Identifier(p.stage)
            )
        )
    if inferred:
        sources.append(inferred_members(p, where))
    return sources


def merge_dimension(p: TablePlan, *, staged: bool = True, inferred: bool = False) -> sql.Composed:
    """The statement that moves a dimension's staged rows into it, stamped with the manifest's
    generation (the ``generation`` parameter), in key order; returns one row per row written:
    ``inserted`` true for a new row and false for an update, ``inferred`` true for an
    inferred member made, and the row's key.

    Rows are ordered by (version, joined version, generation): a newer generation replaces a
    row of an equal version (a replay after a fix to the transform), an older one never
    overwrites a newer one, and no generation brings an older version back. A delete flags
    the row and keeps its attributes.

    The statement may also take (``inferred``) the keys the manifest's facts reference, as
    one ``integer[]`` parameter, ``inferred``: each key the table does not hold becomes an
    inferred member (``cdc_is_inferred``, key and version 0 only) in the same sorted pass as
    the staged rows, so a load locks a table's keys in one increasing order however its rows
    and references interleave. A key already committed when the statement starts is left
    alone (no lock, no wait, even while another load updates it); a staged row of the same
    key wins; an inferred member never overwrites a row, and a real row always replaces an
    inferred member. ``staged=False``: inferred members only (the manifest has no file of
    this dimension)."""
    if p.is_fact:
        raise ValueError(f"{p.table} is a fact table: it has staged rows and no members")
    if not (staged or inferred):
        raise ValueError(f"a merge into {p.table} needs staged rows or inferred members")
    table, key = sql.Identifier(p.table), sql.Identifier(p.spec.key)
    cols = column_list(p.columns)
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
    # per key: a staged row before an inferred member, then the newest version first
    newest = [key, sql.SQL("cdc_is_inferred"), sql.SQL("cdc_version DESC")]
    if p.spec.kind is Kind.JOINED:
        newest.append(sql.SQL("cdc_joined_version DESC NULLS LAST"))
        newer = sql.SQL(
            "({t}.cdc_version, coalesce({t}.cdc_joined_version, -1), {t}.cdc_generation) < "
            "(EXCLUDED.cdc_version, coalesce(EXCLUDED.cdc_joined_version, -1), "
            "EXCLUDED.cdc_generation)"
        ).format(t=table)
    else:
        newer = sql.SQL(
            "({t}.cdc_version, {t}.cdc_generation) < "
            "(EXCLUDED.cdc_version, EXCLUDED.cdc_generation)"
        ).format(t=table)
    sources = incoming_rows(p, table, staged=staged, inferred=inferred)
    return sql.SQL(
        "INSERT INTO {t} ({cols}, cdc_is_inferred, cdc_generation) "
        "SELECT DISTINCT ON ({key}) {cols}, cdc_is_inferred, {generation} "
        "FROM ({sources}) AS incoming ORDER BY {newest} "
        "ON CONFLICT ({key}) DO UPDATE SET {attrs}, {book}, "
        "cdc_generation = EXCLUDED.cdc_generation, "
        "cdc_is_inferred = false, cdc_loaded_at = clock_timestamp() "
        "WHERE NOT EXCLUDED.cdc_is_inferred AND ({newer} OR {t}.cdc_is_inferred) "
        "RETURNING (xmax = 0) AS inserted, {t}.cdc_is_inferred AS inferred, {t}.{key}"
    ).format(
        t=table,
        cols=cols,
        key=key,
        sources=sql.SQL(" UNION ALL ").join(sources),
        newest=sql.SQL(", ").join(newest),
        attrs=keep_on_delete,
        book=set_bookkeeping,
        newer=newer,
        generation=GENERATION,
    )


def merge_dimension_counted(
    p: TablePlan, *, staged: bool = True, inferred: bool = False
) -> sql.Composed:
    """``merge_dimension`` wrapped to return one row instead of a row per row written: (staged
    rows inserted, staged rows written, inferred members inserted, the keys of those members,
    sorted, as one array: the only members ``history.record_versions`` may record)."""
    return sql.SQL(
        "WITH written AS ({merge}) SELECT count(*) FILTER (WHERE inserted AND NOT inferred), "
        "count(*) FILTER (WHERE NOT inferred), count(*) FILTER (WHERE inferred), "
        "coalesce(array_agg({key} ORDER BY {key}) FILTER (WHERE inferred), '{{}}') FROM written"
    ).format(
        merge=merge_dimension(p, staged=staged, inferred=inferred),
        key=sql.Identifier(p.spec.key),
    )

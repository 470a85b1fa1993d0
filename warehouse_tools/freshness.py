"""How fresh each warehouse table is: its rows, and the newest source change loaded into it
and how old that change is (``warehouse-loader status``, the demo's dashboard)."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
from psycopg import sql

from contracts.star_schema import TABLES


def freshness(
    conn: psycopg.Connection,
) -> dict[str, tuple[int, datetime | None, timedelta | None]]:
    """table → (rows, newest ``cdc_source_updated_at``, its age); dim_date has no source
    change, so (rows, None, None)."""
    out = {}
    for table in TABLES:
        newest = sql.SQL("NULL::timestamp" if table == "dim_date" else "max(cdc_source_updated_at)")
        out[table] = conn.execute(
            sql.SQL("SELECT count(*), {n}, now() AT TIME ZONE 'UTC' - {n} FROM {t}").format(
                n=newest, t=sql.Identifier(table)
            )
        ).fetchone()
    return out

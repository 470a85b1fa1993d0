"""The staging table a file's rows are COPYed into before a merge: every dimension file, and
a fact file whose fast path (``fact.copy_into_facts``) met a version already loaded."""

from __future__ import annotations

from psycopg import sql

from warehouse_loader.merge_sql.plan import TablePlan, column_list


def create_stage(p: TablePlan) -> sql.Composed:
    """A staging table that refuses what the table would: ``LIKE`` the table with its
    ``NOT NULL`` and ``CHECK`` constraints (and the defaults and identity of the columns a
    batch does not carry, so they satisfy theirs), without its indexes and foreign keys. A
    row the warehouse refuses for its data is therefore refused by the staging ``COPY``,
    where the loader can set it aside (``load.copy_rows``), never by the merge that follows:
    that statement writes staged rows and inferred members (a key and version 0) only."""
    return sql.SQL(
        "CREATE TEMP TABLE {stage} "
        "(LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY) ON COMMIT DROP"
    ).format(stage=sql.Identifier(p.stage), table=sql.Identifier(p.table))


def copy_into_stage(p: TablePlan) -> sql.Composed:
    """CSV as pyarrow writes it: NULL is an unquoted empty field, an empty string is quoted."""
    return sql.SQL("COPY {stage} ({cols}) FROM STDIN WITH (FORMAT csv)").format(
        stage=sql.Identifier(p.stage), cols=column_list(p.columns)
    )

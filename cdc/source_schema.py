"""The ToteSys source schema (``cdc/sql/totesys_source.sql``, the production DDL verbatim)."""

from __future__ import annotations

from importlib import resources

import psycopg
from psycopg import sql

# Parents before children: the order rows can be written in without breaking a foreign key.
TABLES = (
    "address",
    "department",
    "currency",
    "design",
    "payment_type",
    "staff",
    "counterparty",
    "sales_order",
    "purchase_order",
    "transaction",
    "payment",
)

PRIMARY_KEYS = {table: f"{table}_id" for table in TABLES}


def ddl() -> str:
    return resources.files("cdc").joinpath("sql/totesys_source.sql").read_text()


def create(conn: psycopg.Connection) -> None:
    """Create the ToteSys tables and types in an empty database (one transaction)."""
    with conn.transaction():
        conn.execute(ddl())


def row_counts(conn: psycopg.Connection) -> dict[str, int]:
    """Rows per ToteSys table."""
    count = sql.SQL("SELECT count(*) FROM {}")
    return {t: conn.execute(count.format(sql.Identifier(t))).fetchone()[0] for t in TABLES}

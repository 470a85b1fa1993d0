"""The ToteSys source schema (``cdc/sql/totesys_source.sql``, the production DDL verbatim)."""

from __future__ import annotations

from importlib import resources

import psycopg
from psycopg import sql

from cdc import source_roles

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
# The publication the capture engine decodes (TOTESYS_CDC_CAPTURE_PUBLICATION).
PUBLICATION = "totesys_cdc"


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


def create_publication(conn: psycopg.Connection, name: str = PUBLICATION) -> bool:
    """The capture engine's publication of the ToteSys tables, made by their owner (the only
    role that may) once at set-up; returns whether it was made now (False: it exists)."""
    with conn.transaction():
        if conn.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (name,)).fetchone():
            return False
        for statement in source_roles.publication_statements(name, TABLES):
            conn.execute(statement)
    return True

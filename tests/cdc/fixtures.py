"""What the cdc tests on a real ToteSys schema share: its row counts, its foreign keys, and the
rules its comments promise beyond its declared constraints."""

from __future__ import annotations

import psycopg

from cdc import source_schema
from cdc.simulator import writer


def row_counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return source_schema.row_counts(conn)


def check_invariants(conn: psycopg.Connection) -> None:
    """What the schema's comments promise beyond its declared constraints."""
    bad_transactions = conn.execute(
        """SELECT count(*) FROM "transaction"
           WHERE NOT ((transaction_type = 'SALE' AND sales_order_id IS NOT NULL AND purchase_order_id IS NULL)
                   OR (transaction_type = 'PURCHASE' AND purchase_order_id IS NOT NULL AND sales_order_id IS NULL))"""
    ).fetchone()[0]
    assert bad_transactions == 0
    bad_dates = conn.execute(
        r"""SELECT count(*) FROM sales_order
            WHERE agreed_delivery_date !~ '^\d{4}-\d{2}-\d{2}$' OR agreed_payment_date !~ '^\d{4}-\d{2}-\d{2}$'"""
    ).fetchone()[0]
    assert bad_dates == 0
    assert (
        conn.execute("SELECT count(*) FROM payment WHERE last_updated < created_at").fetchone()[0]
        == 0
    )


def foreign_keys(conn: psycopg.Connection) -> list[tuple[str, str, str]]:
    return conn.execute(writer.FOREIGN_KEYS, [list(source_schema.TABLES)]).fetchall()

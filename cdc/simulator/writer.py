"""Writing a simulated dataset into a ToteSys database (COPY, one transaction)."""

from __future__ import annotations

import psycopg
from psycopg import sql

from cdc.simulator.dataset import Dataset
from cdc.source_schema import PRIMARY_KEYS, TABLES


def load_dataset(conn: psycopg.Connection, data: Dataset) -> dict[str, int]:
    """COPY every table's rows (parents first) and move each id sequence past the largest id,
    so the application's next insert gets a fresh key. Returns rows written per table."""
    written: dict[str, int] = {}
    with conn.transaction():
        for table in TABLES:
            rows = data.tables[table]
            if not rows:
                written[table] = 0
                continue
            columns = list(rows[0])
            copy = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
            )
            with conn.cursor().copy(copy) as cp:
                for row in rows:
                    cp.write_row([row[c] for c in columns])
            written[table] = len(rows)
        for table in TABLES:
            key = PRIMARY_KEYS[table]
            conn.execute(
                sql.SQL(
                    "SELECT setval(pg_get_serial_sequence({t}, {k}), "
                    "COALESCE((SELECT max({kid}) FROM {tid}), 0) + 1, false)"
                ).format(
                    t=sql.Literal(sql.Identifier(table).as_string(conn)),
                    k=sql.Literal(key),
                    kid=sql.Identifier(key),
                    tid=sql.Identifier(table),
                )
            )
    return written

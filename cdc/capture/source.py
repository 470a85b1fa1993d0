"""The capture engine's PostgreSQL edge for queries: publication, replication slot, catalogue
and snapshot reads (the changes themselves stream through ``replication``). Driver errors
become ``SourceError`` here, with what to do about them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql

from cdc.capture.records import ColumnDef, TableDef
from contracts.change_records import parse_lsn


class SourceError(RuntimeError):
    """The source cannot be captured from; the message says why and what to change."""


@dataclass(frozen=True)
class SlotInfo:
    name: str
    confirmed_flush_lsn: int
    retained_wal_bytes: int
    active: bool


def connect(dsn: str, *, autocommit: bool = True) -> psycopg.Connection:
    try:
        return psycopg.connect(dsn, autocommit=autocommit)
    except psycopg.OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SourceError(f"cannot connect to the source database: {first_line}") from None


def check_logical_decoding(conn: psycopg.Connection) -> None:
    level = conn.execute("SHOW wal_level").fetchone()[0]
    if level != "logical":
        raise SourceError(
            f"the source has wal_level={level}; logical decoding needs wal_level=logical "
            "(on RDS: set rds.logical_replication=1 in the parameter group and reboot)"
        )


def ensure_publication(
    conn: psycopg.Connection, name: str, schema: str, tables: Sequence[str]
) -> None:
    """A publication of exactly ``tables`` (pgoutput decodes only published tables).

    Made by the tables' owner at set-up (``cdc source init``, ``source_schema
    .create_publication``): the capture role, which owns nothing, only checks it. Where capture
    does connect as the owner (a one-DSN set-up), a missing or different publication is made
    or corrected here."""
    published = {
        row[0]
        for row in conn.execute(
            "SELECT tablename FROM pg_publication_tables WHERE pubname = %s AND schemaname = %s",
            (name, schema),
        )
    }
    if published == set(tables):
        return
    exists = conn.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (name,)).fetchone()
    table_list = sql.SQL(", ").join(sql.Identifier(schema, t) for t in tables)
    try:
        if exists:
            conn.execute(
                sql.SQL("ALTER PUBLICATION {} SET TABLE {}").format(
                    sql.Identifier(name), table_list
                )
            )
        else:
            conn.execute(
                sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(
                    sql.Identifier(name), table_list
                )
            )
    except psycopg.errors.InsufficientPrivilege:
        state = "publishes other tables" if exists else "does not exist"
        raise SourceError(
            f"publication {name} {state}, and the capture user may not change it: have the "
            "tables' owner create it ('cdc source init' does, as TOTESYS_CDC_SOURCE_OWNER_DSN; "
            "docs/database-roles.md)"
        ) from None
    except psycopg.errors.UndefinedTable as exc:
        raise SourceError(f"a captured table is missing from the source: {exc}") from None


def slot_info(conn: psycopg.Connection, slot: str) -> SlotInfo | None:
    """The slot's position and retained WAL; None when it does not exist. Slot names are
    cluster-wide: one that belongs to another database is an error, not ours to use."""
    row = conn.execute(
        "SELECT confirmed_flush_lsn::text, "
        "pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint, active, database, "
        "database = current_database() "
        "FROM pg_replication_slots WHERE slot_name = %s",
        (slot,),
    ).fetchone()
    if row is None:
        return None
    if not row[4]:
        raise SourceError(
            f"replication slot '{slot}' belongs to database '{row[3]}'; "
            "choose another name with TOTESYS_CDC_CAPTURE_SLOT"
        )
    return SlotInfo(slot, parse_lsn(row[0]), int(row[1] or 0), bool(row[2]))


def create_slot(conn: psycopg.Connection, slot: str) -> int:
    """Create the logical slot; return its consistent point."""
    try:
        row = conn.execute(
            "SELECT lsn::text FROM pg_create_logical_replication_slot(%s, 'pgoutput')", (slot,)
        ).fetchone()
    except psycopg.errors.InsufficientPrivilege:
        raise SourceError(
            "the capture user may not create replication slots (needs REPLICATION)"
        ) from None
    except psycopg.errors.ConfigurationLimitExceeded as exc:
        raise SourceError(
            f"no free replication slot: {exc} (raise max_replication_slots)"
        ) from None
    return parse_lsn(row[0])


def drop_slot(conn: psycopg.Connection, slot: str) -> None:
    conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))


def table_defs(conn: psycopg.Connection, schema: str, tables: Sequence[str]) -> dict[str, TableDef]:
    """Columns (in order, with type and nullability) and primary key of each table."""
    defs = {}
    for table in tables:
        regclass = sql.Identifier(schema, table).as_string(conn)
        columns = conn.execute(
            "SELECT attname, atttypid::int, NOT attnotnull FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            (regclass,),
        ).fetchall()
        if not columns:
            raise SourceError(f"table {schema}.{table} does not exist in the source")
        key = conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary "
            "ORDER BY array_position(i.indkey, a.attnum)",
            (regclass,),
        ).fetchall()
        defs[table] = TableDef(
            schema,
            table,
            tuple(ColumnDef(n, oid, nullable) for n, oid, nullable in columns),
            tuple(k[0] for k in key),
        )
    return defs


@dataclass(frozen=True)
class CatalogueColumn:
    """What ``pg_attribute`` says of a column now: its number (kept by a rename, new after a
    drop and add), type modifier and nullability. pgoutput's Relation message has the name,
    type and modifier as they were when the change was logged, but neither of the others."""

    attnum: int
    type_modifier: int
    nullable: bool


def column_catalogue(
    conn: psycopg.Connection, schema: str, table: str
) -> dict[str, CatalogueColumn]:
    """The table's columns in the catalogue now, by name (empty if the table is gone)."""
    rows = conn.execute(
        "SELECT a.attname, a.attnum, a.atttypmod, NOT a.attnotnull FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped",
        (schema, table),
    ).fetchall()
    return {
        name: CatalogueColumn(attnum, modifier, nullable)
        for name, attnum, modifier, nullable in rows
    }


def snapshot_rows(conn: psycopg.Connection, table: TableDef) -> Iterator[tuple[str | None, ...]]:
    """Every row of ``table`` as PostgreSQL text values, streamed with COPY. Run inside the
    caller's REPEATABLE READ transaction so all tables come from one snapshot."""
    query = sql.SQL("COPY (SELECT {} FROM {}) TO STDOUT").format(
        sql.SQL(", ").join(sql.Identifier(c.name) for c in table.columns),
        sql.Identifier(table.schema, table.table),
    )
    with conn.cursor().copy(query) as copy:
        copy.set_types(["text"] * len(table.columns))
        yield from copy.rows()


def current_value(
    conn: psycopg.Connection, table: TableDef, column: str, key: dict[str, object]
) -> str | None:
    """A column's current text value, for a TOASTed value an UPDATE did not resend (DMS's
    LOB lookup does the same)."""
    where = sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(k)) for k in key)
    query = sql.SQL("SELECT {}::text FROM {} WHERE {}").format(
        sql.Identifier(column), sql.Identifier(table.schema, table.table), where
    )
    row = conn.execute(query, list(key.values())).fetchone()
    return None if row is None else row[0]

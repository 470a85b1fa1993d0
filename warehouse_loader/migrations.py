"""Idempotent warehouse migrations: ``migrations/NNNN_name.sql`` applied once each, in order.

Applied versions are recorded in ``cdc_schema_migrations``. A cheap read says whether anything
is pending; only then is the advisory lock taken, and each migration runs in its own
transaction together with its ledger row, so two loaders starting on an empty warehouse at the
same moment cannot both apply one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import psycopg

LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS cdc_schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""
# An arbitrary constant that names "warehouse migrations" among advisory locks.
LOCK_KEY = 0x70_7E_5C_DC
FILE_PATTERN = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    """Every migration shipped with the package, by version."""
    found = []
    for entry in resources.files("warehouse_loader").joinpath("migrations").iterdir():
        match = FILE_PATTERN.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text()))
    return sorted(found, key=lambda m: m.version)


def pending(conn: psycopg.Connection) -> list[Migration]:
    """The migrations this warehouse has not had yet: a cheap read, no lock."""
    if conn.execute("SELECT to_regclass('cdc_schema_migrations')").fetchone()[0] is None:
        return available()
    done = {row[0] for row in conn.execute("SELECT version FROM cdc_schema_migrations")}
    return [m for m in available() if m.version not in done]


def apply(conn: psycopg.Connection) -> list[Migration]:
    """Apply the migrations this warehouse has not had yet; return those applied now. The
    DDL lock is taken only when something is pending, so every cold start of the loader and
    every ``warehouse-loader status`` on an up-to-date warehouse run without it."""
    with conn.transaction():  # leaves the connection as it found it, even without autocommit
        todo = pending(conn)
    if not todo:
        return []
    applied_now = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        conn.execute(LEDGER_DDL)
        done = {row[0] for row in conn.execute("SELECT version FROM cdc_schema_migrations")}
        for migration in available():
            if migration.version in done:
                continue
            with conn.transaction():
                conn.execute(migration.sql)
                conn.execute(
                    "INSERT INTO cdc_schema_migrations (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
            applied_now.append(migration)
    return applied_now

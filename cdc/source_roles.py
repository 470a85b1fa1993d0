"""ToteSys's database roles for the pipeline, least privilege, as SQL: pure (statements, no
connection).

- **owner** owns the ToteSys tables (``cdc source init``, the seed's COPY, every ``ALTER
  TABLE``) and, being their owner, makes the publication the capture engine decodes
  (``publication_statements``: once, at set-up, not by capture).
- **app** writes rows as ToteSys's own application does (the simulator's traffic): DML on the
  tables, their id sequences.
- **capture** reads changes: ``REPLICATION`` (create a logical slot and stream it) and
  ``SELECT`` on the tables (the full load), no write. AWS DMS's PostgreSQL user is the same:
  "Using a PostgreSQL database as an AWS DMS source" (AWS DMS User Guide) asks for SELECT on
  the tables for a full load and, for CDC, the REPLICATION attribute on a self-managed server or
  the ``rds_replication`` role on RDS ("Working with AWS-managed PostgreSQL databases as DMS
  sources"). Our endpoint sets ``CaptureDdls`` (cdc/dms_task.py): DMS then records DDL with an
  event trigger and its ``awsdms_ddl_audit`` table, which need the master user; the same guide
  says to create those artefacts from the master user account when DMS connects as another
  (docs/database-roles.md).

``cluster_statements`` make the roles (cluster-wide); ``database_statements`` grant them their
rights in the ToteSys database, for the tables that exist and, by default privileges, for
tables the owner adds later. ``cdc source roles --print`` prints them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psycopg import sql


@dataclass(frozen=True)
class SourceRoles:
    owner: str = "totesys_owner"
    app: str = "totesys_app"
    capture: str = "totesys_capture"


def cluster_statements(
    roles: SourceRoles, *, passwords: bool, rds: bool = False, new_owner: bool = True
) -> list[sql.Composable]:
    """``CREATE ROLE … LOGIN`` for each role, the capture role with ``REPLICATION`` (on RDS,
    ``rds``: a member of ``rds_replication`` instead, as RDS allows no REPLICATION attribute);
    with ``passwords``, a placeholder password to replace. ``new_owner`` False: the owner is
    ToteSys's existing one, not made here."""
    out: list[sql.Composable] = []
    made = (roles.owner, roles.app, roles.capture) if new_owner else (roles.app, roles.capture)
    for name in made:
        statement = sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name))
        if name == roles.capture and not rds:
            statement = sql.SQL("{} REPLICATION").format(statement)
        if passwords:
            statement = sql.SQL("{} PASSWORD {}").format(
                statement, sql.Literal(f"<{name} password>")
            )
        out.append(statement)
    if rds:
        out.append(sql.SQL("GRANT rds_replication TO {}").format(sql.Identifier(roles.capture)))
    if passwords and new_owner:  # the master user hands the database over only as a member
        out.append(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(roles.owner)))
    return out


def database_statements(
    roles: SourceRoles, database: str, *, new_database: bool = True
) -> list[sql.Composable]:
    """The grants in the ToteSys database, run while connected to it (before or after the
    tables exist). ``new_database``: an empty database made for ToteSys (locally), handed to
    the owner role; otherwise ToteSys's own, whose owner stays as it is (``roles.owner`` then
    names the role that owns its tables)."""
    db, owner = sql.Identifier(database), sql.Identifier(roles.owner)
    app, capture = sql.Identifier(roles.app), sql.Identifier(roles.capture)
    ownership = [
        sql.SQL("ALTER DATABASE {} OWNER TO {}").format(db, owner),
        sql.SQL("ALTER SCHEMA public OWNER TO {}").format(owner),
        sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db),
        sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"),
    ]
    return [
        *(ownership if new_database else []),
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}, {}").format(db, app, capture),
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}, {}").format(app, capture),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(
            app
        ),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(app),
        sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(capture),
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public "
            "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}"
        ).format(owner, app),
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public "
            "GRANT USAGE, SELECT ON SEQUENCES TO {}"
        ).format(owner, app),
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public GRANT SELECT ON TABLES TO {}"
        ).format(owner, capture),
    ]


def publication_statements(publication: str, tables: Sequence[str]) -> list[sql.Composable]:
    """The capture engine's publication of exactly ``tables``, made by their owner."""
    return [
        sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(
            sql.Identifier(publication),
            sql.SQL(", ").join(sql.Identifier("public", t) for t in tables),
        )
    ]

"""The warehouse's database roles, least privilege, as SQL: pure (statements, no connection).

- **owner** owns the database's ``public`` schema and everything the migrations make: it alone
  runs DDL, as a step of its own (``warehouse-loader migrate`` with the owner's DSN).
- **loader** (the Lambda, the local runner, repair and backfill): read and write the warehouse
  tables' rows, use their identity sequences, make temporary tables (the loads' staging). No
  DDL on the warehouse tables, no right to set ``session_replication_role``.
- **analyst**: read the star schema, its history and the as-of views.

``cluster_statements`` make the roles (once per server: roles are cluster-wide);
``database_statements`` give them what they need in one warehouse database, for the tables
that exist and, by default privileges, for those the owner's migrations make later. Both run
as a role that may (a superuser locally; RDS's master user, a member of ``rds_superuser``).
``warehouse-loader roles --print`` prints them for RDS; ``totesys-stack up`` and the local
harness run them. docs/database-roles.md says which secret holds which.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql


@dataclass(frozen=True)
class WarehouseRoles:
    owner: str = "warehouse_owner"
    loader: str = "warehouse_loader"
    analyst: str = "warehouse_analyst"


def cluster_statements(roles: WarehouseRoles, *, passwords: bool) -> list[sql.Composable]:
    """``CREATE ROLE … LOGIN`` for each role; with ``passwords``, a placeholder password to
    replace and the owner granted to the user running them (RDS's master user is no
    superuser: it may hand the database to the owner and set the owner's default privileges
    only as a member); without, for the local cluster, which trusts loopback."""
    out: list[sql.Composable] = []
    for name in (roles.owner, roles.loader, roles.analyst):
        statement = sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name))
        if passwords:
            statement = sql.SQL("{} PASSWORD {}").format(
                statement, sql.Literal(f"<{name} password>")
            )
        out.append(statement)
    if passwords:
        out.append(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(roles.owner)))
    return out


def database_statements(roles: WarehouseRoles, database: str) -> list[sql.Composable]:
    """The grants in one warehouse database, run while connected to it."""
    db, owner = sql.Identifier(database), sql.Identifier(roles.owner)
    loader, analyst = sql.Identifier(roles.loader), sql.Identifier(roles.analyst)
    return [
        sql.SQL("ALTER DATABASE {} OWNER TO {}").format(db, owner),
        sql.SQL("ALTER SCHEMA public OWNER TO {}").format(owner),
        sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db),
        sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"),
        sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(db, loader),
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, analyst),
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}, {}").format(loader, analyst),
        # the tables that exist (a warehouse migrated before its roles were made) ...
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(
            loader
        ),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(loader),
        sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(analyst),
        # ... and every table, view and sequence the owner's migrations make from now on
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public "
            "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}"
        ).format(owner, loader),
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public "
            "GRANT USAGE, SELECT ON SEQUENCES TO {}"
        ).format(owner, loader),
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public GRANT SELECT ON TABLES TO {}"
        ).format(owner, analyst),
    ]

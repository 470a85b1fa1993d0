"""The warehouse's roles as SQL (``warehouse_loader.roles``), read without a database: each
role made once, only the owner owning anything, the loader and the analyst granted exactly
what they need, now and on what the owner's migrations make later. That the cluster holds
them is ``tests/local_stack/services/test_roles.py``."""

from __future__ import annotations

from tests.fixtures import granted
from warehouse_loader.roles import WarehouseRoles, cluster_statements, database_statements

ROLES = WarehouseRoles()
NAMES = ("warehouse_owner", "warehouse_loader", "warehouse_analyst")


def rendered(statements) -> list[str]:
    return [statement.as_string(None) for statement in statements]


def test_each_role_is_made_once_to_log_in_with_a_password_to_replace_only_when_asked():
    assert rendered(cluster_statements(ROLES, passwords=False)) == [
        f'CREATE ROLE "{name}" LOGIN' for name in NAMES
    ]
    assert rendered(cluster_statements(ROLES, passwords=True)) == [
        *(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '<{name} password>'" for name in NAMES),
        'GRANT "warehouse_owner" TO CURRENT_USER',  # RDS's master user hands over as a member
    ]


def test_only_the_owner_owns_and_public_keeps_nothing():
    statements = rendered(database_statements(ROLES, "warehouse"))
    assert [s for s in statements if " OWNER TO " in s] == [
        'ALTER DATABASE "warehouse" OWNER TO "warehouse_owner"',
        'ALTER SCHEMA public OWNER TO "warehouse_owner"',
    ]
    assert [s for s in statements if s.startswith("REVOKE")] == [
        'REVOKE ALL ON DATABASE "warehouse" FROM PUBLIC',
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
    ]


def test_the_loader_may_change_rows_and_stage_them_but_no_ddl_and_the_analyst_only_reads():
    rights = granted(database_statements(ROLES, "warehouse"))
    rows = {(p, "tables") for p in ("SELECT", "INSERT", "UPDATE", "DELETE")}
    sequences = {("USAGE", "sequences"), ("SELECT", "sequences")}
    assert set(rights) == {"warehouse_loader", "warehouse_analyst"}
    assert {r for r in rights["warehouse_loader"] if not r[1].startswith("future")} == {
        ("CONNECT", "database"),
        ("TEMPORARY", "database"),  # the loads' staging tables
        ("USAGE", "schema"),
        *rows,
        *sequences,
    }
    assert {r for r in rights["warehouse_analyst"] if not r[1].startswith("future")} == {
        ("CONNECT", "database"),
        ("USAGE", "schema"),
        ("SELECT", "tables"),
    }


def test_what_the_migrations_make_later_is_granted_as_what_exists_now():
    for role, rights in granted(database_statements(ROLES, "warehouse")).items():
        for kind in ("tables", "sequences"):
            now = {p for p, on in rights if on == kind}
            later = {p for p, on in rights if on == f"future {kind}"}
            assert later == now, (role, kind)


def test_role_and_database_names_are_identifiers_whatever_they_hold():
    odd = WarehouseRoles(owner='own"er', loader="load; DROP TABLE x", analyst="Analyst")
    statements = [
        *rendered(cluster_statements(odd, passwords=False)),
        *rendered(database_statements(odd, 'ware"house')),
    ]
    text = "\n".join(statements)
    assert '"own""er"' in text and '"load; DROP TABLE x"' in text and '"ware""house"' in text
    for quoted in ('"own""er"', '"load; DROP TABLE x"', '"Analyst"', '"ware""house"'):
        text = text.replace(quoted, "")
    assert "own" not in text and "DROP" not in text and "Analyst" not in text

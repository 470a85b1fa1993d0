"""ToteSys's roles for the pipeline as SQL (``cdc.source_roles``), read without a database:
the capture role replicates (by attribute, or on RDS by ``rds_replication``) and only reads,
the app role writes rows, the owner alone owns, and the publication names exactly its tables.
That the cluster holds them is ``tests/local_stack/services/test_roles.py``."""

from __future__ import annotations

from cdc.source_roles import (
    SourceRoles,
    cluster_statements,
    database_statements,
    publication_statements,
)
from tests.fixtures import granted

ROLES = SourceRoles()


def rendered(statements) -> list[str]:
    return [statement.as_string(None) for statement in statements]


def test_the_capture_role_replicates_by_attribute_locally_and_by_rds_replication_on_rds():
    assert rendered(cluster_statements(ROLES, passwords=False)) == [
        'CREATE ROLE "totesys_owner" LOGIN',
        'CREATE ROLE "totesys_app" LOGIN',
        'CREATE ROLE "totesys_capture" LOGIN REPLICATION',
    ]
    on_rds = rendered(cluster_statements(ROLES, passwords=True, rds=True))
    assert not any("REPLICATION PASSWORD" in s or s.endswith("REPLICATION") for s in on_rds)
    assert 'GRANT rds_replication TO "totesys_capture"' in on_rds
    assert on_rds[-1] == 'GRANT "totesys_owner" TO CURRENT_USER'


def test_an_existing_owner_is_neither_made_nor_granted():
    statements = rendered(cluster_statements(ROLES, passwords=True, new_owner=False))
    assert statements == [
        "CREATE ROLE \"totesys_app\" LOGIN PASSWORD '<totesys_app password>'",
        "CREATE ROLE \"totesys_capture\" LOGIN REPLICATION PASSWORD '<totesys_capture password>'",
    ]


def test_a_new_database_is_handed_to_the_owner_and_totesys_own_keeps_its_owner():
    made = rendered(database_statements(ROLES, "totesys"))
    assert [s for s in made if " OWNER TO " in s] == [
        'ALTER DATABASE "totesys" OWNER TO "totesys_owner"',
        'ALTER SCHEMA public OWNER TO "totesys_owner"',
    ]
    existing = rendered(database_statements(ROLES, "totesys", new_database=False))
    assert not any(" OWNER TO " in s or s.startswith("REVOKE") for s in existing)
    assert existing == made[-len(existing) :]  # the same grants, without the hand-over


def test_the_app_writes_rows_and_the_capture_role_only_reads_now_and_later():
    rights = granted(database_statements(ROLES, "totesys"))
    assert set(rights) == {"totesys_app", "totesys_capture"}
    rows = {(p, "tables") for p in ("SELECT", "INSERT", "UPDATE", "DELETE")}
    assert {r for r in rights["totesys_app"] if not r[1].startswith("future")} == {
        ("CONNECT", "database"),
        ("USAGE", "schema"),
        *rows,
        ("USAGE", "sequences"),
        ("SELECT", "sequences"),
    }
    assert rights["totesys_capture"] == {
        ("CONNECT", "database"),
        ("USAGE", "schema"),
        ("SELECT", "tables"),
        ("SELECT", "future tables"),
    }
    for role, theirs in rights.items():
        for kind in ("tables", "sequences"):
            now = {p for p, on in theirs if on == kind}
            assert {p for p, on in theirs if on == f"future {kind}"} == now, (role, kind)


def test_the_publication_names_exactly_its_tables_in_the_public_schema():
    assert rendered(publication_statements("totesys_cdc", ["staff", 'odd"name'])) == [
        'CREATE PUBLICATION "totesys_cdc" FOR TABLE "public"."staff", "public"."odd""name"'
    ]

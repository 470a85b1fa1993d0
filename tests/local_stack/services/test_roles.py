"""The least-privilege roles hold: each is a real connection to the local cluster, refused
what its role may not do, and allowed what the pipeline needs of it."""

from __future__ import annotations

import psycopg
import pytest

from cdc import source_schema
from local_stack.services import postgres
from local_stack.services.config import app_env
from tests.fixtures import unique_name
from warehouse_loader import migrations
from warehouse_loader.config import LoaderConfig
from warehouse_loader.connection import MigrationsPending, Warehouse


@pytest.fixture
def databases(stack_cfg):
    """A ToteSys (tables, publication) and a migrated warehouse, made as the stack makes them:
    by the superuser, handed to the owner roles, the owners running the DDL."""
    source, warehouse = unique_name("roles_src"), unique_name("roles_wh")
    source, warehouse = source.replace("-", "_"), warehouse.replace("-", "_")
    postgres.ensure_roles(stack_cfg)
    postgres.create_source_database(stack_cfg, source)
    postgres.create_warehouse_database(stack_cfg, warehouse)
    dsns = {**stack_cfg.source_dsns(source), **stack_cfg.warehouse_dsns(warehouse)}
    with psycopg.connect(dsns["TOTESYS_CDC_SOURCE_OWNER_DSN"]) as conn:
        source_schema.create(conn)
        source_schema.create_publication(conn)
    yield dsns
    for name in (source, warehouse):
        postgres.drop_database(stack_cfg, name)


def refused(dsn: str, statement: str) -> bool:
    with psycopg.connect(dsn) as conn:
        try:
            conn.execute(statement)
        except psycopg.errors.InsufficientPrivilege:
            return True
    return False


def test_the_stacks_dsns_are_not_superusers(stack_cfg):
    for name, dsn in app_env(stack_cfg).items():
        if name.endswith("_DSN"):
            with psycopg.connect(dsn) as conn:
                assert conn.execute("SHOW is_superuser").fetchone()[0] == "off", name


def test_the_loader_runs_no_ddl_and_fails_clearly_on_a_pending_migration(databases):
    owner, loader = (
        databases["TOTESYS_CDC_WAREHOUSE_OWNER_DSN"],
        databases["TOTESYS_CDC_WAREHOUSE_DSN"],
    )
    # nothing migrated yet: the loader says what to run, and does not migrate
    with pytest.raises(MigrationsPending, match="warehouse-loader migrate"):
        Warehouse(LoaderConfig(warehouse_dsn=loader)).connection()
    with psycopg.connect(loader) as conn:
        assert conn.execute("SELECT to_regclass('dim_design')").fetchone()[0] is None
    assert Warehouse(LoaderConfig(warehouse_dsn=owner)).migrate() == migrations.available()
    conn = Warehouse(LoaderConfig(warehouse_dsn=loader)).connection()
    # what a load needs: rows, identity sequences, temporary staging tables
    conn.execute("CREATE TEMP TABLE stage (LIKE dim_design)")
    conn.execute("SELECT count(*) FROM fact_sales_order")
    conn.close()
    for ddl in (
        "ALTER TABLE dim_design ADD COLUMN x text",
        "DROP TABLE dim_design",
        "CREATE TABLE public.x (a int)",
        "TRUNCATE dim_design",
        "SET session_replication_role = replica",
    ):
        assert refused(loader, ddl), ddl


def test_the_analyst_reads_and_cannot_write(databases):
    owner = databases["TOTESYS_CDC_WAREHOUSE_OWNER_DSN"]
    analyst = databases["TOTESYS_CDC_WAREHOUSE_ANALYST_DSN"]
    Warehouse(LoaderConfig(warehouse_dsn=owner)).migrate()
    with psycopg.connect(analyst) as conn:
        conn.execute("SELECT count(*) FROM dim_staff_history")
        conn.execute("SELECT count(*) FROM fact_sales_order_as_of")
    for write in (
        "DELETE FROM dim_design",
        "UPDATE fact_sales_order SET units_sold = 0",
        "INSERT INTO dim_currency (currency_id, currency_code) VALUES (1, 'GBP')",
        "CREATE TEMP TABLE t (a int)",
    ):
        assert refused(analyst, write), write


def test_capture_reads_and_replicates_but_cannot_write_totesys(databases):
    capture = databases["TOTESYS_CDC_SOURCE_DSN"]
    app = databases["TOTESYS_CDC_SOURCE_APP_DSN"]
    with psycopg.connect(capture, autocommit=True) as conn:
        conn.execute("SELECT count(*) FROM design")
        conn.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", ("roles_t",))
        conn.execute("SELECT pg_drop_replication_slot('roles_t')")
    for write in (
        "INSERT INTO currency (currency_code) VALUES ('GBP')",
        "UPDATE design SET design_name = 'x'",
        "DELETE FROM payment",
        "ALTER TABLE design ADD COLUMN x text",
        "ALTER PUBLICATION totesys_cdc SET TABLE design",
    ):
        assert refused(capture, write), write
    # the application writes rows and may not change the schema
    with psycopg.connect(app) as conn:
        conn.execute("INSERT INTO currency (currency_code, last_updated) VALUES ('GBP', now())")
    assert refused(app, "ALTER TABLE design ADD COLUMN x text")

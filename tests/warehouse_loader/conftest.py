"""The loader tests' databases: a migrated warehouse of its own per test (autocommit), and a
ToteSys source holding a small dataset beside a migrated warehouse. A module that needs its
warehouse otherwise (``test_migrations.py``: unmigrated; ``test_rejected.py``: with its DSN)
defines its own ``warehouse``."""

from __future__ import annotations

import psycopg
import pytest

from cdc import source_schema
from cdc.simulator import dataset, writer
from local_stack.config import WAREHOUSE
from warehouse_loader import migrations


@pytest.fixture
def warehouse(fresh_database):
    dsn = fresh_database("warehouse", cluster=WAREHOUSE)
    with psycopg.connect(dsn) as conn:
        migrations.apply(conn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture
def databases(fresh_database, monkeypatch):
    source, warehouse = fresh_database("totesys"), fresh_database("warehouse", cluster=WAREHOUSE)
    with psycopg.connect(source) as conn:
        source_schema.create(conn)
        writer.load_dataset(conn, dataset.generate(3, dataset.SMALL))
    with psycopg.connect(warehouse) as conn:
        migrations.apply(conn)
    monkeypatch.setenv("TOTESYS_CDC_WAREHOUSE_DSN", warehouse)
    monkeypatch.delenv("TOTESYS_CDC_WAREHOUSE_SECRET_ARN", raising=False)
    return source, warehouse

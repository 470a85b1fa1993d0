"""Fixtures for the operator tools' tests: a seeded ToteSys and a migrated warehouse."""

from __future__ import annotations

import psycopg
import pytest

from cdc import source_schema
from cdc.simulator import dataset, writer
from local_stack.services.config import WAREHOUSE
from warehouse_loader import migrations


@pytest.fixture
def databases(fresh_database, monkeypatch):
    """(source DSN, warehouse DSN): a ToteSys seeded with the small dataset, a migrated
    warehouse, and the loader's settings pointing at it."""
    source, warehouse = fresh_database("totesys"), fresh_database("warehouse", cluster=WAREHOUSE)
    with psycopg.connect(source) as conn:
        source_schema.create(conn)
        writer.load_dataset(conn, dataset.generate(3, dataset.SMALL))
    with psycopg.connect(warehouse) as conn:
        migrations.apply(conn)
    monkeypatch.setenv("TOTESYS_CDC_WAREHOUSE_DSN", warehouse)
    monkeypatch.delenv("TOTESYS_CDC_WAREHOUSE_SECRET_ARN", raising=False)
    return source, warehouse

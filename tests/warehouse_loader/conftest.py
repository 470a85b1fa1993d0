"""The loader tests' database: a migrated warehouse of its own per test (autocommit). A
module that needs its warehouse otherwise (``test_migrations.py``: unmigrated; ``test_rejected.py``: with its DSN)
defines its own ``warehouse``."""

from __future__ import annotations

import psycopg
import pytest

from local_stack.services.config import WAREHOUSE
from warehouse_loader import migrations


@pytest.fixture
def warehouse(fresh_database):
    dsn = fresh_database("warehouse", cluster=WAREHOUSE)
    with psycopg.connect(dsn) as conn:
        migrations.apply(conn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        yield conn

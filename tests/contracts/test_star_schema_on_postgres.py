"""Contract B against the warehouse as PostgreSQL builds it from the migrations: the same
columns, in order, with the same nullability (the DDL-reading test's oracle, checked once
against the real catalog)."""

from __future__ import annotations

import psycopg
import pytest

from contracts.star_schema import SPECS
from local_stack.services.config import WAREHOUSE
from warehouse_loader import migrations


@pytest.mark.stack
def test_every_spec_has_exactly_the_migrated_warehouse_columns_in_order(fresh_database):
    with psycopg.connect(fresh_database("warehouse", cluster=WAREHOUSE)) as conn:
        migrations.apply(conn)
        for spec in SPECS:
            columns = conn.execute(
                "SELECT column_name, is_nullable = 'YES' FROM information_schema.columns "
                "WHERE table_name = %s ORDER BY ordinal_position",
                (spec.name,),
            ).fetchall()
            assert columns == [(c.name, c.nullable) for c in spec.columns], spec.name

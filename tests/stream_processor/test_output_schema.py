"""The processor's published schemas against the warehouse the loader writes them into."""

from __future__ import annotations

import psycopg
import pytest

from stream_processor.output_schema import SCHEMAS
from warehouse_loader import migrations

WAREHOUSE_ONLY = {"cdc_loaded_at", "cdc_is_inferred"}  # set by the warehouse, not in batches


@pytest.mark.stack
def test_every_output_schema_has_exactly_the_warehouse_columns_in_order(fresh_database):
    with psycopg.connect(fresh_database("warehouse")) as conn:
        migrations.apply(conn)
        for table, schema in SCHEMAS.items():
            columns = [
                r[0]
                for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
                    (table,),
                )
            ]
            expected = [
                c for c in columns if c not in WAREHOUSE_ONLY and not c.endswith("_record_id")
            ]
            assert schema.names == expected, table


def test_schemas_are_explicit_with_exact_money_and_wide_versions():
    assert str(SCHEMAS["fact_payment"].field("payment_amount").type) == "decimal128(10, 2)"
    assert str(SCHEMAS["dim_staff"].field("cdc_version").type) == "decimal128(38, 0)"
    assert str(SCHEMAS["fact_sales_order"].field("created_time").type) == "time32[ms]"

"""Contract B: what is derived from the specs alone (no services)."""

from __future__ import annotations

import dataclasses

import pyarrow as pa

from contracts.star_schema import (
    FACT_SOURCES,
    PUBLISHED,
    Column,
    From,
    arrow_schema,
    dimension_references,
    schema_of,
    spec,
)
from warehouse_loader.merge_sql.dimension import merge_dimension
from warehouse_loader.merge_sql.plan import table_plan
from warehouse_loader.merge_sql.stage import copy_into_stage, create_stage


def sql_text(composed) -> str:
    return composed.as_string(None)


def test_a_column_added_to_a_copy_of_a_dimension_spec_reaches_the_arrow_schema_and_merge_sql():
    design = spec("dim_design")
    wider = design.with_column(
        Column("file_size", pa.int32(), source=From("file_size")), after="file_name"
    )
    schema = arrow_schema(wider)
    assert schema.names[: schema.names.index("file_size") + 1][-2:] == ["file_name", "file_size"]
    assert schema.field("file_size").type == pa.int32() and schema.field("file_size").nullable
    assert "file_size" not in schema_of("dim_design").names, "the real spec is untouched"

    plan = table_plan(wider)
    merge = sql_text(merge_dimension(plan))
    assert '"file_name", "file_size", "cdc_version"' in merge
    assert '"file_size" = CASE WHEN EXCLUDED.cdc_is_deleted THEN "dim_design"."file_size"' in merge
    assert '"file_size"' in sql_text(copy_into_stage(plan))
    # the staging table is the table's own shape and constraints (its migration adds the column)
    assert 'LIKE "dim_design" INCLUDING DEFAULTS INCLUDING CONSTRAINTS' in sql_text(
        create_stage(plan)
    )


def test_batches_carry_every_published_column_but_the_warehouse_own_ones():
    payment = schema_of("fact_payment")
    assert "payment_record_id" not in payment.names and "cdc_loaded_at" not in payment.names
    assert "cdc_is_inferred" not in schema_of("dim_staff").names
    assert str(payment.field("payment_amount").type) == "decimal128(10, 2)"
    assert str(schema_of("dim_staff").field("cdc_version").type) == "decimal128(38, 0)"
    assert str(schema_of("fact_sales_order").field("created_time").type) == "time32[ms]"
    assert "dim_date" not in PUBLISHED and len(PUBLISHED) == 10


def test_references_and_the_fact_to_source_map_come_from_the_specs():
    assert dimension_references(spec("fact_sales_order")) == {
        "sales_staff_id": "dim_staff",
        "counterparty_id": "dim_counterparty",
        "currency_id": "dim_currency",
        "design_id": "dim_design",
        "agreed_delivery_location_id": "dim_location",
    }
    assert dimension_references(spec("fact_payment")) == {
        "transaction_id": "dim_transaction",
        "counterparty_id": "dim_counterparty",
        "currency_id": "dim_currency",
        "payment_type_id": "dim_payment_type",
    }
    assert FACT_SOURCES == {
        "fact_sales_order": "sales_order",
        "fact_purchase_order": "purchase_order",
        "fact_payment": "payment",
    }


def test_the_processor_builds_the_added_column_from_the_spec_alone():
    from stream_processor.decode import decode
    from stream_processor.join_state.memory import MemoryJoinState
    from stream_processor.transform import handlers_for
    from tests.stream_processor.fixtures import T0, record

    design = {
        "design_id": 2,
        "design_name": "Wooden",
        "file_location": "/x",
        "file_name": "w.json",
        "created_at": T0,
        "last_updated": T0,
    }
    change = decode(record("design", design, commit=0x10))
    wider = spec("dim_design").with_column(
        Column("file_size", pa.int32(), source=From("file_size")), after="file_name"
    )
    change = dataclasses.replace(change, image={**change.image, "file_size": 512})
    [build] = handlers_for((wider,))["design"]
    [row] = build(change, MemoryJoinState())
    assert row.values["file_size"] == 512 and row.values["design_name"] == "Wooden"
    assert pa.Table.from_pylist([row.values], schema=arrow_schema(wider)).num_rows == 1

"""``merge_sql.stage``: the session-private staging tables (no database)."""

from __future__ import annotations

from tests.warehouse_loader.merge_sql.rendered import text
from tests.warehouse_loader.merge_sql.tables import colour, sale
from warehouse_loader.merge_sql.stage import copy_into_stage, create_stage


def test_a_staging_table_is_the_table_shape_with_its_constraints_dropped_at_commit():
    assert text(create_stage(colour())) == (
        'CREATE TEMP TABLE "stage_dim_colour" (LIKE "dim_colour" INCLUDING DEFAULTS '
        "INCLUDING CONSTRAINTS INCLUDING IDENTITY) ON COMMIT DROP"
    )


def test_a_file_is_copied_into_its_staging_table_by_the_batch_columns_as_csv():
    assert text(copy_into_stage(sale())) == (
        'COPY "stage_fact_sale" ("sale_id", "sold_date", "colour_id", "amount", '
        '"cdc_version", "cdc_operation", "cdc_is_deleted", "cdc_source_updated_at") '
        "FROM STDIN WITH (FORMAT csv)"
    )

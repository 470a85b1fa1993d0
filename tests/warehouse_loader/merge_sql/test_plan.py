"""``merge_sql.plan``: a table's plan from its spec, the lock order, column lists (no
database)."""

from __future__ import annotations

import pytest

from contracts.star_schema import check, spec
from tests.warehouse_loader.merge_sql.rendered import text
from tests.warehouse_loader.merge_sql.tables import COLOUR, SALE, SHELF, colour, sale
from warehouse_loader.merge_sql.plan import WRITE_ORDER, column_list, table_plan


def test_the_small_specs_of_these_tests_are_sound():
    assert check((spec("dim_date"), COLOUR, SHELF, SALE)) == []


def test_a_plan_follows_from_a_spec_outside_the_star_schema():
    p = colour()
    assert (p.table, p.stage, p.is_fact) == ("dim_colour", "stage_dim_colour", False)
    # the batch's columns: the warehouse's own (cdc_is_inferred, cdc_loaded_at, the
    # generation) are not among them
    assert p.columns == (
        "colour_id",
        "colour_name",
        "hex_code",
        "cdc_version",
        "cdc_is_deleted",
        "cdc_source_updated_at",
    )
    fact = sale()
    assert fact.is_fact and fact.date_columns == ("sold_date",)
    assert "sale_record_id" not in fact.columns and fact.columns[0] == "sale_id"


def test_a_column_list_quotes_every_identifier():
    assert text(column_list(["a", "Mixed Case", 'say "hi"'])) == '"a", "Mixed Case", "say ""hi"""'


def test_tables_are_written_in_the_star_schema_order():
    assert WRITE_ORDER[0] == "dim_date"
    assert WRITE_ORDER.index("dim_transaction") < WRITE_ORDER.index("fact_sales_order")
    facts = [i for i, t in enumerate(WRITE_ORDER) if t.startswith("fact_")]
    dimensions = [i for i, t in enumerate(WRITE_ORDER) if t.startswith("dim_")]
    assert max(dimensions) < min(facts), "every dimension before every fact"


def test_an_unknown_table_is_refused():
    with pytest.raises(ValueError, match="no table .dim_secret. among the published"):
        table_plan("dim_secret")


def test_dim_date_is_not_published_the_loader_derives_it():
    with pytest.raises(ValueError, match="no table 'dim_date' among the published"):
        table_plan("dim_date")

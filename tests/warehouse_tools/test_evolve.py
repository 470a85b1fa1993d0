"""``warehouse-loader migrations new``: the migration generated from the specs' difference with
the migrations. No services: the generated file is read back by the DDL reader and held to the
extended specs by the DDL contract test's own comparison."""

from __future__ import annotations

import dataclasses

import pytest
from click.testing import CliRunner

from contracts import star_schema
from contracts.star_schema import INT, SPECS, TEXT, Column, From, history_spec
from tests.contracts.fixtures import differences
from warehouse_loader import migrations
from warehouse_tools import cli, ddl, evolve


def extended(table: str, *columns: Column) -> tuple[star_schema.TableSpec, ...]:
    """The specs with ``columns`` appended to ``table`` (after its last column, as the
    contract's step 2 puts them)."""
    out = []
    for spec in SPECS:
        if spec.name == table:
            for column in columns:
                spec = spec.with_column(column, after=spec.columns[-1].name)
        out.append(spec)
    return tuple(out)


def applied(specs, migration: evolve.NewMigration) -> dict[str, ddl.DdlTable]:
    """The tables the package's migrations and ``migration`` make."""
    return ddl.parse(*(m.sql for m in migrations.available()), migration.sql)


def test_with_no_difference_nothing_is_generated_and_the_command_writes_nothing(tmp_path):
    assert evolve.new_migration("anything") is None
    result = CliRunner().invoke(cli.main, ["migrations", "new", "anything", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "no difference" in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_extra_nullable_dimension_column_gives_a_migration_the_ddl_test_accepts():
    column = Column("file_size", INT, source=From("file_size"))
    specs = extended("dim_design", column)
    migration = evolve.new_migration("design_file_size", specs)
    assert migration is not None
    assert migration.version == max(m.version for m in migrations.available()) + 1
    assert migration.filename == f"{migration.version:04d}_design_file_size.sql"
    tables = applied(specs, migration)
    design = next(s for s in specs if s.name == "dim_design")
    for spec in (*specs, history_spec(design)):
        assert differences(spec, tables[spec.name]) == [], spec.name
    versions = tables["cdc_dim_design_versions"]
    assert [c.name for c in versions.columns][-1] == "file_size"
    # the one fact that references dim_design gets its as-of view again, with the attribute
    assert 'DROP VIEW IF EXISTS "fact_sales_order_as_of"' in migration.sql
    assert '"design"."file_size" AS "design_file_size"' in migration.sql
    assert "fact_payment_as_of" not in migration.sql
    # and once applied, the specs and the migrations agree: nothing more to generate
    done = [*migrations.available(), migrations.Migration(migration.version, "x", migration.sql)]
    assert evolve.new_migration("again", specs, done) is None


def test_an_extra_fact_column_remakes_its_view_only_and_a_bounded_text_keeps_its_length():
    specs = extended(
        "fact_payment",
        Column("payment_reference", TEXT, source=From("payment_reference"), length=20),
    )
    migration = evolve.new_migration("payment_reference", specs)
    assert migration is not None
    tables = applied(specs, migration)
    for spec in specs:
        assert differences(spec, tables[spec.name]) == [], spec.name
    assert 'ADD COLUMN "payment_reference" varchar(20)' in migration.sql
    assert [s for s in migration.sql.split(";") if "DROP VIEW" in s] == [
        '\nDROP VIEW IF EXISTS "fact_payment_as_of"'
    ]


def test_a_reference_added_to_a_fact_is_a_deferrable_foreign_key():
    specs = extended(
        "fact_payment",
        Column("design_id", INT, source=From("design_id"), references="dim_design"),
    )
    migration = evolve.new_migration("payment_design", specs)
    assert 'ADD COLUMN "design_id" integer REFERENCES "dim_design" DEFERRABLE' in migration.sql
    tables = applied(specs, migration)
    assert (
        differences(next(s for s in specs if s.name == "fact_payment"), tables["fact_payment"])
        == []
    )
    assert '"design"."design_name" AS "design_name"' in migration.sql  # the view joins it


@pytest.mark.parametrize(
    "change, reason",
    [
        ("not null", "NOT NULL"),
        ("inserted", "only columns appended"),
        ("retyped", "write it by hand"),
    ],
)
def test_what_is_not_safe_on_a_running_pipeline_is_refused_with_the_reason(change, reason):
    design = star_schema.spec("dim_design")
    if change == "not null":
        specs = extended("dim_design", Column("file_size", INT, nullable=False))
    elif change == "inserted":
        changed = design.with_column(Column("file_size", INT), after="design_name")
        specs = tuple(changed if s.name == "dim_design" else s for s in SPECS)
    else:
        columns = tuple(
            dataclasses.replace(c, type=INT) if c.name == "file_name" else c for c in design.columns
        )
        specs = tuple(
            dataclasses.replace(design, columns=columns) if s.name == "dim_design" else s
            for s in SPECS
        )
    with pytest.raises(evolve.NotGenerated, match=reason):
        evolve.new_migration("x", specs)


def test_a_name_that_is_not_a_migration_name_is_refused():
    with pytest.raises(evolve.NotGenerated, match="lower case"):
        evolve.new_migration("Design File")


def test_the_generated_view_is_the_view_migration_0006_made(tmp_path):
    """The as-of views the generator writes are those 0006 wrote by hand, column for column:
    its view SQL, normalised, against the generator's for the specs as they are."""
    import re

    sql_0006 = next(m.sql for m in migrations.available() if m.version == 6)

    def normal(text: str) -> str:
        return re.sub(r"\s+", " ", text.replace('"', "")).strip()

    for fact in (s for s in SPECS if s.is_fact):
        view = evolve.as_of_view(fact).as_string(None)
        assert normal(view) in normal(sql_0006), fact.name

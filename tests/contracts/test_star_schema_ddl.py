"""Contract B against the warehouse's DDL: the migrations and the spec agree on every table's
columns (names, order, types, text lengths, nullability), keys and references. No services."""

from __future__ import annotations

import dataclasses
from importlib import resources

import pyarrow as pa
import pytest

from contracts.star_schema import HISTORIES, SPECS, Column, Kind, TableSpec, check
from tests.contracts.fixtures import differences, pg_type
from warehouse_tools.ddl import DdlTable, parse


def migrations_ddl() -> dict[str, DdlTable]:
    folder = resources.files("warehouse_loader").joinpath("migrations")
    files = sorted(f for f in folder.iterdir() if f.name.endswith(".sql"))
    return parse(*(f.read_text() for f in files))


def test_the_specs_are_sound():
    assert check() == []


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_the_migrations_create_exactly_the_table_the_spec_declares(spec):
    assert differences(spec, migrations_ddl()[spec.name]) == []


@pytest.mark.parametrize("spec", HISTORIES.values(), ids=lambda s: s.name)
def test_the_migrations_create_exactly_the_history_the_spec_declares(spec):
    assert differences(spec, migrations_ddl()[spec.name]) == []


def test_the_migrations_create_no_star_schema_table_the_spec_lacks():
    tables = {t for t in migrations_ddl() if t.startswith(("dim_", "fact_"))}
    assert tables == {s.name for s in SPECS} | {h.name for h in HISTORIES.values()}


def test_a_disagreement_in_name_order_type_length_nullability_reference_or_key_is_found():
    ddl = migrations_ddl()
    staff = next(s for s in SPECS if s.name == "dim_staff")
    payment = next(s for s in SPECS if s.name == "fact_payment")
    currency = next(s for s in SPECS if s.name == "dim_currency")

    def with_column(spec: TableSpec, name: str, **change) -> TableSpec:
        columns = tuple(
            dataclasses.replace(c, **change) if c.name == name else c for c in spec.columns
        )
        return dataclasses.replace(spec, columns=columns)

    swapped = dataclasses.replace(
        staff, columns=(staff.columns[0], staff.columns[2], staff.columns[1], *staff.columns[3:])
    )
    cases = {
        "order": (swapped, "columns"),
        "type": (with_column(staff, "first_name", type=pa.int32()), "but DDL text"),
        "longer": (with_column(currency, "currency_code", length=4), "length 4 but DDL varchar(3)"),
        "unbounded": (with_column(currency, "currency_code", length=None), "length None but"),
        "bounded": (with_column(staff, "first_name", length=40), "length 40 but DDL text"),
        "nullability": (with_column(staff, "email_address", nullable=False), "nullable False"),
        "reference": (with_column(payment, "currency_id", references=None), "references None"),
        "key": (dataclasses.replace(staff, key="first_name"), "primary key"),
        "fact key": (dataclasses.replace(payment, key="transaction_id"), "no UNIQUE"),
        "extra column": (
            staff.with_column(Column("nickname", pa.string(), source=None), after="last_name"),
            "columns",
        ),
    }
    for what, (spec, expected) in cases.items():
        found = differences(spec, ddl[spec.name])
        assert any(expected in d for d in found), (what, found)


def test_the_reader_finds_text_lengths_and_only_varchar_holds_a_length():
    table = parse(
        "CREATE TABLE t (e integer PRIMARY KEY, a varchar(3), b varchar (12), c char(2), d text);"
    )["t"]
    assert [c.length for c in table.columns] == [None, 3, 12, 2, None]
    assert pg_type(pa.string(), 3) == {"varchar(3)"} and pg_type(pa.string()) == {"text"}
    spec = TableSpec(
        "t",
        Kind.DIMENSION,
        "e",
        (
            Column("e", pa.int32(), nullable=False),
            Column("a", pa.string(), length=3),
            Column("b", pa.string(), length=12),
            Column("c", pa.string(), length=2),  # char(n) pads with blanks: not the spec's text
            Column("d", pa.string()),
        ),
    )
    assert differences(spec, table) == ["t.c: string but DDL char(2)"]


def test_a_migration_statement_the_reader_does_not_understand_fails_loudly():
    with pytest.raises(ValueError, match="not understood"):
        parse(
            "CREATE TABLE dim_staff (staff_id integer PRIMARY KEY);",
            "ALTER TABLE dim_staff DROP COLUMN staff_id;",
        )


def test_the_load_ledger_is_keyed_by_manifest_and_generation():
    ledger = migrations_ddl()["cdc_load_ledger"]
    assert ledger.primary_key == ("manifest_key", "generation")
    assert not ledger.column("generation").nullable

"""The comparison of what the source sends with Contract A (contracts/schema_drift.py)."""

from __future__ import annotations

from contracts.change_records import SOURCE_TABLES
from contracts.schema_drift import (
    COLUMN_ADDED,
    COLUMN_GONE,
    COLUMN_TYPE_CHANGED,
    TABLE_ADDED,
    TABLE_DROPPED,
    Drift,
    drift_of_columns,
    drift_of_keys,
    drift_of_table_def,
)

# design as DMS describes it today: the DMS types a PostgreSQL source's types become.
DESIGN = {
    "design_id": "INT4",
    "created_at": "DATETIME",
    "design_name": "WSTRING",
    "file_location": "WSTRING",
    "file_name": "WSTRING",
    "last_updated": "DATETIME",
}


def kinds(drifts: list[Drift]) -> list[tuple[str, str]]:
    return [(d.kind, d.column) for d in drifts]


def test_the_contract_itself_is_no_drift_by_kind_or_by_dms_type():
    for table, columns in SOURCE_TABLES.items():
        assert drift_of_columns(table, columns) == [], table
    assert drift_of_columns("design", DESIGN) == []
    # the local capture engine's earlier names are read as DMS's
    assert drift_of_columns("design", {**DESIGN, "design_id": "int32"}) == []


def test_an_added_column_is_drift_that_does_not_break():
    [drift] = drift_of_columns("design", {**DESIGN, "licence": "WSTRING"})
    assert (drift.kind, drift.column, drift.breaking) == (COLUMN_ADDED, "licence", False)
    assert (
        str(drift) == "schema drift: design.licence column added (not in Contract A: not carried)"
    )


def test_a_gone_column_breaks_only_when_the_contract_has_it_not_null():
    address = dict.fromkeys(SOURCE_TABLES["address"], "")
    del address["district"], address["city"]
    drifts = {d.column: d for d in drift_of_columns("address", address)}
    assert drifts["district"].kind == COLUMN_GONE and not drifts["district"].breaking
    assert "loads as NULL" in drifts["district"].detail
    assert drifts["city"].kind == COLUMN_GONE and drifts["city"].breaking


def test_a_type_change_breaks_when_the_kind_cannot_take_its_values():
    widened = drift_of_columns("design", {**DESIGN, "design_id": "INT8"})
    assert kinds(widened) == [(COLUMN_TYPE_CHANGED, "design_id")]
    assert not widened[0].breaking and "INT8" in widened[0].detail
    [to_number] = drift_of_columns("design", {**DESIGN, "design_name": "int4"})
    assert to_number.kind == COLUMN_TYPE_CHANGED and to_number.breaking
    [by_kind] = drift_of_columns("design", {**DESIGN, "design_name": "int"})
    assert by_kind.breaking and by_kind.detail == "now int, Contract A has text"


def test_an_unknown_table_is_added_and_dms_own_tables_are_not_drift():
    [drift] = drift_of_columns("ledger", {"ledger_id": "INT4"})
    assert (drift.table, drift.kind, drift.column, drift.breaking) == (
        "ledger",
        TABLE_ADDED,
        "",
        True,
    )
    assert drift_of_columns("awsdms_apply_exceptions", {"TASK_NAME": "STRING"}) == []


def test_a_data_record_gone_column_is_drift_but_not_a_delete_missing_one():
    keys = [c for c in SOURCE_TABLES["department"] if c != "manager"]
    assert kinds(drift_of_keys("department", "update", keys)) == [(COLUMN_GONE, "manager")]
    assert drift_of_keys("department", "delete", ["department_id"]) == []
    extra = drift_of_keys("department", "delete", ["department_id", "budget"])
    assert kinds(extra) == [(COLUMN_ADDED, "budget")]
    assert drift_of_keys("department", "insert", list(SOURCE_TABLES["department"])) == []


def test_control_records_table_def_and_drop_table():
    columns = {c: {"type": t, "nullable": False} for c, t in DESIGN.items()}
    assert drift_of_table_def("design", "create-table", {"columns": columns}) == []
    del columns["file_name"]
    gone = drift_of_table_def("design", "drop-column", {"columns": columns})
    assert kinds(gone) == [(COLUMN_GONE, "file_name")]
    [dropped] = drift_of_table_def("design", "drop-table", None)
    assert dropped.kind == TABLE_DROPPED and not dropped.breaking
    assert drift_of_table_def("ledger", "drop-table", None) == []
    # without IncludeControlDetails there is nothing to compare but the table
    assert drift_of_table_def("design", "add-column", {}) == []
    assert kinds(drift_of_table_def("ledger", "create-table", {})) == [(TABLE_ADDED, "")]

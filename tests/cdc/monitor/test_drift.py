"""The source's catalogue against Contract A (``cdc.monitor.drift``): each drift named, and
the breaking ones reported as problems."""

from __future__ import annotations

import json

from cdc.monitor import drift
from cdc.monitor.model import Thresholds, problems
from contracts.change_records import SOURCE_TABLES
from contracts.schema_drift import (
    COLUMN_ADDED,
    COLUMN_GONE,
    COLUMN_TYPE_CHANGED,
    TABLE_ADDED,
    TABLE_DROPPED,
)
from tests.cdc.monitor.fixtures import health

# ToteSys as DMS would name its types today: no drift
KIND_DMS = {"int": "INT4", "text": "WSTRING", "numeric": "NUMERIC", "bool": "BOOLEAN"}
KIND_DMS |= {"timestamp": "DATETIME", "date_text": "NCLOB"}
TOTESYS = {t: {c: KIND_DMS[k] for c, k in cols.items()} for t, cols in SOURCE_TABLES.items()}


def test_the_source_catalogue_as_contract_a_is_no_drift_and_each_drift_is_named():
    assert drift.source_drift(TOTESYS) == [] and drift.summary([]) == "as Contract A"
    assert drift.source_drift({**TOTESYS, "awsdms_ddl_audit": {"c_key": "INT8"}}) == []
    altered = {t: dict(c) for t, c in TOTESYS.items()}
    altered["design"]["licence"] = "NCLOB"  # ADD COLUMN
    del altered["department"]["manager"]  # DROP COLUMN of a nullable column
    del altered["address"]["city"]  # DROP COLUMN of a NOT NULL one
    altered["sales_order"]["units_sold"] = "INT8"  # ALTER COLUMN TYPE bigint: still decodes
    altered["payment"]["paid"] = "INT2"  # a bool that became a number: does not
    altered["audit_log"] = {"id": "INT4"}  # CREATE TABLE
    del altered["currency"]  # DROP TABLE
    found = {(d.table, d.kind, d.column): d.breaking for d in drift.source_drift(altered)}
    assert found == {
        ("address", COLUMN_GONE, "city"): True,
        ("audit_log", TABLE_ADDED, ""): False,
        ("currency", TABLE_DROPPED, ""): False,
        ("department", COLUMN_GONE, "manager"): False,
        ("design", COLUMN_ADDED, "licence"): False,
        ("payment", COLUMN_TYPE_CHANGED, "paid"): True,
        ("sales_order", COLUMN_TYPE_CHANGED, "units_sold"): False,
    }
    seen = drift.with_source_drift(health(), None)
    assert seen.source_drift is None and "source schema not checked" in seen.notes[-1]
    drifted = health(source_drift=drift.source_drift(altered))
    assert [p for p in problems(drifted, Thresholds())] == [
        "source schema drift: address.city column gone (NOT NULL in Contract A: the table's "
        "insert, update and load records are refused)",
        "source schema drift: payment.paid column type changed (now INT2, Contract A has bool: "
        "its values do not decode as bool)",
    ]
    line = drift.summary(drifted.source_drift)
    assert "BREAKING address.city column gone" in line and "design.licence column added" in line
    assert json.loads(json.dumps(drifted.to_json()))["source_drift"][0]["table"] == "address"


def test_postgresql_types_are_named_as_dms_names_them():
    assert [drift.dms_type(t) for t in ("int4", "int8", "varchar", "text", "timestamp")] == [
        "INT4",
        "INT8",
        "WSTRING",
        "NCLOB",
        "DATETIME",
    ]
    assert drift.dms_type("TransactionType", "e") == "WSTRING"
    assert drift.dms_type("uuid") == "UUID"  # no kind takes it: drift

"""Schema drift in the processor: each record compared with Contract A, each distinct drift one
``schema_drift`` event per process and a ``SchemaDrift`` figure, and the policy
(``TOTESYS_CDC_SCHEMA_CHANGES``) deciding what carries on.

The control records below are written by hand in DMS's shapes, not by our encoder:

- the envelope (``metadata``: ``record-type: control``, ``operation``, ``partition-key-type:
  task-id``, ``partition-key-value`` the task id, ``schema-name``, ``table-name``; and
  ``control.table-def`` with ``columns`` (name → ``{"type", "nullable"}``) and
  ``primary-key``) is the ``create-table`` record DMS published from an RDS PostgreSQL source
  to Kinesis, crate/cratedb-toolkit tests/io/kinesis/data.py (``{"id": {"type": "INT32",
  "nullable": false}, "name": {"type": "STRING", ...}}``), with DMS's own create-table record
  of ``awsdms_apply_exceptions`` (tests/fixtures/dms/control_apply_exceptions.json: ``DATETIME``,
  ``STRING`` with a ``length``);
- the table-def is the table's definition as it is, column definitions included
  (``IncludeControlDetails``: "detailed control information for table definition, column
  definition, and table and column changes", "KinesisSettings", AWS DMS API Reference), so a
  control record for an ``ALTER TABLE`` carries the table after the change;
- the operations: ``add-column``, ``drop-column``, ``rename-column`` and ``drop-table`` are
  ``IncludeTableAlterOperations``'s ("rename-table, drop-table, add-column, drop-column, and
  rename-column", the same page); ``column-type-change`` is in the list of control operations
  of DMS's message format ("For control records, the operation can be create-table,
  rename-table, drop-table, change-columns, add-column, drop-column, rename-column, or
  column-type-change", "Using Apache Kafka as a target for AWS Database Migration Service",
  AWS DMS User Guide, as quoted in apache/paimon#4432);
- the type names, DMS's (``contracts.schema_drift``): INT32/INT64 as that published record
  writes them, WSTRING and the others from "Data types for AWS Database Migration Service".
"""

from __future__ import annotations

import json

import pytest

from contracts.batches import MemoryStore
from contracts.change_records import INT, NULLABLE, SOURCE_TABLES, TEXT, TIMESTAMP
from contracts.schema_drift import COLUMN_ADDED, COLUMN_GONE, COLUMN_TYPE_CHANGED, TABLE_DROPPED
from stream_processor.config import ConfigError, ProcessorConfig, load
from stream_processor.decode import Change, Control, decode
from stream_processor.drift import DriftRegistry
from stream_processor.join_state.memory import MemoryJoinState
from stream_processor.shard import ShardProcessor
from tests.stream_processor.fixtures import ADDRESS, DEPT, SALE, record

TASK = "DZ6OKLFYA5BWVG4RYROQUHXU4E"
DESIGN = {
    "design_id": 8,
    "created_at": "2026-11-01 10:00:00.000",
    "design_name": "Wooden",
    "file_location": "/usr/designs",
    "file_name": "wooden-20261101.json",
    "last_updated": "2026-11-01 10:00:00.000",
}
PLACE = {**ADDRESS, "district": "Headingley"}  # the source had a value: the key's absence counts
# How DMS names each Contract A kind's PostgreSQL type in a table-def (the module docstring).
DMS_TYPES = {
    INT: "INT32",
    TEXT: "STRING",
    "numeric": "NUMERIC",
    "bool": "BOOLEAN",
    TIMESTAMP: "DATETIME",
    "date_text": "STRING",
}


def columns_of(table: str) -> dict[str, dict]:
    """``table``'s table-def columns as DMS writes them, for the table as Contract A has it."""
    return {
        c: {"type": DMS_TYPES[kind], "nullable": c in NULLABLE.get(table, ())}
        for c, kind in SOURCE_TABLES[table].items()
    }


def control(table: str, operation: str, columns: dict[str, dict] | None) -> bytes:
    body: dict = {
        "metadata": {
            "timestamp": "2026-11-25T12:00:00.195247Z",
            "record-type": "control",
            "operation": operation,
            "partition-key-type": "task-id",
            "partition-key-value": TASK,
            "schema-name": "public",
            "table-name": table,
        }
    }
    if columns is not None:
        body["control"] = {"table-def": {"columns": columns, "primary-key": [f"{table}_id"]}}
    return json.dumps(body).encode()


def add_column() -> bytes:  # ALTER TABLE design ADD COLUMN licence varchar
    return control("design", "add-column", {**columns_of("design"), "licence": {"type": "WSTRING"}})


def drop_column() -> bytes:  # ALTER TABLE design DROP COLUMN file_name
    columns = columns_of("design")
    del columns["file_name"]
    return control("design", "drop-column", columns)


def column_type_change() -> bytes:  # ALTER TABLE sales_order ALTER units_sold TYPE bigint
    columns = columns_of("sales_order")
    columns["units_sold"] = {"type": "INT64", "nullable": False}
    return control("sales_order", "column-type-change", columns)


def rename_column() -> bytes:  # ALTER TABLE design RENAME design_name TO name
    columns = {("name" if c == "design_name" else c): d for c, d in columns_of("design").items()}
    return control("design", "rename-column", columns)


def drop_table() -> bytes:  # DROP TABLE design
    return control("design", "drop-table", None)


def kinds(drift) -> list[tuple[str, str]]:
    return [(d.kind, d.column) for d in drift]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (add_column, [(COLUMN_ADDED, "licence")]),
        (drop_column, [(COLUMN_GONE, "file_name")]),
        (column_type_change, [(COLUMN_TYPE_CHANGED, "units_sold")]),
        (rename_column, [(COLUMN_GONE, "design_name"), (COLUMN_ADDED, "name")]),
        (drop_table, [(TABLE_DROPPED, "")]),
    ],
    ids=["add-column", "drop-column", "column-type-change", "rename-column", "drop-table"],
)
def test_each_dms_control_record_is_the_drift_it_describes(raw, expected):
    decoded = decode(raw())
    assert isinstance(decoded, Control)
    assert sorted(kinds(decoded.drift)) == sorted(expected)


def test_the_contract_itself_in_a_control_record_and_dms_own_tables_are_no_drift():
    assert decode(control("payment", "create-table", columns_of("payment"))).drift == ()
    with open("tests/fixtures/dms/control_apply_exceptions.json", "rb") as f:
        assert decode(f.read()).drift == ()


def test_a_wider_type_carries_on_and_a_type_whose_values_do_not_decode_breaks():
    [widened] = decode(column_type_change()).drift
    assert not widened.breaking and "INT8" in widened.detail
    columns = {**columns_of("design"), "design_name": {"type": "INT32", "nullable": False}}
    [narrowed] = decode(control("design", "column-type-change", columns)).drift
    assert narrowed.breaking


def test_a_delete_missing_columns_is_no_drift():
    delete = json.loads(record("department", DEPT, "delete", commit=0x20))
    delete["data"] = {"department_id": DEPT["department_id"]}  # what the source logged
    change = decode(json.dumps(delete).encode())
    assert isinstance(change, Change) and change.drift == ()
    assert decode(record("department", DEPT, commit=0x21)).drift == ()


# --- through the shard: events, the figure, the policy -------------------------------------


def shard(
    policy: str = "lenient", drifts: DriftRegistry | None = None
) -> tuple[ShardProcessor, MemoryStore, list[dict]]:
    store, figures = MemoryStore(), []
    cfg = ProcessorConfig(bucket="b", state_table="s", max_batch_age_s=3600, schema_changes=policy)
    p = ShardProcessor(
        "shardId-000000000001",
        MemoryJoinState(),
        store,
        cfg,
        lambda _shard, f: figures.append(f),
        drifts if drifts is not None else DriftRegistry(),
    )
    return p, store, figures


def events(capsys, name: str) -> list[dict]:
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    return [e for e in lines if e.get("event") == name]


def with_data(table: str, row: dict, operation: str = "update", commit: int = 0x30, **edit):
    """A record of ``row`` whose ``data`` has ``edit`` applied (a value None: the key gone)."""
    body = json.loads(record(table, row, operation, commit=commit))
    for column, value in edit.items():
        if value is None:
            del body["data"][column]
        else:
            body["data"][column] = value
    return json.dumps(body).encode()


def dead_letters(store: MemoryStore) -> list[dict]:
    return [
        json.loads(store.get(k)) for k in sorted(store.keys("dead-letters/")) if k.endswith(".json")
    ]


def test_each_drift_is_one_event_per_process_however_many_records_show_it(capsys):
    drifts = DriftRegistry()
    p, _, figures = shard(drifts=drifts)
    seq = iter(range(1, 100))
    p.process(str(next(seq)), "k", add_column())
    for i in range(5):
        new = with_data("design", {**DESIGN, "design_id": 10 + i}, commit=0x40 + i, licence="CC")
        p.process(str(next(seq)), "k", new)
    p.process(str(next(seq)), "k", add_column())
    p.commit(lambda _seq: True)
    [event] = events(capsys, "schema_drift")
    assert (event["level"], event["table"], event["kind"], event["column"]) == (
        "WARNING",
        "design",
        COLUMN_ADDED,
        "licence",
    )
    assert event["policy"] == "lenient" and event["sequence_number"] == "1"
    assert figures[-1]["SchemaDrift"] == 1
    # another shard of the same process: already reported
    other, _, other_figures = shard(drifts=drifts)
    other.process("1", "k", add_column())
    other.commit(lambda _seq: True)
    assert events(capsys, "schema_drift") == [] and other_figures[-1]["SchemaDrift"] == 0
    # the next commit of the first shard counts only what is new since
    p.process(str(next(seq)), "k", drop_table())
    p.process(str(next(seq)), "k", add_column())
    p.commit(lambda _seq: True)
    assert [e["kind"] for e in events(capsys, "schema_drift")] == [TABLE_DROPPED]
    assert figures[-1]["SchemaDrift"] == 1 and p.metrics.schema_drifts == 2


def test_lenient_a_gone_nullable_column_loads_as_null_and_a_gone_not_null_one_is_dead(capsys):
    p, store, figures = shard()
    p.process("1", "k", with_data("address", PLACE, district=None))
    p.process("2", "k", with_data("address", {**PLACE, "address_id": 9}, district=None))
    p.process("3", "k", with_data("design", DESIGN, file_name=None))
    p.process("4", "k", record("sales_order", SALE, commit=0x32))  # other tables carry on
    result = p.commit(lambda _seq: True)
    assert result.files == {"dim_location": 2, "fact_sales_order": 1}
    [letter] = dead_letters(store)
    assert letter["cause"] == "bad_record"
    assert "design update record is missing column file_name" in letter["reason"]
    assert "schema drift: design.file_name column gone (NOT NULL in Contract A" in letter["reason"]
    drift = {(e["table"], e["column"]): e for e in events(capsys, "schema_drift")}
    assert drift[("address", "district")]["breaking"] is False
    assert drift[("design", "file_name")]["breaking"] is True
    assert len(drift) == 2 and figures[-1]["SchemaDrift"] == 2


def test_lenient_the_gone_nullable_column_is_null_in_the_row():
    from stream_processor.transform import transform

    change = decode(with_data("address", PLACE, district=None))
    assert change.image["district"] is None and kinds(change.drift) == [(COLUMN_GONE, "district")]
    [row] = [r for r in transform(change, MemoryJoinState()).rows if r.table == "dim_location"]
    assert row.values["district"] is None and row.values["city"] == PLACE["city"]


def test_lenient_an_added_column_carries_on_and_strict_dead_letters_it():
    added = with_data("design", DESIGN, "insert", licence="CC-BY")
    lenient, store, _ = shard()
    lenient.process("1", "k", added)
    assert lenient.commit(lambda _seq: True).files == {"dim_design": 1}
    assert dead_letters(store) == []

    strict, store, _ = shard("strict")
    strict.process("1", "k", added)
    strict.process("2", "k", add_column())
    strict.process("3", "k", record("design", {**DESIGN, "design_id": 9}, commit=0x50))
    assert strict.commit(lambda _seq: True).files == {"dim_design": 1}  # the contract's record
    data, notice = dead_letters(store)
    assert data["cause"] == notice["cause"] == "bad_record"
    assert "policy is strict" in data["reason"]
    assert "schema drift: design.licence column added" in data["reason"]
    assert notice["reason"].startswith("design add-column record differs from Contract A")


def test_strict_dead_letters_a_gone_nullable_column_too():
    p, store, _ = shard("strict")
    p.process("1", "k", with_data("address", PLACE, district=None))
    [letter] = dead_letters(store)
    assert "schema drift: address.district column gone" in letter["reason"]


def test_a_value_that_no_longer_decodes_after_a_type_change_names_the_change():
    p, store, _ = shard()
    columns = {**columns_of("design"), "design_name": {"type": "INT32", "nullable": False}}
    p.process("1", "k", control("design", "column-type-change", columns))
    p.process("2", "k", with_data("design", DESIGN, "insert", design_name=42))
    [letter] = dead_letters(store)
    assert letter["reason"].startswith("design.design_name = 42: expected a string; ")
    assert "schema drift: design.design_name column type changed (now INT4" in letter["reason"]


def test_the_policy_is_one_setting_lenient_by_default():
    env = {"TOTESYS_CDC_BATCH_BUCKET": "b", "TOTESYS_CDC_STATE_TABLE": "s"}
    assert load(env).schema_changes == "lenient" and not load(env).strict
    assert load({**env, "TOTESYS_CDC_SCHEMA_CHANGES": "Strict"}).strict
    with pytest.raises(ConfigError, match="TOTESYS_CDC_SCHEMA_CHANGES"):
        load({**env, "TOTESYS_CDC_SCHEMA_CHANGES": "evolve"})

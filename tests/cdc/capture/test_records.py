"""Contract A records, built from plain values."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdc.capture import records
from cdc.capture.records import ColumnDef, TableDef, TransactionPosition
from contracts.change_records import SOURCE_TABLES, version_of
from stream_processor.decode import decode
from stream_processor.join_state.memory import MemoryJoinState
from stream_processor.transform import transform

PAYMENT = TableDef(
    "public",
    "payment",
    (
        ColumnDef("payment_id", 23, False),
        ColumnDef("payment_amount", 1700, False),
        ColumnDef("paid", 16, False),
        ColumnDef("last_updated", 1114, False),
        ColumnDef("payment_date", 25, False),
    ),
    ("payment_id",),
)
NOW = datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)


def test_values_are_encoded_as_dms_writes_them():
    assert records.encode_value(23, "17") == 17
    assert records.encode_value(1700, "3.80") == "3.80"
    assert records.encode_value(16, "t") is True and records.encode_value(16, "f") is False
    assert records.encode_value(1114, "2026-01-01 10:00:00.12") == "2026-01-01T10:00:00.120000Z"
    assert records.encode_value(1114, "2026-01-01 10:00:00") == "2026-01-01T10:00:00Z"
    assert records.encode_value(1184, "2026-01-01 11:00:00+01") == "2026-01-01T10:00:00Z"
    assert records.encode_value(25, "it's") == "it's"
    assert records.encode_value(23, None) is None


def test_a_value_that_does_not_fit_its_type_is_an_encoding_error():
    with pytest.raises(records.EncodingError, match="'yes'"):
        records.encode_value(16, "yes")


def test_a_cdc_record_has_dms_metadata_and_one_line_of_json():
    position = TransactionPosition(
        xid=1140,
        record_id=2,
        commit_lsn=0x2_7C007328,
        change_lsn=0x2_7C007300,
        commit_time=NOW,
        previous=(1140, 1),
    )
    out = records.data_record(
        PAYMENT,
        "update",
        ["17", "10.00", "t", "2026-11-25 11:59:59.5", "2026-11-26"],
        now=NOW,
        position=position,
    )
    assert out.partition_key == "public.payment.17"
    assert out.data.endswith(b"\n") and out.data.count(b"\n") == 1
    body = json.loads(out.data)
    assert body["data"] == {
        "payment_id": 17,
        "payment_amount": "10.00",
        "paid": True,
        "last_updated": "2026-11-25T11:59:59.500000Z",
        "payment_date": "2026-11-26",
    }
    assert body["metadata"] == {
        "timestamp": "2026-11-25T12:00:00.123456Z",
        "record-type": "data",
        "operation": "update",
        "partition-key-type": "primary-key",
        "partition-key-value": "public.payment.17",
        "schema-name": "public",
        "table-name": "payment",
        "transaction-id": 1140,
        "transaction-record-id": 2,
        "prev-transaction-id": 1140,
        "prev-transaction-record-id": 1,
        "commit-timestamp": "2026-11-25T12:00:00.123456Z",
        "stream-position": "00000002/7C007328.2.00000002/7C007300",
    }
    assert version_of(body["metadata"]) == (0x2_7C007328 << 32) | 2


def test_a_load_record_has_no_transaction_details_and_the_lowest_version():
    body = json.loads(
        records.data_record(
            PAYMENT, "load", ["1", "1.00", "f", "2026-01-01 00:00:00", "2026-01-02"], now=NOW
        ).data
    )
    assert "stream-position" not in body["metadata"] and "transaction-id" not in body["metadata"]
    assert version_of(body["metadata"]) == 0


def test_versions_order_changes_by_commit_position_then_place_in_the_transaction():
    def meta(commit: int, record_id: int) -> dict:
        pos = TransactionPosition(1, record_id, commit, commit - 8, NOW, None)
        return {
            "operation": "update",
            "stream-position": pos.stream_position,
            "transaction-record-id": record_id,
        }

    assert version_of(meta(0x100, 1)) < version_of(meta(0x100, 2)) < version_of(meta(0x200, 1))
    with pytest.raises(ValueError, match="without transaction details"):
        version_of({"operation": "update"})


def test_a_control_record_describes_the_table_and_is_partitioned_by_task_and_table():
    out = records.control_record(PAYMENT, "add-column", task_id="task-1", now=NOW)
    body = json.loads(out.data)
    # DMS: partition-key-value the task id; the Kinesis key TaskId.SchemaName.TableName.
    assert out.partition_key == "task-1.public.payment"
    assert body["metadata"]["partition-key-type"] == "task-id"
    assert body["metadata"]["partition-key-value"] == "task-1"
    assert (
        body["metadata"]["record-type"] == "control"
        and body["metadata"]["operation"] == "add-column"
    )
    assert body["control"]["table-def"]["columns"]["paid"] == {"nullable": False, "type": "BOOLEAN"}
    assert body["control"]["table-def"]["primary-key"] == ["payment_id"]


def known(*columns: tuple) -> list[records.KnownColumn]:
    return [records.KnownColumn(*c) for c in columns]


DESIGN = known(("design_id", 23, -1, 1), ("design_name", 25, -1, 2), ("file_name", 1043, 104, 3))


def test_alter_operations_tell_added_gone_renamed_and_retyped_columns_apart():
    assert records.alter_operations(DESIGN, DESIGN) == []
    added = [*DESIGN, records.KnownColumn("licence", 25, -1, 4)]
    assert records.alter_operations(DESIGN, added) == [("add-column", ("licence",))]
    assert records.alter_operations(added, DESIGN) == [("drop-column", ("licence",))]
    # ALTER COLUMN TYPE keeps the name and the attnum; the type OID or its modifier changes
    widened = known(
        ("design_id", 20, -1, 1), ("design_name", 25, -1, 2), ("file_name", 1043, 204, 3)
    )
    assert records.alter_operations(DESIGN, widened) == [
        ("column-type-change", ("design_id", "file_name"))
    ]
    # a rename keeps the attnum; a drop and add of the same name gets a new one
    renamed = known(("design_id", 23, -1, 1), ("title", 25, -1, 2), ("file_name", 1043, 104, 3))
    assert records.alter_operations(DESIGN, renamed) == [("rename-column", ("title",))]
    readded = known(("design_id", 23, -1, 1), ("file_name", 1043, 104, 3), ("title", 25, -1, 4))
    assert records.alter_operations(DESIGN, readded) == [
        ("drop-column", ("design_name",)),
        ("add-column", ("title",)),
    ]
    renamed_and_retyped = [*renamed[:1], records.KnownColumn("title", 1043, 54, 2), renamed[2]]
    assert records.alter_operations(DESIGN, renamed_and_retyped) == [
        ("rename-column", ("title",)),
        ("column-type-change", ("title",)),
    ]


def test_without_attnums_a_rename_is_a_drop_and_an_add_and_unknown_types_never_change():
    # pgoutput alone cannot tell a rename from a drop and add: it carries no attnum
    before = [records.KnownColumn("design_id", 23), records.KnownColumn("design_name", 25)]
    after = [records.KnownColumn("design_id", 23), records.KnownColumn("title", 25)]
    assert records.alter_operations(before, after) == [
        ("drop-column", ("design_name",)),
        ("add-column", ("title",)),
    ]
    names_only = [records.KnownColumn("design_id"), records.KnownColumn("design_name")]
    assert records.alter_operations(names_only, before) == []
    # the type modifier is compared only when both sides know it
    assert records.alter_operations(known(("a", 1043, None, 1)), known(("a", 1043, 54, 1))) == []


def test_a_control_record_of_each_alter_operation_has_dms_shape_and_others_are_refused():
    for operation in ("add-column", "drop-column", "rename-column", "column-type-change"):
        body = json.loads(records.control_record(PAYMENT, operation, task_id="t", now=NOW).data)
        assert set(body) == {"control", "metadata"}
        assert set(body["control"]) == {"table-def"}
        assert set(body["control"]["table-def"]) == {"columns", "primary-key"}
        assert body["metadata"] == {
            "timestamp": "2026-11-25T12:00:00.123456Z",
            "record-type": "control",
            "operation": operation,
            "partition-key-type": "task-id",
            "partition-key-value": "t",
            "schema-name": "public",
            "table-name": "payment",
        }
    with pytest.raises(ValueError, match="control operation"):
        records.control_record(PAYMENT, "alter-table", task_id="t", now=NOW)


POSITION = TransactionPosition(1140, 1, 0x2_7C007328, 0x2_7C007300, NOW, (1139, 3))
PAYMENT_ROW = {
    "payment_id": "17",
    "created_at": "2026-11-25 11:00:00",
    "last_updated": "2026-11-25 11:59:59.5",
    "transaction_id": "4",
    "counterparty_id": "2",
    "payment_amount": "10.00",
    "currency_id": "1",
    "payment_type_id": "3",
    "paid": "t",
    "payment_date": "2026-11-26",
    "company_ac_number": "12345678",
    "counterparty_ac_number": "87654321",
}


def payment(operation: str, partitioning: str) -> records.OutRecord:
    values = [PAYMENT_ROW[c] for c in SOURCE_TABLES["payment"]]
    position = None if operation == "load" else POSITION
    return records.data_record(
        records.table_def("payment"),
        operation,
        values,
        now=NOW,
        position=position,
        partitioning=partitioning,
    )


@pytest.mark.parametrize("operation", ["insert", "update", "delete"])
def test_schema_table_partitioning_gives_cdc_records_the_shape_dms_writes_without_mappings(
    operation,
):
    out = payment(operation, records.SCHEMA_TABLE)
    metadata = json.loads(out.data)["metadata"]
    assert out.partition_key == "public.payment"  # every change of the table: one shard
    assert metadata["partition-key-type"] == "schema-table"
    assert "partition-key-value" not in metadata
    by_key = json.loads(payment(operation, records.PRIMARY_KEY).data)["metadata"]
    assert by_key.pop("partition-key-value") == "public.payment.17"
    assert {**by_key, "partition-key-type": "schema-table"} == metadata  # nothing else differs


def test_load_records_go_by_primary_key_in_either_partitioning():
    for partitioning in records.PARTITIONINGS:
        out = payment("load", partitioning)
        metadata = json.loads(out.data)["metadata"]
        assert out.partition_key == metadata["partition-key-value"] == "public.payment.17"
        assert metadata["partition-key-type"] == "primary-key"
    with pytest.raises(ValueError, match="partitioning"):
        payment("load", "table")


@pytest.mark.parametrize("operation", ["insert", "update", "delete"])
def test_the_stream_processor_reads_both_shapes_as_the_same_change(operation):
    """The processor never reads the partition fields: a schema-table record gives the same
    change and the same warehouse rows as the primary-key one."""
    by_key = decode(payment(operation, records.PRIMARY_KEY).data)
    by_table = decode(payment(operation, records.SCHEMA_TABLE).data)
    assert by_table == by_key
    assert (by_table.table, by_table.key, by_table.operation) == ("payment", 17, operation)
    assert transform(by_table, MemoryJoinState()).rows == transform(by_key, MemoryJoinState()).rows
    assert transform(by_table, MemoryJoinState()).rows


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(record=st.dictionaries(st.text(), _json_values, max_size=6))
def test_records_serialise_to_the_same_bytes_as_the_standard_librarys_compact_json(record):
    try:
        expected = (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
    except UnicodeEncodeError:  # a lone surrogate: no source text holds one
        return
    assert records._serialise(record) == expected


@given(moment=st.datetimes(min_value=datetime(1000, 1, 1)))
def test_dms_timestamps_have_microseconds_only_when_there_are_any(moment):
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    expected = f"{text}.{moment.microsecond:06d}Z" if moment.microsecond else f"{text}Z"
    assert records.dms_timestamp(moment) == expected

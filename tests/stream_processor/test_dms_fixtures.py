"""Records in DMS's own shapes (tests/fixtures/dms/, written from the public descriptions, not
by our encoder): what the decoder takes, what it refuses and why, and a primary-key change."""

from __future__ import annotations

import psycopg
import pytest

from contracts.batches import MemoryStore
from local_stack.services.config import WAREHOUSE
from stream_processor.config import ProcessorConfig
from stream_processor.decode import Change, Control, DecodeError, decode
from stream_processor.join_state.memory import MemoryJoinState
from stream_processor.shard import ShardProcessor
from stream_processor.transform import transform
from tests.fixtures import ROOT
from warehouse_loader import migrations
from warehouse_loader.load import load_manifest

FIXTURES = ROOT / "tests" / "fixtures" / "dms"


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def rows(raw: bytes) -> list:
    return list(transform(decode(raw), MemoryJoinState()).rows)


def test_an_absent_nullable_column_is_null_and_an_absent_not_null_one_is_an_error():
    change = decode(fixture("load_null_columns_absent"))
    assert change.image["address_line_2"] is None and change.image["district"] is None
    with pytest.raises(DecodeError, match="address load record is missing column city"):
        decode(fixture("load_not_null_column_absent"))


def test_a_record_without_transaction_details_names_the_setting_to_turn_on():
    with pytest.raises(DecodeError, match="IncludeTransactionDetails"):
        decode(fixture("update_without_transaction_details"))


def test_dms_own_control_table_and_schema_table_partitioning_are_taken():
    control = decode(fixture("control_apply_exceptions"))
    assert isinstance(control, Control) and control.table == "awsdms_apply_exceptions"
    delete = decode(fixture("delete"))
    assert isinstance(delete, Change) and (delete.operation, delete.key) == ("delete", 7)


def test_an_update_of_the_same_key_is_an_ordinary_update():
    change = decode(fixture("update_same_key"))
    assert change.previous_key is None and change.image["paid"] is True


def test_a_primary_key_change_retires_the_old_key_and_upserts_the_new_one():
    change = decode(fixture("update_key_change"))
    assert (change.key, change.previous_key) == (20, 2)
    out = rows(fixture("update_key_change"))
    designs = {r.values["design_id"]: r.values for r in out if r.table == "dim_design"}
    assert designs[2]["cdc_is_deleted"] is True and designs[2]["design_name"] is None
    assert designs[20]["cdc_is_deleted"] is False and designs[20]["design_name"] == "Wooden"
    assert designs[2]["cdc_version"] == designs[20]["cdc_version"] == change.version


@pytest.mark.stack
def test_the_fixtures_load_into_the_warehouse(fresh_database):
    dsn = fresh_database("warehouse", cluster=WAREHOUSE)
    with psycopg.connect(dsn) as conn:
        migrations.apply(conn)
    store = MemoryStore()
    shard = ShardProcessor(
        "shardId-000000000000",
        MemoryJoinState(),
        store,
        ProcessorConfig(bucket="b", state_table="s"),
    )
    for seq, path in enumerate(sorted(FIXTURES.glob("*.json")), 1):
        shard.process(str(seq), "public.x", path.read_bytes())
    assert shard.metrics.dead_letters == 2  # the NOT NULL column missing, no transaction details
    with psycopg.connect(dsn, autocommit=True) as conn:
        load_manifest(conn, store, shard.commit(lambda _seq: True).manifest_key)
        designs = conn.execute(
            "SELECT design_id, cdc_is_deleted FROM dim_design ORDER BY 1"
        ).fetchall()
        assert designs == [(2, True), (20, False)]
        assert conn.execute("SELECT paid FROM fact_payment WHERE payment_id = 4").fetchone() == (
            True,
        )
        assert conn.execute(
            "SELECT cdc_operation FROM fact_sales_order WHERE sales_order_id = 7"
        ).fetchone() == ("delete",)


def test_the_old_key_tombstone_reaches_the_shared_join_state_too():
    """A staff key change: the batch plan (what is written to DynamoDB) retires the old key,
    so a later department change does not bring it back as a live row."""
    import json

    from stream_processor.join_batch import plan_batch
    from tests.stream_processor.fixtures import STAFF, record

    body = json.loads(record("staff", {**STAFF, "staff_id": 50}, "update", commit=0x30))
    body["before-image"] = {"staff_id": STAFF["staff_id"]}
    plan = plan_batch([decode(json.dumps(body).encode())])
    assert plan.puts[("staff", STAFF["staff_id"])][1] is None
    assert plan.puts[("staff", 50)][1]["staff_id"] == 50


@pytest.mark.parametrize("bad", ["²", "--5", "9" * 5000, [1], {"a": 1}])
def test_a_malformed_before_image_key_is_a_decode_error(bad):
    import json

    body = json.loads(fixture("update_key_change"))
    body["before-image"] = {"design_id": bad}
    with pytest.raises(DecodeError, match="before-image"):
        decode(json.dumps(body).encode())


@pytest.mark.parametrize("columns", [5, True, "x", None, []])
def test_a_control_record_with_odd_columns_is_still_a_control_record(columns):
    import json

    body = json.loads(fixture("control_apply_exceptions"))
    body["control"]["table-def"]["columns"] = columns
    assert isinstance(decode(json.dumps(body).encode()), Control)

"""Micro-batches, manifests, dead letters and the commit protocol (in-memory object store)."""

from __future__ import annotations

import base64
import io
import json

import pyarrow.parquet as pq
import pytest

from contracts.batches import Manifest, MemoryStore
from contracts.star_schema import schema_of
from stream_processor.config import ProcessorConfig
from stream_processor.edge_errors import EdgeUnavailable
from stream_processor.join_state.memory import MemoryJoinState
from stream_processor.shard import MetricsUnavailable, ShardProcessor, StopShard
from tests.fixtures import unique_name
from tests.stream_processor.fixtures import ADDRESS, DEPT, SALE, record

CONFIG = ProcessorConfig(bucket="b", state_table="s", max_batch_rows=1000, max_batch_age_s=3600)


def pipeline(**overrides) -> tuple[ShardProcessor, MemoryStore]:
    store = MemoryStore()
    cfg = ProcessorConfig(**{**CONFIG.__dict__, **overrides})
    return ShardProcessor("shardId-000000000001", MemoryJoinState(), store, cfg), store


def test_a_flush_writes_one_file_per_table_then_a_manifest_under_keys_from_the_sequence_range():
    p, store = pipeline()
    p.process("101", "k", record("sales_order", SALE, commit=0x10))
    p.process("102", "k", record("sales_order", {**SALE, "units_sold": 5}, "update", commit=0x20))
    result = p.commit(lambda _seq: True)
    span = f"{'101'.zfill(56)}-{'102'.zfill(56)}"
    assert result.manifest_key == f"manifests/shardId-000000000001/{span}.json"
    manifest = json.loads(store.get(result.manifest_key))
    assert (
        manifest["first_sequence_number"],
        manifest["last_sequence_number"],
        manifest["records"],
    ) == ("101", "102", 2)
    files = {f["table"]: f for f in manifest["files"]}
    assert (
        files["fact_sales_order"]["key"]
        == f"batches/fact_sales_order/shardId-000000000001/{span}.parquet"
    )
    facts = pq.read_table(io.BytesIO(store.get(files["fact_sales_order"]["key"])))
    assert facts.schema.equals(schema_of("fact_sales_order")) and facts.num_rows == 2
    assert set(files) == {"fact_sales_order"}, "no dim_date file: the loader derives dim_date"
    assert Manifest.from_json(store.get(result.manifest_key)).records == 2
    assert p.batch.empty


def test_writing_the_same_batch_twice_overwrites_the_same_objects():
    first, store = pipeline()
    second = ShardProcessor("shardId-000000000001", MemoryJoinState(), store, CONFIG)
    for p in (first, second):
        p.process("7", "k", record("sales_order", SALE, commit=0x10))
        p.commit(lambda _seq: True)
    assert len(store.keys("manifests/")) == 1 and len(store.keys("batches/fact_sales_order/")) == 1


def test_poison_records_are_dead_lettered_with_reason_and_position_and_the_shard_moves_on():
    p, store = pipeline()
    p.process("1", "pk-1", b"\xff garbage")
    p.process("2", "pk-2", record("sales_order", SALE, commit=0x10))
    p.process(
        "3",
        "pk-3",
        json.dumps(
            {
                "metadata": {"record-type": "data", "table-name": "ledger", "operation": "insert"},
                "data": {},
            }
        ).encode(),
    )
    result = p.commit(lambda _seq: True)
    [bad_json, unknown] = [json.loads(store.get(k)) for k in store.keys("dead-letters/")]
    assert (
        bad_json["reason"].startswith("not JSON")
        and base64.b64decode(bad_json["raw_base64"]) == b"\xff garbage"
    )
    assert (bad_json["shard_id"], bad_json["sequence_number"], bad_json["partition_key"]) == (
        "shardId-000000000001",
        "1",
        "pk-1",
    )
    assert unknown["reason"] == "unknown table None.ledger"
    assert (bad_json["cause"], unknown["cause"]) == ("bad_record", "bad_record")
    assert result.last_seq == "3" and p.metrics.dead_letters == 2
    assert json.loads(store.get(result.manifest_key))["dead_letters"] == 2


def test_batches_are_due_by_rows_or_age_and_a_lost_lease_drops_the_buffer():
    p, _ = pipeline(max_batch_rows=3)
    for seq in ("1", "2", "3"):
        p.process(seq, "k", record("sales_order", SALE, commit=0x10 + int(seq)))
    assert p.due(), "three sales orders give three fact rows"
    aged, _ = pipeline(max_batch_age_s=0.0)
    assert not aged.due()
    aged.process("1", "k", record("department", DEPT, commit=0x10))
    assert aged.due()
    aged.drop()
    assert aged.batch.empty and aged.commit(lambda _seq: True) is None


def test_each_flush_reports_its_figures_and_cloudwatch_receives_them(aws_client):
    from stream_processor.kcl_app import cloudwatch_publisher

    reported: list[tuple[str, dict]] = []
    p = ShardProcessor(
        "shardId-000000000003",
        MemoryJoinState(),
        MemoryStore(),
        CONFIG,
        publish=lambda shard, figures: reported.append((shard, figures)),
    )
    p.metrics.millis_behind_latest = 1500
    p.process("1", "k", record("sales_order", SALE, commit=0x10))
    p.process("2", "k", b"junk")
    p.commit(lambda _seq: True)
    [(shard, figures)] = reported
    assert shard == "shardId-000000000003"
    assert (
        figures["RecordsIn"],
        figures["RowsOut"],
        figures["DeadLetters"],
        figures["MillisBehindLatest"],
    ) == (2, 1, 1, 1500)
    assert figures["SchemaDrift"] == 0  # the records match Contract A

    cloudwatch = aws_client("cloudwatch")
    namespace = unique_name("Totesys")
    cfg = ProcessorConfig(**{**CONFIG.__dict__, "metrics_namespace": namespace})
    cloudwatch_publisher(cloudwatch, cfg)(shard, figures)
    metrics = cloudwatch.list_metrics(Namespace=namespace)["Metrics"]
    assert {m["MetricName"] for m in metrics} == {
        "RecordsIn",
        "RowsOut",
        "DeadLetters",
        "ProcessorErrors",
        "FlushLatencyMs",
        "MillisBehindLatest",
        "SchemaDrift",
    }
    per_application = [  # what the dead-letter alarms (terraform/alarms.tf) watch
        m for m in metrics if [d["Name"] for d in m["Dimensions"]] == ["Application"]
    ]
    assert len(per_application) == 7 and len(metrics) == 14


class RecordingStore(MemoryStore):
    """A store that notes the order of its writes (a wrapper, as the tests inject faults)."""

    def __init__(self, events: list[str]) -> None:
        super().__init__()
        self.events = events

    def put(self, key: str, body: bytes, content_type: str) -> None:
        super().put(key, body, content_type)
        self.events.append(key.split("/")[0])


def test_the_commit_writes_files_then_the_manifest_then_checkpoints_then_publishes():
    events: list[str] = []

    def checkpoint(seq):
        events.append(f"checkpoint {seq}")
        return True

    p = ShardProcessor(
        "shardId-000000000001",
        MemoryJoinState(),
        RecordingStore(events),
        CONFIG,
        publish=lambda shard, figures: events.append("metrics"),
    )
    p.process("5", "k", record("sales_order", SALE, commit=0x10))
    p.process("6", "k", record("address", ADDRESS, commit=0x11))
    result = p.commit(checkpoint)
    assert events == ["batches", "batches", "manifests", "checkpoint 6", "metrics"]
    assert result.checkpointed and result.last_seq == "6"


def test_metrics_that_cannot_be_published_never_block_the_checkpoint():
    checkpoints: list[str] = []

    def unavailable(shard, figures):
        raise MetricsUnavailable("ThrottlingException: rate exceeded")

    p = ShardProcessor(
        "shardId-000000000001", MemoryJoinState(), MemoryStore(), CONFIG, publish=unavailable
    )
    p.process("9", "k", record("sales_order", SALE, commit=0x10))
    result = p.commit(lambda seq: checkpoints.append(seq) or True)
    assert checkpoints == ["9"] and result.manifest_key is not None


def test_a_store_that_fails_before_the_manifest_stops_the_shard_without_a_checkpoint():
    """An unavailable store ends the commit with ``StopShard``: nothing is checkpointed, and the
    records are read again after the KCL's restart (the batch is not kept growing)."""

    class FailingOnce(MemoryStore):
        failed = False

        def put(self, key: str, body: bytes, content_type: str) -> None:
            if key.startswith("manifests/") and not self.failed:
                self.failed = True
                raise EdgeUnavailable("object store unavailable: SlowDown: reduce your rate")
            super().put(key, body, content_type)

    checkpoints: list[str] = []
    store = FailingOnce()
    p = ShardProcessor("shardId-000000000001", MemoryJoinState(), store, CONFIG)
    p.process("9", "k", record("sales_order", SALE, commit=0x10))
    with pytest.raises(StopShard, match="SlowDown"):
        p.commit(lambda seq: checkpoints.append(seq) or True)
    assert checkpoints == []
    assert not [k for k in store.objects if k.startswith("manifests/")]
    # the restarted shard reads the record again from its checkpoint
    again = ShardProcessor("shardId-000000000001", MemoryJoinState(), store, CONFIG)
    again.process("9", "k", record("sales_order", SALE, commit=0x10))
    again.process(
        "10", "k", record("sales_order", {**SALE, "units_sold": 9}, "update", commit=0x20)
    )
    result = again.commit(lambda seq: checkpoints.append(seq) or True)
    manifest = Manifest.from_json(store.get(result.manifest_key))
    assert (manifest.first_sequence_number, manifest.last_sequence_number) == ("9", "10")
    assert checkpoints == ["10"] and manifest.files[0].rows == 2


def test_the_end_of_a_shard_is_checkpointed_even_with_nothing_buffered():
    checkpoints: list = []
    p, _ = pipeline()
    assert p.commit(lambda seq: checkpoints.append(seq) or True, shard_end=True) is None
    p.process("4", "k", record("sales_order", SALE, commit=0x10))
    p.commit(lambda seq: checkpoints.append(seq) or True, shard_end=True)
    assert checkpoints == [None, None]

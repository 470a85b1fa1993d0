"""Failure stories of the record-processor shell (issue 23): one record the code does not
expect is one dead letter, never a lost read batch or a wedged shard; an edge failure stops the
shard, and the KCL's restart from the last checkpoint loses and duplicates nothing.

The KCL is played by ``Kcl`` below: it reads the shard from its checkpoint in GetRecords-sized
calls, and when the record processor exits (``SystemExit``, as the Python child does) it starts a
new one from the last checkpoint, as the MultiLangDaemon's restart does. Faults are injected by
wrapping the join state and the object store."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass, field
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest
from amazon_kclpy import kcl
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.batches import Manifest, MemoryStore, S3Store
from contracts.star_schema import Kind, spec
from stream_processor.config import ProcessorConfig
from stream_processor.edge_errors import ClassedStore, EdgeRefused, EdgeUnavailable
from stream_processor.join_state.dynamodb import DynamoJoinState
from stream_processor.join_state.interface import BatchWrites
from stream_processor.join_state.memory import MemoryJoinState
from stream_processor.kcl_app import EXIT_SHARD_STOPPED, StarSchemaProcessor
from stream_processor.shard import Breaker, ShardProcessor
from stream_processor.transform import OutRow
from tests.stream_processor.fixtures import DEPT, SALE, STAFF, record

SHARD = "shardId-000000000001"
CONFIG = ProcessorConfig(bucket="b", state_table="s", max_batch_rows=6, max_batch_age_s=3600)


# --- the parts a test wraps ----------------------------------------------------------------


class FaultyState(MemoryJoinState):
    """A join state that raises ``fault`` at its ``fail_at``-th bulk call (once), and refuses
    any write of the staff row ``refused_staff`` (an item over DynamoDB's size limit)."""

    def __init__(
        self, fail_at: int | None = None, fault: Exception | None = None, refused_staff: int = -1
    ) -> None:
        super().__init__()
        self.calls, self.fail_at, self.fault, self.refused_staff = 0, fail_at, fault, refused_staff

    def _call(self) -> None:
        self.calls += 1
        if self.calls == self.fail_at:
            raise self.fault

    def write_many(self, writes: BatchWrites) -> None:
        self._call()
        if ("staff", self.refused_staff) in writes.puts:
            raise EdgeRefused("join state refused the request: ValidationException: Item size")
        super().write_many(writes)

    def get_many(self, keys: set) -> dict:
        self._call()
        return super().get_many(keys)

    def members_many(self, parents: set) -> dict:
        self._call()
        return super().members_many(parents)


class FaultyStore(MemoryStore):
    """An object store whose ``fail_at``-th put raises ``EdgeUnavailable`` (once)."""

    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__()
        self.puts, self.fail_at = 0, fail_at

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.puts += 1
        if self.puts == self.fail_at:
            raise EdgeUnavailable("object store unavailable: SlowDown: please reduce your rate")
        super().put(key, body, content_type)


# --- the KCL, as the record processor sees it ----------------------------------------------


def kcl_input(records: list[tuple[str, bytes]], checkpointer: object) -> SimpleNamespace:
    return SimpleNamespace(
        records=[
            SimpleNamespace(
                sequence_number=seq, partition_key=f"pk-{seq}", binary_data=data, timestamp_millis=0
            )
            for seq, data in records
        ],
        millis_behind_latest=0,
        checkpointer=checkpointer,
    )


@dataclass
class Kcl:
    """Reads ``shard`` (sequence number, data) from its checkpoint in calls of ``call_size``
    records, restarting a record processor that exits. At every checkpoint it checks that each
    record at or before it is a dead letter or has its rows (``rows_of``: those a clean run
    makes of it) in the store's manifests already; what it finds wrong is in ``passed``. A
    joined dimension's row is left to the final check: it waits for its parent, so which record
    brings it depends on where the calls begin."""

    shard: list[tuple[str, bytes]]
    state: MemoryJoinState
    store: MemoryStore
    rows_of: dict[str, set[tuple[str, int, int]]] = field(default_factory=dict)
    call_size: int = 4
    checkpoint: str | None = None
    checkpoints: list[str | None] = field(default_factory=list)
    restarts: int = 0
    passed: list[str] = field(default_factory=list)

    def processor(self) -> StarSchemaProcessor:
        return StarSchemaProcessor(
            lambda shard: ShardProcessor(shard, self.state, self.store, CONFIG)
        )

    def take(self, sequence_number: str | None) -> None:
        assert sequence_number is not None
        dead, rows = set(dead_letter_positions(self.store)), landed(self.store)
        self.passed += [
            seq
            for seq, _ in self.shard
            if int(seq) <= int(sequence_number)
            and int(seq) not in dead
            and not {r for r in self.rows_of.get(seq, set()) if not joined(r[0])} <= rows
        ]
        self.checkpoint = sequence_number
        self.checkpoints.append(sequence_number)

    def run(self) -> None:
        checkpointer = SimpleNamespace(checkpoint=self.take)
        while True:
            start = 0 if self.checkpoint is None else int(self.checkpoint)
            pending = [(s, d) for s, d in self.shard if int(s) > start]
            p = self.processor()
            try:
                p.initialize(SimpleNamespace(shard_id=SHARD, sequence_number=self.checkpoint))
                for at in range(0, len(pending), self.call_size):
                    p.process_records(kcl_input(pending[at : at + self.call_size], checkpointer))
                p.shutdown_requested(SimpleNamespace(checkpointer=checkpointer))
                p._end_watch()
                return
            except SystemExit as exc:
                p._end_watch()
                assert exc.code == EXIT_SHARD_STOPPED
                self.restarts += 1
                assert self.restarts <= 3, "the shard restarts forever"


def joined(table: str) -> bool:
    return spec(table).kind is Kind.JOINED


def dead_letter_positions(store: MemoryStore) -> list[int]:
    return [int(json.loads(store.get(k))["sequence_number"]) for k in store.keys("dead-letters/")]


def landed(store: MemoryStore) -> set[tuple[str, int, int]]:
    """(table, key, version) of every row in the store's manifests."""
    rows = set()
    for key in store.keys("manifests/"):
        for f in Manifest.from_json(store.get(key)).files:
            table = pq.read_table(io.BytesIO(store.get(f.key))).to_pylist()
            rows |= {(f.table, r[spec(f.table).key], int(r["cdc_version"])) for r in table}
    return rows


# --- the valid traffic and the poisons -----------------------------------------------------


def valid_records(kinds: list[int]) -> list[bytes]:
    """A change per entry: a sale, a staff member (joined to a department), or a department."""
    out = []
    for i, kind in enumerate(kinds, 1):
        commit = 0x100 * i
        if kind == 0:
            out.append(record("sales_order", {**SALE, "sales_order_id": i}, commit=commit))
        elif kind == 1:
            out.append(record("staff", {**STAFF, "staff_id": 100 + i}, commit=commit))
        else:
            out.append(record("department", {**DEPT, "location": f"Floor {i}"}, "update", commit))
    return out


OVERSIZED_STAFF = 99_999
CONTENT_POISONS = {
    "not JSON": b"\xff{ not json",
    "unknown table": json.dumps(
        {"metadata": {"record-type": "data", "table-name": "ledger", "operation": "insert"}}
    ).encode(),
    "a value decode refuses": record("sales_order", {**SALE, "units_sold": 2**40}, commit=0x5),
    "an item the join state refuses": record(
        "staff", {**STAFF, "staff_id": OVERSIZED_STAFF}, commit=0x5
    ),
}


def clean_rows(records: list[bytes]) -> dict[str, set[tuple[str, int, int]]]:
    """Sequence number → (table, key, version) of the rows a clean run makes of each record
    (records numbered from 1, read in one call)."""
    p = ShardProcessor(SHARD, MemoryJoinState(), MemoryStore(), CONFIG)
    p.process_many([(str(i), "k", data) for i, data in enumerate(records, 1)])
    out: dict[str, set[tuple[str, int, int]]] = {}
    for table, rows in p.batch.rows.items():
        for row, seq in zip(rows, p.batch.row_records[table], strict=True):
            identity = (table, row[spec(table).key], int(row["cdc_version"]))
            out.setdefault(seq, set()).add(identity)
    return out


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kinds=st.lists(st.integers(0, 2), min_size=1, max_size=14),
    at=st.integers(0, 14),
    poison=st.sampled_from(
        [*CONTENT_POISONS, "join state unavailable", "object store unavailable"]
    ),
    fail_at=st.integers(1, 12),
    call_size=st.integers(1, 5),
)
def test_any_valid_records_with_one_poison_land_once_and_the_poison_is_one_dead_letter(
    kinds, at, poison, fail_at, call_size
):
    valid = valid_records(kinds)
    at = min(at, len(valid))
    if poison in CONTENT_POISONS:
        stream = [*valid[:at], CONTENT_POISONS[poison], *valid[at:]]
        state, store = FaultyState(refused_staff=OVERSIZED_STAFF), FaultyStore()
    else:
        stream = valid
        unavailable = EdgeUnavailable("join state unavailable: ThrottlingException: Rate exceeded")
        state = FaultyState(fail_at, unavailable) if poison.startswith("join") else FaultyState()
        store = FaultyStore(fail_at) if poison.startswith("object") else FaultyStore()
    shard = [(str(i), data) for i, data in enumerate(stream, 1)]
    poisoned = at if poison in CONTENT_POISONS else None  # the clean run has nothing there
    rows_of = clean_rows([b"" if i == poisoned else d for i, (_, d) in enumerate(shard)])
    driver = Kcl(shard, state, store, rows_of, call_size=call_size)
    driver.run()

    assert driver.passed == [], "a checkpoint passed records neither landed nor dead"
    assert landed(store) == set().union(*rows_of.values())
    if poison in CONTENT_POISONS:
        assert dead_letter_positions(store) == [at + 1]
        assert driver.restarts == 0
    else:
        assert dead_letter_positions(store) == []
        fired = (state.calls if poison.startswith("join") else store.puts) >= fail_at
        assert driver.restarts == (1 if fired else 0)  # the fault, when it came, stopped it
    assert driver.checkpoint == shard[-1][0]


# --- the two mechanisms of the issue, one by one --------------------------------------------


class ThrottledDynamoDB:
    """A DynamoDB client that answers every call as DynamoDB does once boto3's retries for
    throttling are spent."""

    def _throttled(self, operation: str) -> ClientError:
        return ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "Rate"}},
            operation,
        )

    def update_item(self, **_: object) -> None:
        raise self._throttled("UpdateItem")

    def batch_get_item(self, **_: object) -> None:
        raise self._throttled("BatchGetItem")


class UnavailableS3:
    """An S3 client whose PutObject answers 503 SlowDown (after boto3's retries)."""

    def put_object(self, **_: object) -> None:
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "Reduce"}}, "PutObject")


def run_kclpy(processor: StarSchemaProcessor, calls: list[list[tuple[str, bytes]]]) -> list[str]:
    """Feed ``calls`` to ``processor`` through kclpy's own loop, as the daemon would; returns
    the actions the processor sent back. Raises what ends the loop."""

    def message(action: str, **fields: object) -> str:
        return json.dumps({"action": action, **fields}) + "\n"

    lines = message("initialize", shardId=SHARD, sequenceNumber="0", subSequenceNumber=0)
    for call in calls:
        lines += message(
            "processRecords",
            millisBehindLatest=0,
            records=[
                {
                    "action": "record",
                    "data": base64.b64encode(data).decode(),
                    "partitionKey": "k",
                    "sequenceNumber": seq,
                    "subSequenceNumber": 0,
                    "approximateArrivalTimestamp": 0,
                }
                for seq, data in call
            ],
        )
    out = io.StringIO()
    try:
        kcl.KCLProcess(processor, io.StringIO(lines), out, io.StringIO()).run()
    finally:
        processor._end_watch()
        processor.sent = [
            json.loads(ln)["action"] for ln in out.getvalue().splitlines() if ln.strip()
        ]
    return processor.sent


def test_a_throttled_join_state_stops_the_shard_instead_of_losing_the_call_to_kclpy():
    """Today's main: the ClientError left process_records, kclpy printed it and went on, and
    the next call's commit checkpointed past the lost call's records. Now the record processor
    exits through kclpy's own loop, before the next call, with no checkpoint."""
    store = MemoryStore()
    config = ProcessorConfig("b", "s", max_batch_rows=1)
    state = DynamoJoinState(ThrottledDynamoDB(), "state")
    processor = StarSchemaProcessor(lambda shard: ShardProcessor(shard, state, store, config))
    staff = record("staff", STAFF, commit=0x10)
    sale = record("sales_order", SALE, commit=0x20)
    with pytest.raises(SystemExit) as stopped:
        run_kclpy(processor, [[("1", staff)], [("2", sale)]])
    assert stopped.value.code == EXIT_SHARD_STOPPED
    assert processor.sent == ["status"]  # initialize's; no checkpoint, no second call
    assert store.keys("") == []


@pytest.mark.parametrize("where", ["the batch files", "a dead letter"])
def test_an_unavailable_bucket_stops_the_shard_without_a_checkpoint(where):
    store = ClassedStore(S3Store(UnavailableS3(), "bucket"))
    processor = StarSchemaProcessor(
        lambda shard: ShardProcessor(
            shard, MemoryJoinState(), store, ProcessorConfig("b", "s", max_batch_rows=1)
        )
    )
    data = record("sales_order", SALE, commit=0x10) if where == "the batch files" else b"junk"
    with pytest.raises(SystemExit):
        run_kclpy(processor, [[("1", data)], [("2", data)]])
    assert "checkpoint" not in processor.sent


def test_a_bug_on_most_records_trips_the_breaker_instead_of_dead_lettering_the_stream():
    class BrokenState(FaultyState):
        def get_many(self, keys: set) -> dict:
            raise AttributeError("'NoneType' object has no attribute 'version'")

    stream = [(str(i), r) for i, r in enumerate(valid_records([1] * 30), 1)]
    driver = Kcl(stream, BrokenState(), MemoryStore(), call_size=30)
    with pytest.raises(AssertionError, match="restarts forever"):
        driver.run()
    assert dead_letter_positions(driver.store) == [] and driver.checkpoints == []


def test_a_record_whose_rows_parquet_cannot_hold_is_a_dead_letter_and_the_shard_commits():
    store = MemoryStore()
    p = ShardProcessor(SHARD, MemoryJoinState(), store, CONFIG)
    p.process("1", "k", record("sales_order", SALE, commit=0x10))
    p.batch.add_record(  # rows as a transform with a bug would make them
        "2",
        (OutRow("fact_sales_order", {"sales_order_id": 8, "cdc_version": 10**40}),),
        ("k", b"the raw record"),
    )
    checkpoints: list = []
    result = p.commit(lambda seq: checkpoints.append(seq) or True)
    assert checkpoints == ["2"] and result.files == {"fact_sales_order": 1}
    [letter] = [json.loads(store.get(k)) for k in store.keys("dead-letters/")]
    assert letter["sequence_number"] == "2" and letter["cause"] == "processor_error"
    assert "cannot be written as parquet" in letter["reason"]
    assert base64.b64decode(letter["raw_base64"]) == b"the raw record"


def test_the_breaker_sees_most_of_one_call_failing_or_most_of_the_last_records():
    assert Breaker().trips([True] * 200 + [False] * 100)  # the call: 200 of 300
    assert not Breaker().trips([True] * 9)  # too few to say it is our code
    assert not Breaker().trips([True] * 10 + [False] * 10)  # half is not most
    quiet = Breaker()  # a quiet shard: one record a call
    assert [quiet.trips([True]) for _ in range(10)] == [False] * 9 + [True]


class RememberedHealth:
    """A health recorder that says the breaker stopped the shard last (as after a restart)."""

    def __init__(self) -> None:
        self.stops: list[str] = []

    def committed(self, shard_id: str) -> None:
        return None

    def stopped(self, shard_id: str, reason: str) -> None:
        self.stops.append(reason)

    def stopped_by_breaker(self, shard_id: str) -> bool:
        return True


def test_after_a_breaker_stop_the_first_processor_error_stops_the_shard_again():
    """Otherwise each restart would let up to min_errors records through as dead letters."""
    store, health = MemoryStore(), RememberedHealth()
    state = FaultyState(refused_staff=OVERSIZED_STAFF)
    processor = StarSchemaProcessor(
        lambda shard: ShardProcessor(shard, state, store, CONFIG), health
    )
    processor.initialize(SimpleNamespace(shard_id=SHARD, sequence_number="0"))
    poison = CONTENT_POISONS["an item the join state refuses"]
    with pytest.raises(SystemExit):
        processor.process_records(kcl_input([("1", poison)], SimpleNamespace()))
    processor._end_watch()
    assert dead_letter_positions(store) == [] and health.stops[0].startswith("breaker")

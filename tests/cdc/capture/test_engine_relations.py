"""The capture engine's reading of pgoutput Relation messages into DMS control records, with
the catalogue faked (no services): added, gone, renamed and retyped columns, each once however
many Relation messages decoding sends, state files from before types were kept, and a crash
between an ALTER and its control record's put."""

from __future__ import annotations

import json
import struct

import pytest

from cdc.capture import engine as engine_module
from cdc.capture import pgoutput
from cdc.capture.engine import CaptureEngine
from cdc.capture.kinesis import SinkError
from cdc.capture.source import CatalogueColumn
from cdc.config import CaptureConfig

DESIGN = (("design_id", 23, -1), ("design_name", 25, -1), ("file_name", 25, -1))


def relation(*columns: tuple[str, int, int]) -> pgoutput.Relation:
    return pgoutput.Relation(
        16390,
        "public",
        "design",
        tuple(pgoutput.Column(n, oid, n == "design_id", mod) for n, oid, mod in columns),
    )


@pytest.fixture
def engine(tmp_path, monkeypatch):
    """An engine (never run) whose catalogue is ``engine.catalogue``: name → attnum."""
    config = CaptureConfig(source_dsn="", stream_name="s", task_id="t", state_dir=tmp_path)
    capture = CaptureEngine(config, sink=None)
    capture.catalogue = {"design_id": 1, "design_name": 2, "file_name": 3}

    def column_catalogue(conn, schema, table):
        return {n: CatalogueColumn(a, -1, n != "design_id") for n, a in capture.catalogue.items()}

    monkeypatch.setattr(engine_module.source, "column_catalogue", column_catalogue)
    return capture


def operations(capture: CaptureEngine, message: pgoutput.Relation) -> list[tuple[str, dict]]:
    out = []
    for kind, record in capture._relation(None, message):
        assert kind == "record"
        body = json.loads(record.data)
        out.append((body["metadata"]["operation"], body["control"]["table-def"]["columns"]))
    return out


def test_each_alter_gives_one_control_record_with_the_table_after_it(engine):
    assert operations(engine, relation(*DESIGN)) == []  # first sight: remembered, no record
    assert operations(engine, relation(*DESIGN)) == []  # the same again: nothing
    engine.catalogue["licence"] = 4
    [(operation, columns)] = operations(engine, relation(*DESIGN, ("licence", 25, -1)))
    assert operation == "add-column"
    assert columns["licence"] == {"nullable": True, "type": "STRING"}
    assert operations(engine, relation(*DESIGN, ("licence", 25, -1))) == []
    # ALTER COLUMN TYPE varchar(20): same name, same attnum, another OID and modifier
    retyped = (*DESIGN, ("licence", 1043, 24))
    [(operation, columns)] = operations(engine, relation(*retyped))
    assert operation == "column-type-change" and columns["licence"]["type"] == "STRING"
    # RENAME COLUMN: the new name has the old one's attnum
    del engine.catalogue["licence"]
    engine.catalogue["licence_name"] = 4
    [(operation, columns)] = operations(engine, relation(*DESIGN, ("licence_name", 1043, 24)))
    assert operation == "rename-column" and "licence" not in columns
    # DROP COLUMN
    del engine.catalogue["licence_name"]
    [(operation, columns)] = operations(engine, relation(*DESIGN))
    assert operation == "drop-column" and set(columns) == {"design_id", "design_name", "file_name"}
    assert engine.status.tables["design"].ddls == 4


def test_a_message_logged_before_a_later_rename_keeps_the_columns_number(engine):
    operations(engine, relation(*DESIGN))
    # decoding lags: the catalogue already has file_name renamed, the message the old name
    del engine.catalogue["file_name"]
    engine.catalogue["file"] = 3
    assert operations(engine, relation(*DESIGN)) == []
    [(operation, _)] = operations(engine, relation(*DESIGN[:2], ("file", 25, -1)))
    assert operation == "rename-column"


def test_a_state_of_names_only_tells_names_and_learns_the_types(engine):
    engine._state["columns"]["design"] = [n for n, _, _ in DESIGN]  # an older engine's state
    widened = (("design_id", 20, -1), *DESIGN[1:])
    assert operations(engine, relation(*widened)) == []  # no type known before: no change
    stored = engine._state["columns"]["design"]
    assert stored[0] == {"name": "design_id", "type_oid": 20, "type_modifier": -1, "attnum": 1}
    [(operation, _)] = operations(engine, relation(*DESIGN))
    assert operation == "column-type-change"


def relation_message(*columns: tuple[str, int, int]) -> bytes:
    """A pgoutput Relation message for ``design``, laid out as the protocol documentation says."""
    body = struct.pack("!I", 16390) + b"public\0design\0d" + struct.pack("!h", len(columns))
    for name, oid, modifier in columns:
        body += bytes([name == "design_id"]) + name.encode() + b"\0"
        body += struct.pack("!Ii", oid, modifier)
    return b"R" + body


class OneTransaction:
    """A replication stream (``ReplicationStream``'s interface) that sends one transaction of
    ``messages``, Begin and Commit around them, on every read."""

    def __init__(self, *messages: bytes) -> None:
        self.payloads = messages
        self.confirmed = self.server_position = 0

    def messages(self, wait_s: float):
        yield 0x1000, b"B" + struct.pack("!QqI", 0x1000, 0, 7)
        for payload in self.payloads:
            yield 0x1008, payload
        yield 0x1010, b"C" + struct.pack("!bQQq", 0, 0x1000, 0x1018, 0)

    def confirm(self, lsn: int) -> None:
        self.confirmed = lsn


class Sink:
    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.operations: list[str] = []

    def put(self, records) -> None:
        if self.fail:
            raise SinkError("Kinesis did not answer")
        self.operations += [json.loads(r.data)["metadata"]["operation"] for r in records]


def test_an_alter_whose_control_record_was_never_put_is_told_after_the_restart(engine, monkeypatch):
    monkeypatch.setattr(engine_module.source, "slot_info", lambda conn, slot: None)
    engine.sink = Sink()
    engine._cdc_step(None, OneTransaction(relation_message(*DESIGN)))  # first sight: saved
    engine.catalogue["licence"] = 4
    altered = relation_message(*DESIGN, ("licence", 25, -1))
    engine.sink = Sink(fail=True)
    with pytest.raises(SinkError):
        engine._cdc_step(None, OneTransaction(altered))  # the crash: nothing confirmed
    restarted = CaptureEngine(engine.config, sink=Sink())  # from the state file
    stream = OneTransaction(altered)  # the slot sends the transaction again
    restarted._cdc_step(None, stream)
    assert restarted.sink.operations == ["add-column"]
    assert stream.confirmed == 0x1018
    again = CaptureEngine(engine.config, sink=Sink())  # once it is on the stream, only once
    again._cdc_step(None, OneTransaction(altered))
    assert again.sink.operations == []

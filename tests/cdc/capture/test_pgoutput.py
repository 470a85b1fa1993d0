"""pgoutput message parsing, on bytes laid out as the protocol documentation describes."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import pytest

from cdc.capture import pgoutput
from contracts.change_records import format_lsn, parse_lsn


def s(text: str) -> bytes:
    return text.encode() + b"\0"


def tuple_data(*values: str | None | object) -> bytes:
    out = struct.pack("!h", len(values))
    for v in values:
        if v is None:
            out += b"n"
        elif v is pgoutput.UNCHANGED:
            out += b"u"
        else:
            raw = str(v).encode()
            out += b"t" + struct.pack("!i", len(raw)) + raw
    return out


MICROS_2026 = int(
    (datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC) - pgoutput.PG_EPOCH).total_seconds() * 1e6
)


def test_begin_and_commit_carry_the_transaction_its_commit_position_and_time():
    begin = pgoutput.parse(b"B" + struct.pack("!QqI", 0x2_7C007178, MICROS_2026, 1139))
    assert begin == pgoutput.Begin(
        0x2_7C007178, datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC), 1139
    )
    commit = pgoutput.parse(b"C" + struct.pack("!bQQq", 0, 0x2_7C007178, 0x2_7C0071A8, MICROS_2026))
    assert commit.commit_lsn == 0x2_7C007178 and commit.end_lsn == 0x2_7C0071A8


def test_a_relation_names_its_columns_types_and_key():
    body = struct.pack("!I", 16388) + s("public") + s("payment") + b"d" + struct.pack("!h", 2)
    body += b"\x01" + s("payment_id") + struct.pack("!Ii", 23, -1)
    body += b"\x00" + s("paid") + struct.pack("!Ii", 16, -1)
    relation = pgoutput.parse(b"R" + body)
    assert relation.table == "payment" and relation.key_columns == ("payment_id",)
    assert [(c.name, c.type_oid) for c in relation.columns] == [("payment_id", 23), ("paid", 16)]


def test_insert_update_and_delete_give_the_tuple_dms_writes():
    insert = pgoutput.parse(b"I" + struct.pack("!I", 7) + b"N" + tuple_data("17", "t", None))
    assert insert == pgoutput.Change("insert", 7, ("17", "t", None))
    update = pgoutput.parse(
        b"U"
        + struct.pack("!I", 7)
        + b"K"
        + tuple_data("17", None, None)
        + b"N"
        + tuple_data("17", "f", pgoutput.UNCHANGED)
    )
    assert update.operation == "update" and update.values[:2] == ("17", "f")
    assert update.values[2] is pgoutput.UNCHANGED
    delete = pgoutput.parse(b"D" + struct.pack("!I", 7) + b"K" + tuple_data("17", None, None))
    assert delete == pgoutput.Change("delete", 7, ("17", None, None))


@pytest.mark.parametrize(
    "raw", [b"X", b"I\x00\x00\x00\x07Q", b"B\x00\x01", b"R\x00\x00\x00\x01public"]
)
def test_malformed_messages_are_refused_with_a_protocol_error(raw):
    with pytest.raises(pgoutput.ProtocolError):
        pgoutput.parse(raw)


def test_lsns_round_trip_between_postgres_and_dms_spellings():
    assert parse_lsn("0/16B3748") == 0x16B3748
    assert format_lsn(0x2_7C007178) == "00000002/7C007178"
    assert parse_lsn(format_lsn(2**40 + 5)) == 2**40 + 5

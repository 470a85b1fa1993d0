"""Parsing PostgreSQL's ``pgoutput`` logical replication messages (protocol version 1).

Pure: bytes in, dataclasses out. Column values stay in PostgreSQL's text output form
(``'t'``, ``'3.80'``, ``'2026-01-01 10:00:00.123'``); ``records`` turns them into DMS values.
Message layouts: PostgreSQL documentation, "Logical Replication Message Formats".
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

# A column value in a tuple: its text form, None for NULL, or UNCHANGED for a TOASTed value
# an UPDATE did not touch (pgoutput does not resend it).
UNCHANGED = object()


class ProtocolError(ValueError):
    """A message that does not follow the pgoutput protocol."""


@dataclass(frozen=True)
class Column:
    name: str
    type_oid: int
    is_key: bool
    # pg_attribute.atttypmod: varchar's length, numeric's precision and scale; -1 for none
    type_modifier: int = -1


@dataclass(frozen=True)
class Relation:
    relation_id: int
    schema: str
    table: str
    columns: tuple[Column, ...]

    @property
    def key_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.is_key)


@dataclass(frozen=True)
class Begin:
    final_lsn: int
    commit_time: datetime
    xid: int


@dataclass(frozen=True)
class Commit:
    commit_lsn: int
    end_lsn: int
    commit_time: datetime


@dataclass(frozen=True)
class Change:
    """An INSERT, UPDATE or DELETE. ``values`` is the new tuple (insert, update) or the key /
    old tuple (delete)."""

    operation: str  # "insert" | "update" | "delete"
    relation_id: int
    values: tuple[object, ...]


@dataclass(frozen=True)
class Truncate:
    relation_ids: tuple[int, ...]


@dataclass(frozen=True)
class Ignored:
    """Origin and type messages: nothing a DMS record carries."""

    kind: str


Message = Begin | Commit | Relation | Change | Truncate | Ignored


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise ProtocolError(f"message truncated at byte {self.pos}")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def byte(self) -> bytes:
        return bytes(self.take("!c")[0])

    def int8(self) -> int:
        return self.take("!b")[0]

    def int16(self) -> int:
        return self.take("!h")[0]

    def int32(self) -> int:
        return self.take("!i")[0]

    def uint32(self) -> int:
        return self.take("!I")[0]

    def int64(self) -> int:
        return self.take("!q")[0]

    def uint64(self) -> int:
        return self.take("!Q")[0]

    def string(self) -> str:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise ProtocolError("unterminated string")
        value = self.data[self.pos : end].decode()
        self.pos = end + 1
        return value

    def timestamp(self) -> datetime:
        return PG_EPOCH + timedelta(microseconds=self.int64())

    def tuple_data(self) -> tuple[object, ...]:
        values: list[object] = []
        for _ in range(self.int16()):
            kind = self.byte()
            if kind == b"n":
                values.append(None)
            elif kind == b"u":
                values.append(UNCHANGED)
            elif kind == b"t":
                length = self.int32()
                values.append(self.data[self.pos : self.pos + length].decode())
                self.pos += length
            else:
                raise ProtocolError(f"unknown tuple value kind {kind!r}")
        return tuple(values)


def parse(data: bytes) -> Message:
    """One pgoutput message."""
    reader = _Reader(bytes(data))
    kind = reader.byte()
    if kind == b"B":
        return Begin(final_lsn=reader.uint64(), commit_time=reader.timestamp(), xid=reader.uint32())
    if kind == b"C":
        reader.int8()  # flags, unused
        return Commit(
            commit_lsn=reader.uint64(), end_lsn=reader.uint64(), commit_time=reader.timestamp()
        )
    if kind == b"R":
        relation_id = reader.uint32()
        schema, table = reader.string(), reader.string()
        reader.int8()  # replica identity setting
        columns = []
        for _ in range(reader.int16()):
            flags = reader.int8()
            name = reader.string()
            type_oid = reader.uint32()
            modifier = reader.int32()  # atttypmod
            columns.append(
                Column(name=name, type_oid=type_oid, is_key=bool(flags & 1), type_modifier=modifier)
            )
        return Relation(relation_id, schema or "public", table, tuple(columns))
    if kind == b"I":
        relation_id = reader.uint32()
        if reader.byte() != b"N":
            raise ProtocolError("INSERT without a new tuple")
        return Change("insert", relation_id, reader.tuple_data())
    if kind == b"U":
        relation_id = reader.uint32()
        marker = reader.byte()
        if marker in (b"K", b"O"):
            reader.tuple_data()  # the old key / row: DMS's update record carries the new row
            marker = reader.byte()
        if marker != b"N":
            raise ProtocolError("UPDATE without a new tuple")
        return Change("update", relation_id, reader.tuple_data())
    if kind == b"D":
        relation_id = reader.uint32()
        if reader.byte() not in (b"K", b"O"):
            raise ProtocolError("DELETE without a key or old tuple")
        return Change("delete", relation_id, reader.tuple_data())
    if kind == b"T":
        count = reader.int32()
        reader.int8()  # options
        return Truncate(tuple(reader.uint32() for _ in range(count)))
    if kind in (b"O", b"Y", b"M"):
        return Ignored(kind.decode())
    raise ProtocolError(f"unknown pgoutput message type {kind!r}")

"""The local capture engine: ToteSys → (logical decoding) → DMS records → Kinesis.

DMS's stand-in on a laptop and in tests. It creates its replication slot, emits every
existing row as ``load`` records, then streams changes from the slot over the streaming
replication protocol (``replication.ReplicationStream``), as DMS does: the server decodes
each WAL record once and sends the changes as they commit.

The commit protocol of one CDC step (``_cdc_step``), in order:

1. read the decoded changes that have arrived (waiting up to the poll interval for the
   first), up to about ``max_changes_per_step`` and a transaction's end, or until none is
   waiting (then mid-transaction too: the next step carries on with it);
2. turn them into DMS records and put them on Kinesis, in order per key, until every one is
   acknowledged;
3. confirm to the server the end of the last transaction whose records were all put (or,
   with no transaction open, the position the server says its decoding has reached, so an
   idle source does not pin WAL: the heartbeat).

Between 2 and 3 the engine saves the columns each table was last seen with, when a Relation
message changed them (an ALTER becomes control records against them): saved any earlier, a
crash before the put would replay the ALTER against columns already known, and tell nothing.

A crash before step 3 leaves the slot where it was: the next run streams the same
transactions again (duplicates, never gaps). Full load: the slot is created first, then
every table is read in one REPEATABLE READ snapshot taken after it; a change committed while
the load runs is in the slot and is sent after the load, so nothing is lost at the hand-over.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg

from cdc.capture import pgoutput, source
from cdc.capture.kinesis import KinesisSink
from cdc.capture.records import (
    ColumnDef,
    KnownColumn,
    OutRecord,
    TableDef,
    TransactionPosition,
    alter_operations,
    control_record,
    data_record,
)
from cdc.capture.replication import ReplicationStream
from cdc.capture.status import (
    EngineStatus,
    TableStats,
    state_path,
    status_path,
    utcnow,
    write_json_atomically,
)
from cdc.config import CaptureConfig
from cdc.source_schema import TABLES
from contracts.change_records import format_lsn
from contracts.events import log

SEND_CHUNK = 1000  # records handed to the sink at a time while streaming a transaction


@dataclass
class _Txn:
    xid: int
    commit_lsn: int
    commit_time: Any
    records: int = 0


class CaptureEngine:
    def __init__(self, config: CaptureConfig, sink: KinesisSink) -> None:
        self.config = config
        self.sink = sink
        self.status = EngineStatus(
            task_id=config.task_id, stream_name=config.stream_name, slot_name=config.slot_name
        )
        self.status.tables = {t: TableStats() for t in TABLES}
        self._state = self._load_state()
        self._relations: dict[int, TableDef] = {}
        self._previous: tuple[int, int] | None = None
        self._txn: _Txn | None = None  # the transaction being read (it may span steps)
        self._columns_unsaved = False  # columns remembered since the state was last saved
        self._last_slot_read = 0.0
        self._last_status_write = 0.0
        self._rate_window: list[tuple[float, int]] = []

    # --- durable state -----------------------------------------------------------------

    def _load_state(self) -> dict[str, Any]:
        path = state_path(self.config.state_dir, self.config.task_id)
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return {"full_load_completed": False, "columns": {}}

    def _save_state(self) -> None:
        write_json_atomically(state_path(self.config.state_dir, self.config.task_id), self._state)

    # --- status ------------------------------------------------------------------------

    def publish_status(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_status_write < self.config.status_interval_s:
            return
        self._last_status_write = now
        self.status.updated_at = utcnow().isoformat()
        write_json_atomically(
            status_path(self.config.state_dir, self.config.task_id), self.status.to_json()
        )

    def _count_sent(self, n: int) -> None:
        now = time.monotonic()
        self.status.records_sent += n
        self._rate_window.append((now, self.status.records_sent))
        self._rate_window = [(t, c) for t, c in self._rate_window if now - t <= 10]
        first_t, first_c = self._rate_window[0]
        self.status.records_per_s = (
            (self.status.records_sent - first_c) / (now - first_t) if now > first_t else 0.0
        )

    # --- the run -----------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Capture until ``stop`` is set; raises SourceError/SinkError when it cannot."""
        cfg = self.config
        try:
            with source.connect(cfg.source_dsn) as conn:
                source.check_logical_decoding(conn)
                self.sink.check_stream()
                source.ensure_publication(conn, cfg.publication, "public", TABLES)
                if source.slot_info(conn, cfg.slot_name) is None:
                    lsn = source.create_slot(conn, cfg.slot_name)
                    log(
                        "slot_created",
                        slot=cfg.slot_name,
                        consistent_point=format_lsn(lsn),
                    )
                    self._state = {"full_load_completed": False, "columns": {}}
                    self._save_state()
                if not self._state["full_load_completed"]:
                    self._full_load(conn)
                self.status.status = "running"
                for table in TABLES:
                    self.status.tables[table].state = "Table completed"
                info = source.slot_info(conn, cfg.slot_name)
                confirmed = info.confirmed_flush_lsn if info is not None else 0
                self.status.confirmed_lsn = format_lsn(confirmed)
                self.publish_status(force=True)
                with ReplicationStream(
                    cfg.source_dsn, cfg.slot_name, cfg.publication, confirmed=confirmed
                ) as stream:
                    log("cdc_started", slot=cfg.slot_name, stream=cfg.stream_name)
                    while not stop.is_set():
                        self._cdc_step(conn, stream)  # waits up to the poll interval
                        self.publish_status()
            self.status.status = "stopped"
            self.status.stop_reason = "stopped on request"
        except Exception as exc:
            self.status.status = "failed"
            self.status.last_failure_message = str(exc)
            self.status.stop_reason = "error"
            raise
        finally:
            self.publish_status(force=True)
            log("capture_stopped", status=self.status.status, reason=self.status.stop_reason)

    def _full_load(self, conn: psycopg.Connection) -> None:
        cfg = self.config
        self.status.status = "full-load"
        self.status.full_load_started_at = utcnow().isoformat()
        self.publish_status(force=True)
        defs = source.table_defs(conn, "public", TABLES)
        log("full_load_started", tables=len(defs))
        with source.connect(cfg.source_dsn, autocommit=False) as snap:
            snap.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            for table, tdef in defs.items():
                stats = self.status.tables[table]
                stats.state = "Table loading"
                self.sink.put(
                    [control_record(tdef, "create-table", task_id=cfg.task_id, now=utcnow())]
                )
                chunk: list[OutRecord] = []
                for row in source.snapshot_rows(snap, tdef):
                    chunk.append(data_record(tdef, "load", row, now=utcnow()))
                    if len(chunk) >= SEND_CHUNK:
                        self._send(chunk)
                        stats.full_load_rows += len(chunk)
                        chunk = []
                        self.publish_status()
                self._send(chunk)
                stats.full_load_rows += len(chunk)
                stats.state = "Table completed"
                catalogue = source.column_catalogue(conn, tdef.schema, table)
                self._remember(
                    table,
                    [
                        KnownColumn(
                            c.name,
                            c.type_oid,
                            catalogue[c.name].type_modifier if c.name in catalogue else None,
                            catalogue[c.name].attnum if c.name in catalogue else None,
                        )
                        for c in tdef.columns
                    ],
                )
            snap.rollback()
        self._state["full_load_completed"] = True
        self._save_state()
        self.status.full_load_finished_at = utcnow().isoformat()
        log("full_load_finished", rows={t: s.full_load_rows for t, s in self.status.tables.items()})

    def _send(self, records: list[OutRecord]) -> None:
        if records:
            self.sink.put(records)
            self._count_sent(len(records))

    def _cdc_step(self, conn: psycopg.Connection, stream: ReplicationStream) -> int:
        """One pass of the commit protocol (module docstring); returns the records sent."""
        cfg = self.config
        started = time.monotonic()
        sent = 0
        last_end_lsn: int | None = None
        last_commit_time = None
        chunk: list[OutRecord] = []
        for kind, item in self._records(conn, stream):  # 1
            if kind == "record":
                chunk.append(item)
                if len(chunk) >= SEND_CHUNK:
                    self._send(chunk)  # 2
                    sent += len(chunk)
                    chunk = []
            else:  # a commit: (end_lsn, commit_time)
                last_end_lsn, last_commit_time = item
        self._send(chunk)  # 2
        sent += len(chunk)
        if self._columns_unsaved:
            # Only now that the control records the new columns gave are on the stream: saved
            # before, a crash ahead of the put would replay the Relation message against
            # columns already known, and the ALTER would never be told.
            self._save_state()
            self._columns_unsaved = False
        if last_end_lsn is not None:
            stream.confirm(last_end_lsn)  # 3
            lag = (utcnow() - last_commit_time).total_seconds()
            self.status.cdc_latency_source_s = self.status.cdc_latency_target_s = max(lag, 0.0)
        elif self._txn is None:
            stream.confirm(stream.server_position)  # 3, heartbeat
            self.status.cdc_latency_source_s = self.status.cdc_latency_target_s = 0.0
        self.status.confirmed_lsn = format_lsn(stream.confirmed)
        now = time.monotonic()
        if now - self._last_slot_read >= cfg.status_interval_s:
            self._last_slot_read = now
            info = source.slot_info(conn, cfg.slot_name)
            if info is not None:
                self.status.retained_wal_bytes = info.retained_wal_bytes
        if sent:
            log(
                "cdc_step",
                records=sent,
                seconds=round(time.monotonic() - started, 6),
                confirmed=self.status.confirmed_lsn,
            )
        return sent

    def _records(
        self, conn: psycopg.Connection, stream: ReplicationStream
    ) -> Iterator[tuple[str, Any]]:
        """DMS records (and commit markers) for the messages that have arrived: up to about
        ``max_changes_per_step`` (ending at a commit) or until none is waiting."""
        cfg = self.config
        for read, (lsn, raw) in enumerate(stream.messages(cfg.poll_interval_s), start=1):
            message = pgoutput.parse(raw)
            if isinstance(message, pgoutput.Begin):
                self._txn = _Txn(
                    xid=message.xid, commit_lsn=message.final_lsn, commit_time=message.commit_time
                )
            elif isinstance(message, pgoutput.Commit):
                self._txn = None
                yield "commit", (message.end_lsn, message.commit_time)
                if read >= cfg.max_changes_per_step:
                    return
            elif isinstance(message, pgoutput.Relation):
                yield from self._relation(conn, message)
            elif isinstance(message, pgoutput.Change):
                if self._txn is None:
                    raise pgoutput.ProtocolError("a change outside a transaction")
                yield "record", self._change_record(conn, self._txn, lsn, message)

    def _known(self, table: str) -> list[KnownColumn] | None:
        """The table's columns as last seen (state files from before types were kept hold
        names only: their types are unknown, so no type change is told from them)."""
        entries = self._state["columns"].get(table)
        if entries is None:
            return None
        return [KnownColumn(e) if isinstance(e, str) else KnownColumn(**e) for e in entries]

    def _remember(self, table: str, columns: list[KnownColumn]) -> None:
        self._state["columns"][table] = [
            {
                "name": c.name,
                "type_oid": c.type_oid,
                "type_modifier": c.type_modifier,
                "attnum": c.attnum,
            }
            for c in columns
        ]

    def _relation(
        self, conn: psycopg.Connection, message: pgoutput.Relation
    ) -> Iterator[tuple[str, Any]]:
        """Remember the table's shape; a change of its columns (names, types) becomes DMS
        control records (``records.alter_operations``). The server sends a Relation message
        before a table's first change on each connection and again after any invalidation
        of its cached definition (an ALTER, but also an ANALYZE), so most say nothing new."""
        catalogue = source.column_catalogue(conn, message.schema, message.table)
        tdef = TableDef(
            message.schema,
            message.table,
            tuple(
                ColumnDef(
                    c.name,
                    c.type_oid,
                    catalogue[c.name].nullable if c.name in catalogue else True,
                )
                for c in message.columns
            ),
            message.key_columns,
        )
        self._relations[message.relation_id] = tdef
        known = self._known(message.table)
        previous = {c.name: c for c in known or ()}
        after = [
            KnownColumn(
                c.name,
                c.type_oid,
                c.type_modifier,
                # the catalogue is now, the message is when the change was logged: a name
                # renamed since is no longer there, and keeps the number it had
                catalogue[c.name].attnum
                if c.name in catalogue
                else getattr(previous.get(c.name), "attnum", None),
            )
            for c in message.columns
        ]
        if known is not None:
            for operation, columns in alter_operations(known, after):
                log(
                    "table_altered",
                    table=message.table,
                    operation=operation,
                    columns=list(columns),
                )
                self.status.tables[message.table].ddls += 1
                yield (
                    "record",
                    control_record(tdef, operation, task_id=self.config.task_id, now=utcnow()),
                )
        if known != after:
            self._remember(message.table, after)
            self._columns_unsaved = True  # saved by _cdc_step once its records are on the stream

    def _change_record(
        self, conn: psycopg.Connection, txn: _Txn, lsn: int, change: pgoutput.Change
    ) -> OutRecord:
        tdef = self._relations[change.relation_id]
        values = list(change.values)
        if any(v is pgoutput.UNCHANGED for v in values):
            key = {
                c.name: v
                for c, v in zip(tdef.columns, values, strict=True)
                if c.name in tdef.primary_key
            }
            values = [
                source.current_value(conn, tdef, c.name, key) if v is pgoutput.UNCHANGED else v
                for c, v in zip(tdef.columns, values, strict=True)
            ]
        txn.records += 1
        position = TransactionPosition(
            xid=txn.xid,
            record_id=txn.records,
            commit_lsn=txn.commit_lsn,
            change_lsn=lsn,
            commit_time=txn.commit_time,
            previous=self._previous,
        )
        self._previous = (txn.xid, txn.records)
        stats = self.status.tables.get(tdef.table)
        if stats is not None:
            setattr(stats, change.operation + "s", getattr(stats, change.operation + "s") + 1)
        return data_record(
            tdef,
            change.operation,
            values,
            now=utcnow(),
            position=position,
            partitioning=self.config.partitioning,
        )

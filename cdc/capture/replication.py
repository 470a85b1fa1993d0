"""The capture engine's replication edge: the slot's changes over PostgreSQL's streaming
replication protocol, as DMS reads them (a walsender decoding each WAL record once, in order).
RDS streams a logical slot's changes "to a client such as pg_recvlogical", DMS being the most
common, over a replication connection, which needs the rds_replication role (Amazon RDS User
Guide, "Performing logical replication for Amazon RDS for PostgreSQL").

psycopg 3 has no replication support (its issue #71); psycopg2's
``LogicalReplicationConnection`` has it, so psycopg2 is used here and nowhere else. The
engine's other queries (catalogue, publication, slot) stay on psycopg 3 (``source``).

Feedback: the flush position told to the server is what the slot keeps after a restart
(``confirmed_flush_lsn``; PostgreSQL documentation, "Streaming Replication Protocol",
Standby status update). The engine confirms the end of a transaction only after Kinesis has
acknowledged every record of it, so a crash sends a transaction again, never skips one.
psycopg2 sends the stored position every ``STATUS_INTERVAL_S`` and answers the server's
keepalives by itself; on a keepalive it also moves the stored position up to the keepalive's
``wal_end`` when the last data message's start is at or below what was confirmed (psycopg2
pull request #913, "Smart replication feedback"). That rule is wrong mid-transaction
(pgoutput's Relation messages start at 0; an interleaved transaction's Begin starts below the
last end confirmed), so the connection turns off ``wal_sender_timeout``: without it the
walsender sends keepalives only when it has sent every transaction decoded so far
(``WalSndWaitForWal``), never between a transaction's messages, and the last message before
one is always a Commit. It also keeps the server from ending the stream while the engine
waits out a Kinesis outage without reading (``WalSndCheckTimeOut``). A client that dies is
still noticed by TCP. ``confirm(force=True)`` sends the position at once.

An idle source: the server's keepalive carries the position its decoding has reached
(everything before it sent); with no transaction open and everything read confirmed,
confirming that position lets the slot release WAL, as PostgreSQL's own apply worker does
when it has no pending transaction (``send_feedback`` in ``worker.c``).
"""

from __future__ import annotations

import select
from collections.abc import Iterator
from types import TracebackType

import psycopg2
import psycopg2.extras

from cdc.capture.source import SourceError

STATUS_INTERVAL_S = 10.0  # psycopg2's own feedback between ours


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class ReplicationStream:
    """pgoutput messages of one slot, from its confirmed position, as ``(lsn, payload)``."""

    def __init__(self, dsn: str, slot: str, publication: str, *, confirmed: int) -> None:
        """Stream ``slot`` from where it stands, ``confirmed`` (its confirmed_flush_lsn)."""
        try:
            self._conn = psycopg2.connect(
                dsn,
                connection_factory=psycopg2.extras.LogicalReplicationConnection,
                options="-c wal_sender_timeout=0",  # see the module docstring
            )
        except psycopg2.OperationalError as exc:
            reason = _first_line(exc)
            hint = (
                " (the capture user needs REPLICATION, on RDS the rds_replication role)"
                if "replication" in reason.lower() or "permission" in reason.lower()
                else ""
            )
            raise SourceError(
                f"cannot open a replication connection to the source: {reason}{hint}"
            ) from None
        self._cursor = self._conn.cursor()
        self.confirmed = confirmed
        try:
            # start_lsn 0: the server starts at the slot's confirmed_flush_lsn
            self._cursor.start_replication(
                slot_name=slot,
                decode=False,
                options={"proto_version": "1", "publication_names": publication},
                status_interval=STATUS_INTERVAL_S,
            )
        except psycopg2.Error as exc:
            self.close()
            raise SourceError(
                f"cannot stream from replication slot '{slot}': {_first_line(exc)}"
            ) from None

    def __enter__(self) -> ReplicationStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    def messages(self, wait_s: float) -> Iterator[tuple[int, bytes]]:
        """The messages that have arrived, waiting up to ``wait_s`` for the first; ends when
        none is waiting (mid-transaction too: the caller keeps its place)."""
        try:
            message = self._cursor.read_message()
            if message is None:
                select.select([self._conn], [], [], wait_s)
                message = self._cursor.read_message()
            while message is not None:
                yield message.data_start, message.payload
                message = self._cursor.read_message()
        except psycopg2.Error as exc:
            raise SourceError(
                f"the replication stream from the source failed: {_first_line(exc)}"
            ) from None

    @property
    def server_position(self) -> int:
        """The ``wal_end`` of the server's last message: after a keepalive, how far its
        decoding has got; after a Commit, that transaction's end."""
        return self._cursor.wal_end

    def confirm(self, lsn: int) -> None:
        """Tell the server everything before ``lsn`` is delivered (only ever forward)."""
        if lsn <= self.confirmed:
            return
        try:
            self._cursor.send_feedback(write_lsn=lsn, flush_lsn=lsn, force=True)
        except psycopg2.Error as exc:
            raise SourceError(
                f"the replication stream from the source failed: {_first_line(exc)}"
            ) from None
        self.confirmed = lsn

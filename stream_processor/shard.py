"""One shard's processing: decode → transform → micro-batch, dead letters, and the commit
protocol that ends each batch (``ShardProcessor.commit``).

Everything here but the injected join state, object store, checkpoint and metrics publisher is
pure; the KCL record processor (``kcl_app``) is the shell around it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from contracts.batches import BAD_RECORD, PROCESSOR_ERROR, DeadLetter, ObjectStore
from contracts.events import error, log, warning
from contracts.schema_drift import Drift
from stream_processor.batch import Batch, dead_letter, encode_files, put_files, write_manifest
from stream_processor.config import ProcessorConfig
from stream_processor.decode import Change, Control, DecodeError, decode
from stream_processor.drift import SEEN, DriftRegistry
from stream_processor.edge_errors import EdgeRefused, EdgeUnavailable
from stream_processor.join_batch import prepare
from stream_processor.join_state.interface import JoinState
from stream_processor.transform import OutRow, transform

Checkpoint = Callable[[str | None], bool]  # sequence number (None: SHARD_END) → taken?
Publish = Callable[[str, dict[str, float]], None]  # shard, figures


@dataclass(frozen=True)
class Failure:
    """Why a record could not become rows: ``cause`` is ``bad_record`` (not a valid Contract A
    record) or ``processor_error`` (our own code failed on a valid one)."""

    cause: str
    reason: str
    drift: tuple[Drift, ...] = ()  # how the record differs from Contract A, when it does
    column: str | None = None  # ``table.column`` of the value that failed, when one did


Outcome = tuple[OutRow, ...] | Control | Failure


def process(state: JoinState, records: Sequence[bytes], *, strict: bool = False) -> list[Outcome]:
    """Each record's rows (or control notice, or failure), in order (``process_drifting``
    without the drift)."""
    return [outcome for outcome, _ in process_drifting(state, records, strict=strict)]


def process_drifting(
    state: JoinState, records: Sequence[bytes], *, strict: bool = False
) -> list[tuple[Outcome, tuple[Drift, ...]]]:
    """Each record's rows (or control notice, or failure) and how it differs from Contract A
    (``decode``; ``strict``: the policy that refuses every record that does), in order:
    decoded, the join state
    read and written once for them all (``join_batch``), transformed one by one against that
    snapshot with each one's writes applied before the next. The shard and a dead-letter
    redrive both go through here.

    This is where records enter our code, so every failure is classed here, once:
    ``DecodeError`` is a ``bad_record``; any other exception on one record's decode or
    transform is that record's ``processor_error``; ``EdgeUnavailable`` (the join state
    failing for reasons no record causes) propagates, for the shard to stop. The join state's
    bulk calls serve every record of the call, so when one fails otherwise (refused for one
    record's item, or our code failing on one record's writes), the records are processed again
    in halves, recursively, until the failing record is alone and becomes the failure: a poison
    record among n costs about 2 log2(n) extra calls, the others go on in order."""
    decoded = [_decoded(data, strict) for data in records]
    try:
        view = prepare(state, [d for d in decoded if isinstance(d, Change)])
    except EdgeUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - the record edge: one record's failure, found below
        if len(records) == 1:
            failure = Failure(PROCESSOR_ERROR, f"join state failed: {type(exc).__name__}: {exc}")
            return [(failure, decoded[0].drift)]
        middle = len(records) // 2
        return process_drifting(state, records[:middle], strict=strict) + process_drifting(
            state, records[middle:], strict=strict
        )
    outcomes: list[tuple[Outcome, tuple[Drift, ...]]] = []
    for item in decoded:
        if not isinstance(item, Change):
            outcomes.append((item, item.drift))
            continue
        try:
            out = transform(item, view)
        except Exception as exc:  # noqa: BLE001 - the record edge: a valid record our code fails on
            failure = Failure(PROCESSOR_ERROR, f"transform failed: {type(exc).__name__}: {exc}")
            outcomes.append((failure, item.drift))
            continue
        if out.writes:
            view.apply(out.writes)
        outcomes.append((out.rows, item.drift))
    return outcomes


def _decoded(data: bytes, strict: bool) -> Change | Control | Failure:
    try:
        return decode(data, strict=strict)
    except DecodeError as exc:
        return Failure(BAD_RECORD, str(exc), exc.drift, exc.column)
    except Exception as exc:  # noqa: BLE001 - the record edge: decode has a bug for this record
        return Failure(PROCESSOR_ERROR, f"decode failed: {type(exc).__name__}: {exc}")


class StopShard(RuntimeError):
    """This shard must take no more records: an edge failed for reasons no record causes, a
    commit could not be made, or the breaker saw our own code failing on most records. The
    record processor ends (``kcl_app``) so that the KCL restarts the shard from its last
    checkpoint and no later checkpoint passes a record that is neither in a manifest nor a
    dead letter."""


@dataclass
class Breaker:
    """Trips when most of the shard's records failed as ``processor_error``: then the code is
    wrong, not the records, and dead-lettering the stream would only move it aside. At least
    ``min_errors`` errors and more than half, in one call or over the last ``window`` records
    (calls of one record each, on a quiet shard)."""

    window: int = 100
    min_errors: int = 10
    recent: deque[bool] = field(default_factory=deque)

    def trips(self, failed: Sequence[bool]) -> bool:
        self.recent.extend(failed)
        while len(self.recent) > self.window:
            self.recent.popleft()
        return self._most(sum(failed), len(failed)) or self._most(
            sum(self.recent), len(self.recent)
        )

    def _most(self, errors: int, records: int) -> bool:
        return errors >= self.min_errors and 2 * errors > records


class MetricsUnavailable(RuntimeError):
    """A metrics publisher could not deliver (throttled, unreachable): never fatal."""


@dataclass
class Metrics:
    records_in: int = 0
    rows_out: dict[str, int] = field(default_factory=dict)
    batches_committed: int = 0
    dead_letters: int = 0
    processor_errors: int = 0
    control_records: int = 0
    schema_drifts: int = 0  # distinct drifts this shard reported first in its process
    millis_behind_latest: int | None = None


@dataclass(frozen=True)
class CommitResult:
    manifest_key: str | None  # None: the batch's records produced no rows
    files: dict[str, int]  # table → rows
    last_seq: str
    checkpointed: bool


class ShardProcessor:
    def __init__(
        self,
        shard_id: str,
        state: JoinState,
        store: ObjectStore,
        config: ProcessorConfig,
        publish: Publish | None = None,
        drifts: DriftRegistry = SEEN,
    ) -> None:
        """``publish`` receives each batch's figures (CloudWatch in AWS; None: logs only);
        ``drifts``: the schema drifts already reported (by default the process's)."""
        self.shard_id = shard_id
        self.state = state
        self.store = store
        self.config = config
        self.publish = publish
        self.batch = Batch(shard_id)
        self.metrics = Metrics()
        self.breaker = Breaker()
        self.drifts = drifts
        self.new_drifts = 0  # since the last commit: its SchemaDrift figure

    def process(self, sequence_number: str, partition_key: str, data: bytes) -> None:
        """One Kinesis record (see ``process_many``)."""
        self.process_many([(sequence_number, partition_key, data)])

    def process_many(self, records: Sequence[tuple[str, str, bytes]]) -> None:
        """Kinesis records (sequence number, partition key, data), in shard order. A record
        that cannot be decoded or transformed goes to the dead-letter prefix with its reason;
        the shard keeps moving. A shared join state (DynamoDB) is read and written once for
        the whole batch (``join_batch``). Raises ``StopShard`` when the join state or the
        dead-letter store is unavailable, or when the breaker trips (before any of the call's
        records is dead-lettered). Each schema drift a record shows that this process has not
        reported yet is a ``schema_drift`` event (``drift.DriftRegistry``)."""
        try:
            processed = process_drifting(
                self.state, [data for _, _, data in records], strict=self.config.strict
            )
        except EdgeUnavailable as exc:
            raise StopShard(str(exc)) from exc
        outcomes = [outcome for outcome, _ in processed]
        failed = [isinstance(o, Failure) and o.cause == PROCESSOR_ERROR for o in outcomes]
        if self.breaker.trips(failed):
            reasons = {o.reason for o in outcomes if isinstance(o, Failure)}
            raise StopShard(
                f"breaker: {sum(failed)} of the call's {len(failed)} records, "
                f"{sum(self.breaker.recent)} of the last {len(self.breaker.recent)}, failed "
                f"as processor_error (our code, not the records); "
                f"e.g. {sorted(reasons)[0]}"
            )
        for (sequence_number, partition_key, data), (outcome, drift) in zip(
            records, processed, strict=True
        ):
            self.metrics.records_in += 1
            if drift:
                self._note_drift(drift, sequence_number)
            rows: tuple[OutRow, ...] = ()
            if isinstance(outcome, Control):
                self.metrics.control_records += 1
                log(
                    "control_record",
                    shard=self.shard_id,
                    table=outcome.table,
                    operation=outcome.operation,
                    drift=len(outcome.drift),
                )
            elif isinstance(outcome, Failure):
                self._dead_letter(sequence_number, partition_key, data, self._named(outcome))
            else:
                rows = outcome
            self.batch.add_record(sequence_number, rows, (partition_key, data))

    def _note_drift(self, drift: tuple[Drift, ...], sequence_number: str) -> None:
        new = self.drifts.note(
            drift,
            policy=self.config.schema_changes,
            shard=self.shard_id,
            sequence_number=sequence_number,
        )
        self.new_drifts += len(new)
        self.metrics.schema_drifts += len(new)

    def _named(self, failure: Failure) -> Failure:
        """A value that failed to decode in a column whose type the source changed: the reason
        says so."""
        change = self.drifts.type_change(failure.column)
        if failure.cause != BAD_RECORD or change is None or str(change) in failure.reason:
            return failure
        return Failure(failure.cause, f"{failure.reason}; {change}", failure.drift, failure.column)

    def _dead_letter(
        self, sequence_number: str, partition_key: str, data: bytes, failure: Failure
    ) -> None:
        letter = DeadLetter(
            cause=failure.cause,
            reason=failure.reason,
            shard_id=self.shard_id,
            sequence_number=sequence_number,
            partition_key=partition_key,
            raw=data,
            dead_lettered_at=datetime.now(UTC),
        )
        try:
            key = dead_letter(self.store, letter)
        except (EdgeUnavailable, EdgeRefused) as exc:  # never pass a record kept nowhere
            raise StopShard(f"cannot write the dead letter of {sequence_number}: {exc}") from exc
        self.metrics.dead_letters += 1
        self.batch.dead_letters += 1
        if failure.cause == PROCESSOR_ERROR:
            self.metrics.processor_errors += 1
            self.batch.processor_errors += 1
        (error if failure.cause == PROCESSOR_ERROR else warning)(
            "dead_letter",
            shard=self.shard_id,
            sequence_number=sequence_number,
            cause=failure.cause,
            reason=failure.reason,
            key=key,
        )

    def due(self) -> bool:
        cfg = self.config
        return self.batch.due(
            max_rows=cfg.max_batch_rows,
            max_bytes=cfg.max_batch_bytes,
            max_age_s=cfg.max_batch_age_s,
        )

    def commit(self, checkpoint: Checkpoint, *, shard_end: bool = False) -> CommitResult | None:
        """End the buffered batch. The commit protocol, in order:

        1. one parquet file per table touched, with the table's explicit Arrow schema;
        2. the manifest, last: the loader is triggered by manifests only, so it never sees
           half a batch;
        3. the checkpoint at the batch's last sequence number (at ``shard_end``: SHARD_END,
           taken even when nothing was buffered), only after 1 and 2 are in the store;
        4. metrics, best effort: a publisher that cannot deliver never undoes or blocks 1-3.

        A record whose rows parquet cannot hold (a value decode let through) is found and
        dead-lettered before 1, its rows taken out (``batch.encode_files``). If 1 or 2 fails
        (the store unavailable, or refusing a file), ``StopShard`` is raised and nothing is
        checkpointed: the batch is dropped with the record processor, and the KCL's restart
        reads its records again from the last checkpoint. Keeping it buffered instead would
        grow it without bound while the KCL keeps reading. Returns None when nothing was
        buffered."""
        if self.batch.empty:
            if shard_end:
                checkpoint(None)
            return None
        batch = self.batch
        started = time.monotonic()
        encoded, refused = encode_files(batch, self.config.compression)
        for sequence_number, reason in refused.items():
            partition_key, data = batch.sources[sequence_number]
            self._dead_letter(
                sequence_number, partition_key, data, Failure(PROCESSOR_ERROR, reason)
            )
        try:
            files = put_files(batch, encoded, self.store)  # 1
            key = write_manifest(batch, files, self.store) if files else None  # 2
        except (EdgeUnavailable, EdgeRefused) as exc:
            raise StopShard(f"cannot commit {batch.first_seq}..{batch.last_seq}: {exc}") from exc
        self.batch = Batch(self.shard_id)
        new_drifts, self.new_drifts = self.new_drifts, 0
        flush_ms = round((time.monotonic() - started) * 1000, 1)
        assert batch.last_seq is not None
        checkpointed = checkpoint(None if shard_end else batch.last_seq)  # 3
        result = CommitResult(key, {f.table: f.rows for f in files}, batch.last_seq, checkpointed)
        self.metrics.batches_committed += 1
        for f in files:
            self.metrics.rows_out[f.table] = self.metrics.rows_out.get(f.table, 0) + f.rows
        log(
            "batch_committed",
            shard=self.shard_id,
            manifest=key,
            records=batch.records,
            rows=result.files,
            dead_letters=batch.dead_letters,
            schema_drifts=new_drifts,
            last_sequence_number=batch.last_seq,
            checkpointed=checkpointed,
            flush_ms=flush_ms,
            millis_behind_latest=self.metrics.millis_behind_latest,
        )
        self.publish_figures(  # 4
            {
                "RecordsIn": batch.records,
                "RowsOut": sum(result.files.values()),
                "DeadLetters": batch.dead_letters,
                "ProcessorErrors": batch.processor_errors,
                "FlushLatencyMs": flush_ms,
                "MillisBehindLatest": self.metrics.millis_behind_latest or 0,
                "SchemaDrift": new_drifts,
            }
        )
        return result

    def publish_figures(self, figures: dict[str, float]) -> None:
        """Publish ``figures`` now, best effort (``commit``'s step 4; the record processor's
        UncommittedSeconds)."""
        if self.publish is None:
            return
        try:
            self.publish(self.shard_id, figures)
        except MetricsUnavailable as exc:
            warning("metrics_not_published", shard=self.shard_id, error=str(exc))

    def drop(self) -> None:
        """The lease is gone: forget the buffer; the next owner reprocesses from the checkpoint."""
        self.batch = Batch(self.shard_id)

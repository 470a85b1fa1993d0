"""The KCL record processor: one per shard, run by the MultiLangDaemon as
``python -m stream_processor.kcl_app``.

Lifecycle (amazon_kclpy v3): ``initialize`` → ``process_records``* → one of ``lease_lost``
(drop the buffer, do not checkpoint: another worker owns the shard now), ``shard_ended``
(commit, checkpoint SHARD_END), ``shutdown_requested`` (commit). ``ShardProcessor.commit``
is the commit protocol: files → manifest → checkpoint → metrics. A checkpoint is only
ever taken after the manifest covering every record up to it is in S3.
"""

from __future__ import annotations

import functools
import io
import sys
import threading
import time
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any, NoReturn, Protocol

import boto3
from amazon_kclpy import kcl
from amazon_kclpy.v3 import processor
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from contracts.batches import ObjectStore, S3Store
from contracts.events import error, log, warning
from contracts.retry import Backoff
from stream_processor import config as processor_config
from stream_processor.edge_errors import ClassedStore
from stream_processor.join_state.dynamodb import DynamoJoinState
from stream_processor.join_state.interface import JoinState
from stream_processor.shard import (
    Breaker,
    CommitResult,
    MetricsUnavailable,
    Publish,
    ShardProcessor,
    StopShard,
)
from stream_processor.shard_health import DynamoHealth

CHECKPOINT_BACKOFF = Backoff(first_s=1.0, attempts=5)  # waits 1, 2, 4, 8 s


def checkpoint(checkpointer: kcl.Checkpointer, sequence_number: str | None, shard_id: str) -> bool:
    """Checkpoint as the KCL documents: retry on throttling, stop on shutdown, report an
    invalid state. Returns True when the checkpoint was taken."""
    failures = 0
    while True:
        try:
            checkpointer.checkpoint(sequence_number)
            log("checkpointed", shard=shard_id, sequence_number=sequence_number)
            return True
        except kcl.CheckpointError as exc:
            if exc.value == "ShutdownException":
                warning("checkpoint_skipped", shard=shard_id, reason="shutdown: the lease is gone")
                return False
            failures += 1
            if exc.value == "ThrottlingException" and not CHECKPOINT_BACKOFF.exhausted(failures):
                time.sleep(CHECKPOINT_BACKOFF.delay(failures))
                continue
            error(
                "checkpoint_failed",
                shard=shard_id,
                error=exc.value,
                sequence_number=sequence_number,
            )
            return False


# Health writes are best effort, and the state table may be the edge that failed: short
# timeouts and one retry, so that stopping a shard is not held up by boto3's full retries.
HEALTH_CLIENT = Config(connect_timeout=2, read_timeout=2, retries={"max_attempts": 2})
EXIT_SHARD_STOPPED = 3  # the record processor's exit status when it stops its shard
WATCH_EVERY_S = 15.0  # how often the watchdog looks at the shard
PUBLISH_EVERY_S = 60.0  # how often it publishes UncommittedSeconds


class HealthRecorder(Protocol):
    """Where a shard's last commit and stops are kept across restarts (``shard_health``)."""

    def committed(self, shard_id: str) -> None: ...

    def stopped(self, shard_id: str, reason: str) -> None: ...

    def stopped_by_breaker(self, shard_id: str) -> bool: ...


def at_edge(method: Callable[[StarSchemaProcessor, Any], None]) -> Callable[..., None]:
    """The one place where a failure leaves our code for kclpy's: kclpy catches any exception
    a record processor raises, writes it to its error file and carries on with the next
    records (``KCLProcess._perform_action``), so the next commit would checkpoint past records
    no manifest covers. Here every exception is decided instead: ``StopShard`` (an edge failed,
    a commit could not be made, the breaker tripped) and any other (our own bug) stop the
    shard (``StarSchemaProcessor.stop``). Failures of one record's content never get here:
    ``shard.process`` makes them dead letters."""

    @functools.wraps(method)
    def guarded(self: StarSchemaProcessor, kcl_input: Any) -> None:  # noqa: ANN401
        try:
            method(self, kcl_input)
        except StopShard as exc:
            self.stop(str(exc), bug=False)
        except Exception as exc:  # noqa: BLE001 - see above: nothing may reach kclpy
            self.stop(f"{type(exc).__name__}: {exc}", bug=True, detail=traceback.format_exc())

    return guarded


class StarSchemaProcessor(processor.RecordProcessorBase):
    def __init__(
        self,
        make_shard: Callable[[str], ShardProcessor],
        health: HealthRecorder | None = None,
        stall_after_s: float = 120.0,
    ) -> None:
        self.make_shard = make_shard
        self.health = health
        self.stall_after_s = stall_after_s
        self.shard: ShardProcessor | None = None
        self.shard_id = "?"
        self.initialized_at: float | None = None  # until the shard's first records arrive
        # monotonic time the oldest record not yet covered by a commit was received (None: none)
        self.holding_since: float | None = None
        self._watchdog: threading.Event | None = None

    @at_edge
    def initialize(self, initialize_input: Any) -> None:  # noqa: ANN401 - kclpy's input
        self.shard_id = initialize_input.shard_id
        self.shard = self.make_shard(self.shard_id)
        if self.health is not None and self.health.stopped_by_breaker(self.shard_id):
            # The breaker stopped this shard last time and nothing has committed since: the
            # fault is still in our code until proven otherwise, so the first processor_error
            # stops it again instead of up to min_errors records becoming dead letters at
            # each restart.
            self.shard.breaker = Breaker(min_errors=1)
        self.initialized_at = time.monotonic()
        log(
            "shard_initialized",
            shard=self.shard_id,
            sequence_number=initialize_input.sequence_number,
        )
        self._watchdog = threading.Event()
        threading.Thread(
            target=self._watch, args=(self._watchdog,), name="watchdog", daemon=True
        ).start()

    def _checkpointer(self, checkpointer: kcl.Checkpointer) -> Callable[[str | None], bool]:
        return lambda sequence_number: checkpoint(checkpointer, sequence_number, self.shard_id)

    @at_edge
    def process_records(self, process_records_input: Any) -> None:  # noqa: ANN401
        self.shard.metrics.millis_behind_latest = process_records_input.millis_behind_latest
        records = process_records_input.records
        if records and self.initialized_at is not None:
            log(  # the last start-up step this shard's record processor sees
                "first_records",
                shard=self.shard_id,
                records=len(records),
                since_initialized_s=round(time.monotonic() - self.initialized_at, 1),
                millis_behind_latest=process_records_input.millis_behind_latest,
            )
            self.initialized_at = None
        if records and self.holding_since is None:
            self.holding_since = time.monotonic()
        self.shard.process_many(
            [
                (record.sequence_number, record.partition_key, record.binary_data)
                for record in records
            ]
        )
        if self.shard.due():
            self._commit(process_records_input.checkpointer)

    def _commit(
        self, checkpointer: kcl.Checkpointer, *, shard_end: bool = False
    ) -> CommitResult | None:
        result = self.shard.commit(self._checkpointer(checkpointer), shard_end=shard_end)
        self.holding_since = None
        if result is not None and self.health is not None:
            self.health.committed(self.shard_id)
        return result

    @at_edge
    def lease_lost(self, lease_lost_input: Any) -> None:  # noqa: ANN401
        log(
            "lease_lost",
            shard=self.shard_id,
            dropped_records=self.shard.batch.records if self.shard else 0,
        )
        if self.shard is not None:
            self.shard.drop()
        self.holding_since = None
        self._end_watch()

    @at_edge
    def shard_ended(self, shard_ended_input: Any) -> None:  # noqa: ANN401
        result = self._commit(shard_ended_input.checkpointer, shard_end=True)
        log(
            "shard_ended",
            shard=self.shard_id,
            last_sequence_number=result.last_seq if result else None,
        )
        self._end_watch()

    @at_edge
    def shutdown_requested(self, shutdown_requested_input: Any) -> None:  # noqa: ANN401
        self._commit(shutdown_requested_input.checkpointer)
        log("shutdown_requested", shard=self.shard_id, metrics=vars(self.shard.metrics))
        self._end_watch()

    def stop(self, reason: str, *, bug: bool, detail: str | None = None) -> NoReturn:
        """Stop this shard: take no more records and end the record processor, so that no
        later checkpoint can pass a record that is held here. The Python child's exit ends the
        whole MultiLangDaemon (``MultiLangShardRecordProcessor.processRecords`` answers a
        failed child with ``stopProcessing``, which calls ``System.exit``: amazon-kinesis-
        client-multilang 3.1.3), so every shard of this worker stops too; ``stream-processor
        run`` restarts the daemon, whose KCL reads each shard again from its checkpoint."""
        stored = f"bug: {reason}" if bug else reason
        try:  # best effort, each step: nothing here may keep the record processor alive
            error(
                "shard_stopped",
                shard=self.shard_id,
                reason=stored,
                bug=bug,
                held_records=self.shard.batch.records if self.shard else 0,
                **({"detail": detail} if detail else {}),
            )
            self._publish_uncommitted()
            if self.health is not None:
                self.health.stopped(self.shard_id, stored)
        finally:
            raise SystemExit(EXIT_SHARD_STOPPED)  # kclpy lets SystemExit through

    def uncommitted_s(self) -> float:
        held = self.holding_since
        return 0.0 if held is None else time.monotonic() - held

    def _publish_uncommitted(self) -> None:
        if self.shard is not None:
            self.shard.publish_figures({"UncommittedSeconds": round(self.uncommitted_s(), 1)})

    def _watch(self, done: threading.Event) -> None:
        """The watchdog: a shard holding records it has not committed for ``stall_after_s``
        (a call that hangs, say) is logged as ``shard_stalled``; ``UncommittedSeconds`` is
        published every ``PUBLISH_EVERY_S``, 0 for a shard holding nothing."""
        last_published = time.monotonic()
        while not done.wait(WATCH_EVERY_S):
            uncommitted = self.uncommitted_s()
            if uncommitted > self.stall_after_s:
                warning("shard_stalled", shard=self.shard_id, uncommitted_s=round(uncommitted, 1))
            if time.monotonic() - last_published >= PUBLISH_EVERY_S:
                self._publish_uncommitted()
                last_published = time.monotonic()

    def _end_watch(self) -> None:
        if self._watchdog is not None:
            self._watchdog.set()


class ErrorEvents(io.TextIOBase):
    """kclpy's error file. kclpy catches any exception a record processor's method raises,
    writes "Caught exception from action dispatch: ..." and the traceback to it, flushes, and
    carries on (``KCLProcess._perform_action``). Each flush here becomes one ERROR event, so a
    real error stays an error now that the daemon passes stderr lines through unchanged
    (``stream_processor/logback.xml``)."""

    def __init__(self, shard_id: Callable[[], str]) -> None:
        super().__init__()
        self._shard_id = shard_id
        self._parts: list[str] = []

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._parts.append(text)
        return len(text)

    def flush(self) -> None:
        text, self._parts = "".join(self._parts).strip(), []
        if text:
            error("record_processor_failed", shard=self._shard_id(), detail=text)


def crashed(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    """``sys.excepthook``: what ends the record processor (an I/O error on the daemon's pipes)
    as one ERROR event instead of bare traceback lines."""
    error(
        "record_processor_crashed",
        error=f"{kind.__name__}: {value}",
        detail="".join(traceback.format_exception(kind, value, tb)),
    )


def components(
    cfg: processor_config.ProcessorConfig,
) -> tuple[JoinState, ObjectStore, Publish | None]:
    """The join state, object store and metrics publisher the record processors use in AWS
    and on the local stack."""
    state = DynamoJoinState(boto3.client("dynamodb"), cfg.state_table)
    store = ClassedStore(S3Store(boto3.client("s3"), cfg.bucket))
    publish = cloudwatch_publisher(boto3.client("cloudwatch"), cfg) if cfg.publish_metrics else None
    return state, store, publish


def serve(
    cfg: processor_config.ProcessorConfig,
    state: JoinState,
    store: ObjectStore,
    publish: Publish | None,
) -> None:
    """Speak the KCL's MultiLangDaemon protocol on stdin/stdout until the daemon ends it (or
    the record processor stops its shard: ``SystemExit(EXIT_SHARD_STOPPED)``)."""
    health = DynamoHealth(
        boto3.client("dynamodb", config=HEALTH_CLIENT), cfg.state_table, cfg.application_name
    )
    record_processor = StarSchemaProcessor(
        lambda shard: ShardProcessor(shard, state, store, cfg, publish),
        health,
        cfg.stall_after_s,
    )
    kcl.KCLProcess(
        record_processor, error_file=ErrorEvents(lambda: record_processor.shard_id)
    ).run()


def main() -> int:
    sys.excepthook = crashed
    try:
        cfg = processor_config.load()
    except processor_config.ConfigError as exc:
        error("processor_config_invalid", error=str(exc))
        return 1
    serve(cfg, *components(cfg))
    return 0


def cloudwatch_publisher(cloudwatch: Any, cfg: processor_config.ProcessorConfig) -> Publish:  # noqa: ANN401
    """Each batch's figures as CloudWatch metrics, twice: per (application, shard), to look
    into one shard, and per application alone, which is what alarms watch (an alarm cannot
    sum over a dimension it does not name). A failed call raises ``MetricsUnavailable``."""

    def publish(shard_id: str, figures: dict[str, float]) -> None:
        application = {"Name": "Application", "Value": cfg.application_name}
        units = {"FlushLatencyMs": "Milliseconds", "MillisBehindLatest": "Milliseconds"}
        try:
            cloudwatch.put_metric_data(
                Namespace=cfg.metrics_namespace,
                MetricData=[
                    {
                        "MetricName": name,
                        "Dimensions": dimensions,
                        "Value": float(value),
                        "Unit": units.get(name, "Count"),
                    }
                    for name, value in figures.items()
                    for dimensions in (
                        [application, {"Name": "ShardId", "Value": shard_id}],
                        [application],
                    )
                ],
            )
        except (BotoCoreError, ClientError) as exc:
            raise MetricsUnavailable(f"{type(exc).__name__}: {exc}") from exc

    return publish


if __name__ == "__main__":
    sys.exit(main())

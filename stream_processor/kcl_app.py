"""The KCL record processor: one per shard, run by the MultiLangDaemon as
``python -m stream_processor.kcl_app``.

Lifecycle (amazon_kclpy v3): ``initialize`` → ``process_records``* → one of ``lease_lost``
(drop the buffer, do not checkpoint: another worker owns the shard now), ``shard_ended``
(flush, checkpoint the end), ``shutdown_requested`` (flush, checkpoint). A checkpoint is only
ever taken after the manifest covering every record up to it is in S3.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable

import boto3
from amazon_kclpy import kcl
from amazon_kclpy.v3 import processor

from stream_processor import config as processor_config
from stream_processor.join_state_dynamodb import DynamoJoinState
from stream_processor.object_store import S3Store
from stream_processor.pipeline import ShardPipeline, log

CHECKPOINT_RETRIES = 5
CHECKPOINT_BACKOFF_S = 1.0


def checkpoint(checkpointer: kcl.Checkpointer, sequence_number: str | None, shard_id: str) -> bool:
    """Checkpoint as the KCL documents: retry on throttling, stop on shutdown, report an
    invalid state. Returns True when the checkpoint was taken."""
    for attempt in range(CHECKPOINT_RETRIES):
        try:
            checkpointer.checkpoint(sequence_number)
            log("checkpointed", shard=shard_id, sequence_number=sequence_number)
            return True
        except kcl.CheckpointError as exc:
            if exc.value == "ShutdownException":
                log("checkpoint_skipped", shard=shard_id, reason="shutdown: the lease is gone")
                return False
            if exc.value == "ThrottlingException" and attempt < CHECKPOINT_RETRIES - 1:
                time.sleep(CHECKPOINT_BACKOFF_S * 2**attempt)
                continue
            log(
                "checkpoint_failed",
                shard=shard_id,
                error=exc.value,
                sequence_number=sequence_number,
            )
            return False
    return False


class StarSchemaProcessor(processor.RecordProcessorBase):
    def __init__(self, make_pipeline: Callable[[str], ShardPipeline]) -> None:
        self.make_pipeline = make_pipeline
        self.pipeline: ShardPipeline | None = None
        self.shard_id = "?"

    def initialize(self, initialize_input: object) -> None:
        self.shard_id = initialize_input.shard_id
        self.pipeline = self.make_pipeline(self.shard_id)
        log(
            "shard_initialized",
            shard=self.shard_id,
            sequence_number=initialize_input.sequence_number,
        )

    def process_records(self, process_records_input: object) -> None:
        self.pipeline.metrics.millis_behind_latest = process_records_input.millis_behind_latest
        self.pipeline.process_many(
            [
                (record.sequence_number, record.partition_key, record.binary_data)
                for record in process_records_input.records
            ]
        )
        if self.pipeline.due():
            self._flush_and_checkpoint(process_records_input.checkpointer)

    def _flush_and_checkpoint(self, checkpointer: kcl.Checkpointer) -> None:
        result = self.pipeline.flush()
        if result is None:
            return
        if result.manifest_key and self.pipeline.config.fault_after_flush == "kill":
            log("fault_injected", shard=self.shard_id, manifest=result.manifest_key)
            os.killpg(os.getpgid(0), signal.SIGKILL)
        checkpoint(checkpointer, result.last_seq, self.shard_id)

    def lease_lost(self, lease_lost_input: object) -> None:
        log(
            "lease_lost",
            shard=self.shard_id,
            dropped_records=self.pipeline.batch.records if self.pipeline else 0,
        )
        if self.pipeline is not None:
            self.pipeline.drop()

    def shard_ended(self, shard_ended_input: object) -> None:
        result = self.pipeline.flush()
        log(
            "shard_ended",
            shard=self.shard_id,
            last_sequence_number=result.last_seq if result else None,
        )
        checkpoint(shard_ended_input.checkpointer, None, self.shard_id)

    def shutdown_requested(self, shutdown_requested_input: object) -> None:
        self._flush_and_checkpoint(shutdown_requested_input.checkpointer)
        log("shutdown_requested", shard=self.shard_id, metrics=vars(self.pipeline.metrics))


def main() -> int:
    try:
        cfg = processor_config.load()
    except processor_config.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    state = DynamoJoinState(boto3.client("dynamodb"), cfg.state_table)
    store = S3Store(boto3.client("s3"), cfg.bucket)
    publish = cloudwatch_publisher(boto3.client("cloudwatch"), cfg) if cfg.publish_metrics else None
    kcl.KCLProcess(
        StarSchemaProcessor(lambda shard: ShardPipeline(shard, state, store, cfg, publish))
    ).run()
    return 0


def cloudwatch_publisher(cloudwatch: object, cfg: processor_config.ProcessorConfig) -> Callable:
    """Each flush's figures as CloudWatch metrics, twice: per (application, shard), to look
    into one shard, and per application alone, which is what alarms watch (an alarm cannot
    sum over a dimension it does not name)."""

    def publish(shard_id: str, figures: dict[str, float]) -> None:
        application = {"Name": "Application", "Value": cfg.application_name}
        units = {"FlushLatencyMs": "Milliseconds", "MillisBehindLatest": "Milliseconds"}
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

    return publish


if __name__ == "__main__":
    sys.exit(main())

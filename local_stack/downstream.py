"""The pipeline after Kinesis, on the local stack: the stream processor under the real KCL
daemon and the loader's local SQS runner, as processes (for ``make demo``)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid

import psycopg
from psycopg import sql

from local_stack import aws
from local_stack import config as stack_config
from local_stack.processes import wait_until
from stream_processor.output_schema import TABLES as WAREHOUSE_TABLES
from warehouse_loader import runner as loader_runner


class Downstream:
    def __init__(self, cfg: stack_config.StackConfig, warehouse_dsn: str) -> None:
        run_id = uuid.uuid4().hex[:6]  # fresh KCL application and join state for each run
        self.cfg, self.warehouse_dsn = cfg, warehouse_dsn
        self.bucket, self.app = "totesys-batches", f"totesys-star-schema-{run_id}"
        s3, self.sqs = aws.client(cfg, "s3"), aws.client(cfg, "sqs")
        if self.bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
            s3.create_bucket(
                Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": cfg.region}
            )
        self.queue_url = self.sqs.create_queue(QueueName="totesys-manifests")["QueueUrl"]
        self.sqs.purge_queue(QueueUrl=self.queue_url)
        loader_runner.wire_bucket_to_queue(s3, self.sqs, self.bucket, self.queue_url)
        self.env = {
            **os.environ,
            **stack_config.app_env(cfg),
            "TOTESYS_CDC_BATCH_BUCKET": self.bucket,
            "TOTESYS_CDC_STATE_TABLE": f"totesys-join-state-{run_id}",
            "TOTESYS_CDC_KCL_APPLICATION": self.app,
            "TOTESYS_CDC_LOAD_QUEUE_URL": self.queue_url,
            "TOTESYS_CDC_WAREHOUSE_DSN": warehouse_dsn,
        }
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        commands = {
            "processor": [
                sys.executable,
                "-m",
                "stream_processor.cli",
                "run",
                "--properties",
                str(self.cfg.state_dir / "kcl" / f"{self.app}.properties"),
            ],
            "loader": [sys.executable, "-m", "warehouse_loader.cli", "run-local"],
        }
        for name, argv in commands.items():
            with open(self.cfg.log_dir / f"{name}.log", "ab") as log:
                self.procs.append(
                    subprocess.Popen(
                        argv,
                        env=self.env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )

    def counts(self) -> dict[str, int]:
        with psycopg.connect(self.warehouse_dsn) as conn:
            count = sql.SQL("SELECT count(*) FROM {}")
            return {
                t: conn.execute(count.format(sql.Identifier(t))).fetchone()[0]
                for t in WAREHOUSE_TABLES
            }

    def ledger(self) -> int:
        with psycopg.connect(self.warehouse_dsn) as conn:
            return conn.execute("SELECT count(*) FROM cdc_load_ledger").fetchone()[0]

    def wait_settled(self, timeout_s: float = 180) -> None:
        """Until every record on the stream is checkpointed by the processor and every manifest
        announced on the queue is loaded. Call once the stream has stopped growing."""
        kinesis, dynamodb = aws.client(self.cfg, "kinesis"), aws.client(self.cfg, "dynamodb")
        last: dict[str, str] = {}
        for shard in kinesis.list_shards(StreamName=self.cfg.stream_name)["Shards"]:
            iterator = kinesis.get_shard_iterator(
                StreamName=self.cfg.stream_name,
                ShardId=shard["ShardId"],
                ShardIteratorType="TRIM_HORIZON",
            )["ShardIterator"]
            while iterator:
                page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
                if not page["Records"]:
                    break
                last[shard["ShardId"]] = page["Records"][-1]["SequenceNumber"]
                iterator = page.get("NextShardIterator")

        def settled() -> bool:
            try:
                items = dynamodb.scan(TableName=self.app, ConsistentRead=True)["Items"]
            except dynamodb.exceptions.ResourceNotFoundException:
                return False
            checkpoints = {i["leaseKey"]["S"]: i.get("checkpoint", {}).get("S") for i in items}
            attrs = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["All"])[
                "Attributes"
            ]
            busy = int(attrs["ApproximateNumberOfMessages"]) + int(
                attrs["ApproximateNumberOfMessagesNotVisible"]
            )
            return all(checkpoints.get(s) == seq for s, seq in last.items()) and not busy

        wait_until(
            settled,
            what="the processor and loader to catch up",
            timeout_s=timeout_s,
            log_path=self.cfg.log_dir / "processor.log",
            interval_s=0.5,
        )

    def stop(self) -> None:
        for proc in self.procs:  # the daemon flushes and checkpoints on SIGTERM
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=60)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

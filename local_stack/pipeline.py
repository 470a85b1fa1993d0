"""The whole pipeline on the local stack, as the processes it runs as in production:

ToteSys database → capture engine → Kinesis → stream processor (the real KCL daemon) → S3 →
SQS → loader runner → warehouse database.

Each ``Pipeline`` has its own databases, stream, bucket, queue, KCL application and join-state
table (``Names``), so the demo, the end-to-end tests and the benchmark never see each other's
data. It can kill and restart each process, lose a manifest event, and put Kinesis behind a
relay that can be cut (``kinesis_outage``): the faults the end-to-end tests inject.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from cdc import source_schema
from cdc.simulator import dataset, traffic, writer
from contracts.batches import DEAD_LETTER_PREFIX
from contracts.star_schema import FACT_SOURCES, FACTS
from contracts.star_schema import TABLES as WAREHOUSE_TABLES
from local_stack import aws, postgres
from local_stack import config as stack_config
from local_stack.capture_process import CaptureProcess
from local_stack.processes import wait_until
from local_stack.tcp_proxy import TcpProxy
from warehouse_loader import migrations, reconcile
from warehouse_loader import runner as loader_runner


def fact_versions_written(changes: Mapping[tuple[str, str], int]) -> dict[str, int]:
    """Fact rows a run must end with: per fact, every change ((table, operation) → count, the
    full load's rows as "load") committed to its source table."""
    return {
        fact: sum(n for (table, _), n in changes.items() if table == source)
        for fact, source in FACT_SOURCES.items()
    }


@dataclass(frozen=True)
class Names:
    source_db: str
    warehouse_db: str
    stream: str
    bucket: str
    queue: str
    app: str  # KCL application: its lease table's name
    state_table: str
    task_id: str  # capture task
    slot: str

    @classmethod
    def unique(cls, prefix: str) -> Names:
        run = f"{prefix}-{uuid.uuid4().hex[:6]}"
        under = run.replace("-", "_")
        return cls(
            f"{under}_totesys",
            f"{under}_warehouse",
            f"{run}-changes",
            f"{run}-batches",
            f"{run}-manifests",
            f"{run}-star-schema",
            f"{run}-join-state",
            run,
            f"{under}_slot",
        )

    @classmethod
    def demo(cls) -> Names:
        """The demo's names: databases and stream a user can look at afterwards."""
        fresh = cls.unique("demo")  # fresh batches, queue, KCL application, join state
        return cls(
            "totesys",
            "warehouse",
            "totesys-changes",
            fresh.bucket,
            fresh.queue,
            fresh.app,
            fresh.state_table,
            "totesys-cdc-demo",
            "totesys_cdc",
        )


class Pipeline:
    def __init__(
        self,
        cfg: stack_config.StackConfig,
        names: Names,
        *,
        settings: dict[str, str] | None = None,
        kinesis_relay: bool = False,
    ) -> None:
        """``settings``: extra ``TOTESYS_CDC_*`` variables for every process (batch knobs).
        ``kinesis_relay``: reach Kinesis through a ``TcpProxy`` (for ``kinesis_outage``)."""
        self.cfg = dataclasses.replace(cfg, stream_name=names.stream)  # app_env, ensure_stream
        self.names = names
        self.source_dsn = cfg.pg_dsn(names.source_db)
        self.warehouse_dsn = cfg.pg_dsn(names.warehouse_db)
        self.proxy = TcpProxy(cfg.aws_port).start() if kinesis_relay else None
        self.s3, self.sqs = aws.client(cfg, "s3"), aws.client(cfg, "sqs")
        self.kinesis = aws.client(cfg, "kinesis")
        self.queue_url = ""
        self.env = {
            **os.environ,
            **stack_config.app_env(self.cfg),
            "TOTESYS_CDC_SOURCE_DSN": self.source_dsn,
            "TOTESYS_CDC_WAREHOUSE_DSN": self.warehouse_dsn,
            "TOTESYS_CDC_BATCH_BUCKET": names.bucket,
            "TOTESYS_CDC_STATE_TABLE": names.state_table,
            "TOTESYS_CDC_KCL_APPLICATION": names.app,
            "TOTESYS_CDC_CAPTURE_TASK_ID": names.task_id,
            "TOTESYS_CDC_CAPTURE_SLOT": names.slot,
            **(settings or {}),
        }
        if self.proxy is not None:
            self.env["AWS_ENDPOINT_URL_KINESIS"] = self.proxy.url
        self.capture = CaptureProcess(
            self.env, cfg.capture_state_dir, names.task_id, self.log_path("capture")
        )  # capture needs nothing create() adds later
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def log_path(self, process: str) -> Path:
        return self.cfg.log_dir / f"{self.names.task_id}-{process}.log"

    # --- set-up ---------------------------------------------------------------------------

    def create(self, seed: int = 42) -> dict[str, int]:
        """Fresh source (schema + the seeded dataset), warehouse (migrated), stream, bucket,
        queue with S3 notifications. Returns the source rows loaded per table."""
        for db in (self.names.source_db, self.names.warehouse_db):
            postgres.drop_database(self.cfg, db)
        postgres.create_database(self.cfg, self.names.source_db)
        postgres.create_database(self.cfg, self.names.warehouse_db)
        with psycopg.connect(self.source_dsn) as conn:
            source_schema.create(conn)
            written = writer.load_dataset(conn, dataset.generate(seed))
        with psycopg.connect(self.warehouse_dsn) as conn:
            migrations.apply(conn)
        if aws.stream_exists(self.kinesis, self.names.stream):
            self.kinesis.delete_stream(StreamName=self.names.stream)
            wait_until(
                lambda: not aws.stream_exists(self.kinesis, self.names.stream),
                what="the old stream to go",
                timeout_s=30,
            )
        aws.ensure_stream(self.cfg)
        if self.names.bucket not in {b["Name"] for b in self.s3.list_buckets()["Buckets"]}:
            self.s3.create_bucket(
                Bucket=self.names.bucket,
                CreateBucketConfiguration={"LocationConstraint": self.cfg.region},
            )
        self.queue_url = self.sqs.create_queue(  # a failed load is retried after 15 s
            QueueName=self.names.queue, Attributes={"VisibilityTimeout": "15"}
        )["QueueUrl"]
        loader_runner.wire_bucket_to_queue(self.s3, self.sqs, self.names.bucket, self.queue_url)
        self.env["TOTESYS_CDC_LOAD_QUEUE_URL"] = self.queue_url
        for suffix in ("state", "status"):
            (self.cfg.capture_state_dir / f"{self.names.task_id}.{suffix}.json").unlink(
                missing_ok=True
            )
        return written

    # --- processes ------------------------------------------------------------------------

    COMMANDS = {
        "processor": ["-m", "stream_processor.cli", "run", "--properties"],
        "loader": ["-m", "warehouse_loader.cli", "run-local"],
    }

    def start_process(self, name: str) -> None:
        """``processor`` (the KCL daemon and its Python record processors) or ``loader``."""
        argv = [sys.executable, *self.COMMANDS[name]]
        if name == "processor":
            argv.append(str(self.cfg.state_dir / "kcl" / f"{self.names.app}.properties"))
        with open(self.log_path(name), "ab") as log:
            self.procs[name] = subprocess.Popen(
                argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def start(self) -> None:
        """Processor and loader first (the KCL takes ~20 s to take its leases), then capture,
        which returns once the full load is on the stream."""
        self.start_process("processor")
        self.start_process("loader")
        self.capture.start()
        self.capture.wait_running()

    def kill(self, name: str) -> None:
        """SIGKILL: ``capture``, ``processor`` (the daemon and its children) or ``loader``."""
        if name == "capture":
            self.capture.kill()
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait(timeout=10)

    def stop_process(self, name: str) -> None:
        """SIGTERM ``processor`` or ``loader`` and wait: the daemon flushes, checkpoints and
        lets its leases go."""
        proc = self.procs[name]
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=90)

    def replay_reset(self, *args: str) -> str:
        """``stream-processor replay reset ARGS`` for this pipeline; returns what it printed."""
        done = subprocess.run(
            [sys.executable, "-m", "stream_processor.cli", "replay", "reset", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"replay reset failed: {done.stderr.strip()}")
        return done.stdout

    def restart(self, name: str) -> None:
        if name == "capture":
            self.capture.start()
            self.capture.wait_running()
        else:
            self.start_process(name)

    def alive(self) -> dict[str, bool]:
        return {
            "capture": self.capture.proc is not None and self.capture.proc.poll() is None,
            **{name: p.poll() is None for name, p in self.procs.items()},
        }

    def stop(self) -> None:
        """SIGTERM everything (the daemon flushes and checkpoints), SIGKILL what lingers."""
        if self.capture.proc is not None and self.capture.proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.capture.stop()
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=60)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        if self.proxy is not None:
            self.proxy.stop()

    def destroy(self, *, keep_data: bool = False) -> None:
        """Remove the bucket, the queue and the KCL's and join state's tables; unless
        ``keep_data``, the databases (and their slot) and the stream too."""
        if not keep_data:
            for db in (self.names.source_db, self.names.warehouse_db):
                postgres.drop_database(self.cfg, db)
            with contextlib.suppress(Exception):
                self.kinesis.delete_stream(StreamName=self.names.stream)
        with contextlib.suppress(Exception):
            self.sqs.delete_queue(QueueUrl=self.queue_url)
        with contextlib.suppress(Exception):
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.names.bucket):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    self.s3.delete_objects(Bucket=self.names.bucket, Delete={"Objects": keys})
            self.s3.delete_bucket(Bucket=self.names.bucket)
        dynamodb = aws.client(self.cfg, "dynamodb")
        for table in (
            self.names.app,
            f"{self.names.app}-CoordinatorState",
            f"{self.names.app}-WorkerMetricStats",
            self.names.state_table,
        ):
            with contextlib.suppress(Exception):
                dynamodb.delete_table(TableName=table)

    # --- traffic and faults ---------------------------------------------------------------

    def traffic(self, **kwargs: Any) -> traffic.TrafficStats:  # noqa: ANN401
        """``cdc.simulator.traffic.run`` against this pipeline's source."""
        return traffic.run(self.source_dsn, **kwargs)

    def kinesis_outage(self, seconds: float) -> None:
        """Kinesis unreachable for capture and the KCL daemon for ``seconds``."""
        if self.proxy is None:
            raise RuntimeError("create the Pipeline with kinesis_relay=True")
        self.proxy.outage(seconds)

    def steal_manifest_event(self, timeout_s: float = 30) -> str:
        """Take one S3 event off the load queue before the loader sees it and delete it: a
        lost notification. Returns its body, for ``redeliver``."""
        stolen: list[str] = []

        def take() -> bool:
            for m in self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=1
            ).get("Messages", []):
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
                stolen.append(m["Body"])
            return bool(stolen)

        wait_until(take, what="a manifest event to steal", timeout_s=timeout_s)
        return stolen[0]

    def redeliver(self, body: str) -> None:
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)

    def inject(self, records: list[bytes]) -> None:
        """Put raw records on the stream, as if DMS had written them."""
        for i, data in enumerate(records):
            self.kinesis.put_record(StreamName=self.names.stream, Data=data, PartitionKey=f"x{i}")

    # --- observing ------------------------------------------------------------------------

    def stream_records(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(shard id, record) of every record on the stream, shard by shard, oldest first."""
        for shard in self.kinesis.list_shards(StreamName=self.names.stream)["Shards"]:
            iterator = self.kinesis.get_shard_iterator(
                StreamName=self.names.stream,
                ShardId=shard["ShardId"],
                ShardIteratorType="TRIM_HORIZON",
            )["ShardIterator"]
            while iterator:
                page = self.kinesis.get_records(ShardIterator=iterator, Limit=10_000)
                if not page["Records"]:
                    break
                for record in page["Records"]:
                    yield shard["ShardId"], record
                iterator = page.get("NextShardIterator")

    def stream_ends(self) -> dict[str, str]:
        """Each shard's last sequence number."""
        return {shard: r["SequenceNumber"] for shard, r in self.stream_records()}

    def checkpoints(self) -> dict[str, str | None]:
        dynamodb = aws.client(self.cfg, "dynamodb")
        try:
            items = dynamodb.scan(TableName=self.names.app, ConsistentRead=True)["Items"]
        except dynamodb.exceptions.ResourceNotFoundException:
            return {}
        return {i["leaseKey"]["S"]: i.get("checkpoint", {}).get("S") for i in items}

    def queue_depth(self) -> int:
        attrs = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["All"])[
            "Attributes"
        ]
        return int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesNotVisible"]
        )

    def quiesce(self, timeout_s: float = 300) -> None:
        """Until capture has shipped every committed change, the processor has checkpointed
        every record on the stream and the loader has loaded every manifest announced. Call
        once the traffic has stopped."""
        if self.capture.proc is not None and self.capture.proc.poll() is None:
            self.capture.wait_caught_up(self.source_dsn, timeout_s=timeout_s)
        last = self.stream_ends()

        def settled() -> bool:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"the {name} exited ({proc.returncode}); see its log")
            done = self.checkpoints()
            return all(done.get(s) == seq for s, seq in last.items()) and not self.queue_depth()

        wait_until(
            settled,
            what="the processor and loader to catch up",
            timeout_s=timeout_s,
            log_path=self.log_path("processor"),
            interval_s=0.5,
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

    def reconcile(self) -> reconcile.Report:
        with (
            psycopg.connect(self.source_dsn) as source,
            psycopg.connect(self.warehouse_dsn) as warehouse,
        ):
            return reconcile.reconcile(source, warehouse)

    def dead_letters(self) -> int:
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.names.bucket, Prefix=DEAD_LETTER_PREFIX + "/"
        )
        return sum(page.get("KeyCount", 0) for page in pages)

    def _latency_rows(self) -> sql.Composable:
        """(at, seconds): every fact version written at the source since %(since)s."""
        return sql.SQL(" UNION ALL ").join(
            sql.SQL(
                "SELECT cdc_source_updated_at AS at, extract(epoch FROM cdc_loaded_at - "
                "(cdc_source_updated_at AT TIME ZONE 'UTC'))::float8 AS seconds FROM {} "
                "WHERE cdc_operation <> 'load' AND cdc_source_updated_at >= %(since)s"
            ).format(sql.Identifier(t))
            for t in FACTS
        )

    def latencies(self, since: datetime) -> list[tuple[datetime, float]]:
        """(source change time, seconds until it was in the warehouse) of every fact version
        written at the source since ``since`` (naive UTC), oldest first."""
        with psycopg.connect(self.warehouse_dsn) as conn:
            query = sql.SQL("{} ORDER BY 1").format(self._latency_rows())
            return [(at, seconds) for at, seconds in conn.execute(query, {"since": since})]

    def latency_summary(self, since: datetime) -> tuple[int, float, float, float, float] | None:
        """(changes, p50, p95, p99, max) of ``latencies(since)``, computed in the warehouse
        (nearest rank, as ``percentile``); None before the first change lands."""
        query = sql.SQL(
            "SELECT count(*), percentile_disc(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP "
            "(ORDER BY seconds), max(seconds) FROM ({}) AS l"
        ).format(self._latency_rows())
        with psycopg.connect(self.warehouse_dsn) as conn:
            count, percentiles, most = conn.execute(query, {"since": since}).fetchone()
        return None if count == 0 else (count, *percentiles, most)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]

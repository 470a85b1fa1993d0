"""A pipeline run's own resources on the local stack: its names (``Names``), and creating and
removing its databases, stream, bucket, queue and tables. The demo, the end-to-end tests and
the benchmarks each get fresh names, so they never see each other's data."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass

import psycopg

from cdc import source_schema
from cdc.simulator import dataset, writer
from local_stack.services import aws, postgres
from local_stack.services.config import StackConfig
from local_stack.services.processes import wait_until
from warehouse_loader import migrations
from warehouse_loader import runner as loader_runner


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


def create(cfg: StackConfig, names: Names, seed: int, scale: int = 1) -> tuple[dict[str, int], str]:
    """Fresh source (schema + the seeded dataset, ``scale`` times the orders), warehouse
    (migrated), stream (``cfg``'s stream name must be ``names.stream``), bucket, and queue
    with S3 notifications. Returns the source rows loaded per table and the queue's URL."""
    for db in (names.source_db, names.warehouse_db):
        postgres.drop_database(cfg, db)
    postgres.ensure_roles(cfg)
    postgres.create_source_database(cfg, names.source_db)
    postgres.create_warehouse_database(cfg, names.warehouse_db)
    source_owner = cfg.source_dsns(names.source_db)["TOTESYS_CDC_SOURCE_OWNER_DSN"]
    with psycopg.connect(source_owner) as conn:  # as the owner, as ToteSys's set-up is
        source_schema.create(conn)
        written = writer.load_dataset(
            conn, dataset.generate(seed, dataset.DatasetSize.scaled(scale))
        )
        source_schema.create_publication(conn)
    warehouse_owner = cfg.warehouse_dsns(names.warehouse_db)["TOTESYS_CDC_WAREHOUSE_OWNER_DSN"]
    with psycopg.connect(warehouse_owner) as conn:  # the migration step, before any loader
        migrations.apply(conn)
    kinesis, s3, sqs = aws.client(cfg, "kinesis"), aws.client(cfg, "s3"), aws.client(cfg, "sqs")
    if aws.stream_exists(kinesis, names.stream):
        kinesis.delete_stream(StreamName=names.stream)
        wait_until(
            lambda: not aws.stream_exists(kinesis, names.stream),
            what="the old stream to go",
            timeout_s=30,
        )
    aws.ensure_stream(cfg)
    if names.bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(
            Bucket=names.bucket, CreateBucketConfiguration={"LocationConstraint": cfg.region}
        )
    queue_url = sqs.create_queue(  # a failed load is retried after 15 s
        QueueName=names.queue, Attributes={"VisibilityTimeout": "15"}
    )["QueueUrl"]
    loader_runner.wire_bucket_to_queue(s3, sqs, names.bucket, queue_url)
    for suffix in ("state", "status"):
        (cfg.capture_state_dir / f"{names.task_id}.{suffix}.json").unlink(missing_ok=True)
    return written, queue_url


def destroy(cfg: StackConfig, names: Names, *, keep_data: bool = False) -> None:
    """Remove the bucket, the queue and the KCL's and join state's tables; unless
    ``keep_data``, the databases (and their slot) and the stream too. Whatever is already gone
    is skipped."""
    kinesis, s3, sqs = aws.client(cfg, "kinesis"), aws.client(cfg, "s3"), aws.client(cfg, "sqs")
    if not keep_data:
        for db in (names.source_db, names.warehouse_db):
            postgres.drop_database(cfg, db)
        with contextlib.suppress(Exception):
            kinesis.delete_stream(StreamName=names.stream)
    with contextlib.suppress(Exception):
        sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=names.queue)["QueueUrl"])
    with contextlib.suppress(Exception):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=names.bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=names.bucket, Delete={"Objects": keys})
        s3.delete_bucket(Bucket=names.bucket)
    dynamodb = aws.client(cfg, "dynamodb")
    for table in (
        names.app,
        f"{names.app}-CoordinatorState",
        f"{names.app}-WorkerMetricStats",
        names.state_table,
    ):
        with contextlib.suppress(Exception):
            dynamodb.delete_table(TableName=table)

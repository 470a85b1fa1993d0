"""What a pipeline run has done, read from the parts themselves: the stream, the lease table,
the batches bucket, the load queue, the processor's metrics and the warehouse (its ledger and
tables). The end-to-end tests, the benchmarks and the demo's dashboard read through this."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import psycopg
from psycopg import sql

from contracts.batches import DEAD_LETTER_PREFIX, MANIFEST_PREFIX, Manifest
from contracts.star_schema import FACT_SOURCES, FACTS, TABLES
from local_stack.harness.provision import Names
from local_stack.services import aws
from local_stack.services.config import StackConfig
from stream_processor import lease_table
from warehouse_tools import reconcile


def fact_versions_written(changes: Mapping[tuple[str, str], int]) -> dict[str, int]:
    """Fact rows a run must end with: per fact, every change ((table, operation) → count, the
    full load's rows as "load") committed to its source table."""
    return {
        fact: sum(n for (table, _), n in changes.items() if table == source)
        for fact, source in FACT_SOURCES.items()
    }


class Observer:
    def __init__(self, cfg: StackConfig, names: Names) -> None:
        self.cfg, self.names = cfg, names
        self.source_dsn = cfg.source_dsns(names.source_db)["TOTESYS_CDC_SOURCE_DSN"]  # reads
        self.warehouse_dsn = cfg.warehouse_dsns(names.warehouse_db)["TOTESYS_CDC_WAREHOUSE_DSN"]
        self.kinesis, self.s3 = aws.client(cfg, "kinesis"), aws.client(cfg, "s3")
        self.sqs, self.dynamodb = aws.client(cfg, "sqs"), aws.client(cfg, "dynamodb")
        self.cloudwatch = aws.client(cfg, "cloudwatch")
        self._manifests: dict[str, Manifest] = {}

    @cached_property
    def queue_url(self) -> str:
        return self.sqs.get_queue_url(QueueName=self.names.queue)["QueueUrl"]

    # --- the stream and the processor ------------------------------------------------------

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

    def shards(self) -> dict[str, dict[str, Any]]:
        """Every shard of the stream, open and closed, as ListShards describes it."""
        pages = self.kinesis.get_paginator("list_shards").paginate(StreamName=self.names.stream)
        return {s["ShardId"]: s for page in pages for s in page["Shards"]}

    def behind(self, ends: Mapping[str, str]) -> list[str]:
        """The shards whose records up to ``ends`` (shard → sequence number) are not all
        checkpointed yet. A closed shard is done once checkpointed at SHARD_END, or once its
        lease is gone while a child's lease is there: the KCL deletes a finished parent's
        lease when its children have made progress (not before their leases exist)."""
        shards, done = self.shards(), self.checkpoints()
        children: dict[str, list[str]] = {}
        for shard_id, shard in shards.items():
            for parent in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId")):
                if parent:
                    children.setdefault(parent, []).append(shard_id)

        def finished(shard_id: str) -> bool:
            if "EndingSequenceNumber" not in shards[shard_id]["SequenceNumberRange"]:
                return False  # open
            if shard_id in done:
                return done[shard_id] == "SHARD_END"
            return any(c in done or finished(c) for c in children.get(shard_id, []))

        return [s for s, seq in ends.items() if done.get(s) != seq and not finished(s)]

    def leases(self) -> list[lease_table.Lease]:
        """The KCL's leases (none before its lease table exists)."""
        try:
            return lease_table.leases(self.dynamodb, self.names.app)
        except lease_table.LeaseTableError:
            return []

    def checkpoints(self) -> dict[str, str | None]:
        return {lease.shard_id: lease.checkpoint for lease in self.leases()}

    def manifests(self) -> list[Manifest]:
        """Every manifest in the batches bucket (each read once, then remembered)."""
        for key in self._keys(MANIFEST_PREFIX + "/"):
            if key not in self._manifests:
                self._manifests[key] = Manifest.from_json(
                    self.s3.get_object(Bucket=self.names.bucket, Key=key)["Body"].read()
                )
        return list(self._manifests.values())

    def dead_letters(self) -> int:
        return len(self._keys(DEAD_LETTER_PREFIX + "/"))

    def _keys(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.names.bucket, Prefix=prefix
        )
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def _metric(
        self, namespace: str, name: str, statistic: str, since: datetime
    ) -> dict[str, list[dict[str, Any]]]:
        """One of the processor's CloudWatch metrics per shard (the (Application, ShardId)
        series: CloudWatch matches dimensions exactly, moto matches any superset, and per
        shard both give the same), per minute since ``since``, oldest first."""
        out = {}
        for shard in self.kinesis.list_shards(StreamName=self.names.stream)["Shards"]:
            points = self.cloudwatch.get_metric_statistics(
                Namespace=namespace,
                MetricName=name,
                Dimensions=[
                    {"Name": "Application", "Value": self.names.app},
                    {"Name": "ShardId", "Value": shard["ShardId"]},
                ],
                StartTime=since,
                EndTime=datetime.now(UTC) + timedelta(minutes=1),
                Period=60,
                Statistics=[statistic],
            )["Datapoints"]
            out[shard["ShardId"]] = sorted(points, key=lambda p: p["Timestamp"])
        return out

    def millis_behind_latest(self, namespace: str) -> float | None:
        """How far behind the stream the processor was in the latest minute each shard
        reported (the largest MillisBehindLatest of that minute, over the shards); None before
        it has published any."""
        minute_ago = datetime.now(UTC) - timedelta(minutes=1)
        latest = [
            points[-1]["Maximum"]
            for points in self._metric(
                namespace, "MillisBehindLatest", "Maximum", minute_ago
            ).values()
            if points
        ]
        return max(latest, default=None)

    def records_processed(self, namespace: str, since: datetime) -> int:
        """Records the processor has committed since ``since`` (the sum of its RecordsIn
        metric over the shards: every batch, with or without rows)."""
        per_shard = self._metric(namespace, "RecordsIn", "Sum", since)
        return int(sum(p["Sum"] for points in per_shard.values() for p in points))

    # --- the loader and the warehouse ------------------------------------------------------

    def queue_depth(self) -> int:
        attrs = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["All"])[
            "Attributes"
        ]
        return int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesNotVisible"]
        )

    def counts(self) -> dict[str, int]:
        with psycopg.connect(self.warehouse_dsn) as conn:
            count = sql.SQL("SELECT count(*) FROM {}")
            return {t: conn.execute(count.format(sql.Identifier(t))).fetchone()[0] for t in TABLES}

    def ledger(self) -> int:
        with psycopg.connect(self.warehouse_dsn) as conn:
            return conn.execute("SELECT count(*) FROM cdc_load_ledger").fetchone()[0]

    def reconcile(self) -> reconcile.Report:
        with (
            psycopg.connect(self.source_dsn) as source,
            psycopg.connect(self.warehouse_dsn) as warehouse,
        ):
            return reconcile.reconcile(source, warehouse)

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
        (nearest rank, as ``local_stack.demo.stats.percentile``); None before the first change
        lands."""
        query = sql.SQL(
            "SELECT count(*), percentile_disc(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP "
            "(ORDER BY seconds), max(seconds) FROM ({}) AS l"
        ).format(self._latency_rows())
        with psycopg.connect(self.warehouse_dsn) as conn:
            count, percentiles, most = conn.execute(query, {"since": since}).fetchone()
        return None if count == 0 else (count, *percentiles, most)

"""Settings of the stream processor, read once from ``TOTESYS_CDC_*`` environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from contracts.settings import (
    AWS,
    ENDPOINT,
    ENVIRONMENTS,
    LOCAL,
    PREFIX,
    ConfigError,
    Settings,
    check_endpoints,
)

# What a record that differs from Contract A does (TOTESYS_CDC_SCHEMA_CHANGES; docs/
# stream-processor.md, "Schema drift"): lenient carries on where the contract can, strict
# dead-letters every such record.
LENIENT, STRICT = "lenient", "strict"
SCHEMA_CHANGES = (LENIENT, STRICT)
# Kinesis's own endpoint when it differs from ENDPOINT (boto3's convention).
KINESIS_ENDPOINT = "AWS_ENDPOINT_URL_KINESIS"


@dataclass(frozen=True)
class ProcessorConfig:
    bucket: str
    state_table: str
    stream_name: str = ""
    application_name: str = "totesys-star-schema"
    region: str = "eu-west-2"
    # Where it runs (TOTESYS_CDC_ENVIRONMENT): ``aws`` or ``local``. It alone decides the
    # local-only KCL properties (stream_processor.daemon) and whether metrics are published by
    # default; the endpoints below are only where the clients connect.
    environment: str = AWS
    # AWS_ENDPOINT_URL: where the AWS clients connect (locally, the emulation); None: AWS's own.
    endpoint_url: str | None = None
    # Kinesis's own endpoint when it differs (boto3's AWS_ENDPOINT_URL_KINESIS convention).
    kinesis_endpoint_url: str | None = None
    max_batch_rows: int = 20_000
    max_batch_bytes: int = 16 * 1024 * 1024
    max_batch_age_s: float = 1.0
    # The KCL's pause between GetRecords calls on a shard (idleTimeBetweenReadsInMillis).
    kcl_idle_time_ms: int = 250
    # The KCL JVM's heap ceiling (-Xmx). Without one the JVM grows its heap towards a quarter
    # of the machine's memory under a backlog: at a 1M-row full load it reached 1.9 GB
    # resident against 450 MB at 100k rows (bench full_load).
    kcl_max_heap_mb: int = 512
    compression: str = "zstd"
    publish_metrics: bool = False  # CloudWatch metrics per flush (``load``: on in aws)
    metrics_namespace: str = "TotesysCDC/StreamProcessor"
    # The KCL worker's name in the lease table (the lease owner); None: ``stream-processor
    # run`` makes one per start (host name and a UUID). Each worker of one application needs
    # its own.
    worker_id: str | None = None
    # A shard that holds records it has not committed for this long is stalled: the record
    # processor logs ``shard_stalled`` and ``stream-processor status`` says so.
    stall_after_s: float = 120.0
    # The policy for records that differ from Contract A: lenient (the default, as Flink CDC's
    # own) or strict.
    schema_changes: str = LENIENT

    def __post_init__(self) -> None:
        check_endpoints(
            self.environment,
            {ENDPOINT: self.endpoint_url, KINESIS_ENDPOINT: self.kinesis_endpoint_url},
        )
        if self.schema_changes not in SCHEMA_CHANGES:
            raise ConfigError(
                f"{PREFIX}SCHEMA_CHANGES must be one of {', '.join(SCHEMA_CHANGES)}, "
                f"not {self.schema_changes!r}"
            )

    @property
    def strict(self) -> bool:
        """Dead-letter every record that differs from Contract A."""
        return self.schema_changes == STRICT


def load(env: Mapping[str, str] | None = None) -> ProcessorConfig:
    settings = Settings(env)
    missing = [n for n in ("BATCH_BUCKET", "STATE_TABLE") if not settings.get(n)]
    if missing:
        raise ConfigError("not set: " + ", ".join(PREFIX + n for n in missing))
    defaults = ProcessorConfig(bucket="", state_table="")
    environment = settings.choice("ENVIRONMENT", AWS, ENVIRONMENTS)
    return ProcessorConfig(
        bucket=settings.text("BATCH_BUCKET", ""),
        state_table=settings.text("STATE_TABLE", ""),
        stream_name=settings.text("STREAM_NAME", ""),
        application_name=settings.text("KCL_APPLICATION", defaults.application_name),
        region=settings.raw("AWS_REGION") or settings.raw("AWS_DEFAULT_REGION") or defaults.region,
        environment=environment,
        endpoint_url=settings.raw(ENDPOINT),
        kinesis_endpoint_url=settings.raw(KINESIS_ENDPOINT),
        publish_metrics=settings.choice(
            "PUBLISH_METRICS", "0" if environment == LOCAL else "1", ("0", "1")
        )
        == "1",
        metrics_namespace=settings.text("METRICS_NAMESPACE", defaults.metrics_namespace),
        max_batch_rows=settings.integer("MAX_BATCH_ROWS", defaults.max_batch_rows),
        max_batch_bytes=settings.integer("MAX_BATCH_BYTES", defaults.max_batch_bytes),
        max_batch_age_s=settings.number("MAX_BATCH_AGE_S", defaults.max_batch_age_s),
        kcl_idle_time_ms=settings.integer("KCL_IDLE_TIME_MS", defaults.kcl_idle_time_ms),
        kcl_max_heap_mb=settings.integer("KCL_MAX_HEAP_MB", defaults.kcl_max_heap_mb),
        worker_id=settings.get("KCL_WORKER_ID"),
        stall_after_s=settings.number("STALL_AFTER_S", defaults.stall_after_s),
        schema_changes=settings.choice("SCHEMA_CHANGES", LENIENT, SCHEMA_CHANGES),
    )

"""Settings of the cdc package, read once from ``TOTESYS_CDC_*`` environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cdc.capture.records import PARTITIONINGS, PRIMARY_KEY
from cdc.source_schema import PUBLICATION
from contracts.settings import PREFIX, ConfigError, Settings


@dataclass(frozen=True)
class SourceConfig:
    """How to reach ToteSys."""

    dsn: str


# Which DSN each use of ToteSys reads (docs/database-roles.md): the capture role's
# (TOTESYS_CDC_SOURCE_DSN: capture, monitor, reconcile), the application's (the simulator's
# traffic) and the owner's (the schema, the seed, the publication). The last two fall back to
# TOTESYS_CDC_SOURCE_DSN, for a set-up with one role.
CAPTURE, APP, OWNER = "SOURCE_DSN", "SOURCE_APP_DSN", "SOURCE_OWNER_DSN"


def load(env: Mapping[str, str] | None = None, *, role: str = CAPTURE) -> SourceConfig:
    settings = Settings(env)
    dsn = settings.get(role) or settings.get(CAPTURE)
    if not dsn:
        raise ConfigError(
            f"{PREFIX}{role} is not set: give a libpq connection string for ToteSys "
            '(for the local stack: eval "$(.venv/bin/totesys-stack env)")'
        )
    return SourceConfig(dsn=dsn)


@dataclass(frozen=True)
class CaptureConfig:
    """The local capture engine (DMS's stand-in)."""

    source_dsn: str
    stream_name: str
    task_id: str = "totesys-cdc-local"
    slot_name: str = "totesys_cdc"
    publication: str = PUBLICATION
    state_dir: Path = Path(".local/capture")
    poll_interval_s: float = 0.1
    max_changes_per_step: int = 20_000
    status_interval_s: float = 1.0
    batch_records: int = 500  # records per PutRecords call (1..500)
    # How CDC records are partitioned (cdc.capture.records): "primary-key", as the DMS task
    # in terraform is configured; "schema-table", DMS's default without object-mapping rules.
    partitioning: str = PRIMARY_KEY


@dataclass(frozen=True)
class MonitorConfig:
    """Where ``cdc monitor --source local`` reads the capture engine's status."""

    state_dir: Path
    task_id: str
    # ToteSys, to read its catalogue against Contract A (TOTESYS_CDC_SOURCE_DSN; optional)
    source_dsn: str | None = None


def load_monitor(env: Mapping[str, str] | None = None) -> MonitorConfig:
    settings = Settings(env)
    defaults = CaptureConfig(source_dsn="", stream_name="")
    return MonitorConfig(
        state_dir=settings.path("CAPTURE_STATE_DIR", defaults.state_dir),
        task_id=settings.text("CAPTURE_TASK_ID", defaults.task_id),
        source_dsn=settings.get("SOURCE_DSN"),
    )


def load_capture(env: Mapping[str, str] | None = None) -> CaptureConfig:
    settings = Settings(env)
    source = load(settings.env)
    stream = settings.require("STREAM_NAME", "name the Kinesis stream to write to")
    defaults = CaptureConfig(source_dsn=source.dsn, stream_name=stream)
    return CaptureConfig(
        source_dsn=source.dsn,
        stream_name=stream,
        task_id=settings.text("CAPTURE_TASK_ID", defaults.task_id),
        slot_name=settings.text("CAPTURE_SLOT", defaults.slot_name),
        publication=settings.text("CAPTURE_PUBLICATION", defaults.publication),
        state_dir=settings.path("CAPTURE_STATE_DIR", defaults.state_dir),
        poll_interval_s=settings.number("CAPTURE_POLL_INTERVAL_S", defaults.poll_interval_s),
        batch_records=settings.integer("CAPTURE_BATCH_RECORDS", defaults.batch_records),
        partitioning=settings.choice("CAPTURE_PARTITIONING", defaults.partitioning, PARTITIONINGS),
    )

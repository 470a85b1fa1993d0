"""Settings of the cdc package, read once from ``TOTESYS_CDC_*`` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cdc.capture.records import PARTITIONINGS, PRIMARY_KEY
from cdc.source_schema import PUBLICATION

PREFIX = "TOTESYS_CDC_"


class ConfigError(ValueError):
    """A required setting is missing or invalid; the message names the variable."""


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
    env = os.environ if env is None else env
    dsn = env.get(PREFIX + role) or env.get(PREFIX + CAPTURE)
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
    env = os.environ if env is None else env
    defaults = CaptureConfig(source_dsn="", stream_name="")
    return MonitorConfig(
        state_dir=Path(env.get(PREFIX + "CAPTURE_STATE_DIR", str(defaults.state_dir))).resolve(),
        task_id=env.get(PREFIX + "CAPTURE_TASK_ID", defaults.task_id),
        source_dsn=env.get(PREFIX + "SOURCE_DSN") or None,
    )


def load_capture(env: Mapping[str, str] | None = None) -> CaptureConfig:
    env = os.environ if env is None else env
    source = load(env)
    stream = env.get(PREFIX + "STREAM_NAME")
    if not stream:
        raise ConfigError(f"{PREFIX}STREAM_NAME is not set: name the Kinesis stream to write to")
    defaults = CaptureConfig(source_dsn=source.dsn, stream_name=stream)
    try:
        return CaptureConfig(
            source_dsn=source.dsn,
            stream_name=stream,
            task_id=env.get(PREFIX + "CAPTURE_TASK_ID", defaults.task_id),
            slot_name=env.get(PREFIX + "CAPTURE_SLOT", defaults.slot_name),
            publication=env.get(PREFIX + "CAPTURE_PUBLICATION", defaults.publication),
            state_dir=Path(
                env.get(PREFIX + "CAPTURE_STATE_DIR", str(defaults.state_dir))
            ).resolve(),
            poll_interval_s=float(
                env.get(PREFIX + "CAPTURE_POLL_INTERVAL_S", defaults.poll_interval_s)
            ),
            batch_records=int(env.get(PREFIX + "CAPTURE_BATCH_RECORDS", defaults.batch_records)),
            partitioning=_choice(env, "CAPTURE_PARTITIONING", defaults.partitioning, PARTITIONINGS),
        )
    except ValueError as exc:
        raise ConfigError(f"invalid capture setting: {exc}") from None


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.get(PREFIX + name, default)
    if value not in choices:
        raise ConfigError(f"{PREFIX}{name} must be one of {', '.join(choices)}, not {value!r}")
    return value

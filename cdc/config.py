"""Settings of the cdc package, read once from ``TOTESYS_CDC_*`` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

PREFIX = "TOTESYS_CDC_"


class ConfigError(ValueError):
    """A required setting is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class SourceConfig:
    """How to reach ToteSys."""

    dsn: str


def load(env: Mapping[str, str] | None = None) -> SourceConfig:
    env = os.environ if env is None else env
    dsn = env.get(PREFIX + "SOURCE_DSN")
    if not dsn:
        raise ConfigError(
            f"{PREFIX}SOURCE_DSN is not set: give a libpq connection string for ToteSys "
            '(for the local stack: eval "$(.venv/bin/totesys-stack env)")'
        )
    return SourceConfig(dsn=dsn)

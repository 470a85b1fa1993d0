"""Settings of the warehouse loader, read once from ``TOTESYS_CDC_*`` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

PREFIX = "TOTESYS_CDC_"


class ConfigError(ValueError):
    """A required setting is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class LoaderConfig:
    """How to reach the warehouse (locally; in AWS the credentials come from Secrets Manager)."""

    warehouse_dsn: str


def load(env: Mapping[str, str] | None = None) -> LoaderConfig:
    env = os.environ if env is None else env
    dsn = env.get(PREFIX + "WAREHOUSE_DSN")
    if not dsn:
        raise ConfigError(
            f"{PREFIX}WAREHOUSE_DSN is not set: give a libpq connection string for the warehouse "
            '(for the local stack: eval "$(.venv/bin/totesys-stack env)")'
        )
    return LoaderConfig(warehouse_dsn=dsn)

"""Settings of the warehouse loader, read once from ``TOTESYS_CDC_*`` environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from contracts.settings import (
    AWS,
    ENDPOINT,
    ENVIRONMENTS,
    PREFIX,
    ConfigError,
    Settings,
    check_endpoints,
)


@dataclass(frozen=True)
class LoaderConfig:
    """Where the warehouse is: a Secrets Manager secret (AWS) or a libpq DSN (locally); and
    whether loads keep the dimension histories (``TOTESYS_CDC_HISTORY``: ``on``, the default,
    or ``off``; docs/warehouse-loader.md, Dimension history). ``environment``
    (``TOTESYS_CDC_ENVIRONMENT``) switches nothing in the loader: it is read so that a wrong
    value, or ``local`` without a loopback ``AWS_ENDPOINT_URL`` (S3, SQS and Secrets Manager
    would be real AWS's), stops it as it stops the processor."""

    warehouse_dsn: str | None = None
    warehouse_secret_arn: str | None = None
    history: bool = True
    environment: str = AWS


def load(env: Mapping[str, str] | None = None, *, owner: bool = False) -> LoaderConfig:
    """The loader's credentials; with ``owner``, the warehouse owner's for the migration step
    (``TOTESYS_CDC_WAREHOUSE_OWNER_DSN`` or ``_OWNER_SECRET_ARN``, falling back to the
    loader's own for a one-role set-up)."""
    settings = Settings(env)
    dsn = settings.get("WAREHOUSE_DSN")
    secret = settings.get("WAREHOUSE_SECRET_ARN")
    if owner:
        owner_dsn = settings.get("WAREHOUSE_OWNER_DSN")
        owner_secret = settings.get("WAREHOUSE_OWNER_SECRET_ARN")
        if owner_dsn or owner_secret:
            dsn, secret = owner_dsn, owner_secret
    if not dsn and not secret:
        raise ConfigError(
            f"neither {PREFIX}WAREHOUSE_SECRET_ARN nor {PREFIX}WAREHOUSE_DSN is set: say where the "
            'warehouse is (for the local stack: eval "$(.venv/bin/totesys-stack env)")'
        )
    environment = settings.choice("ENVIRONMENT", AWS, ENVIRONMENTS)
    check_endpoints(environment, {ENDPOINT: settings.raw(ENDPOINT)})
    return LoaderConfig(
        warehouse_dsn=dsn,
        warehouse_secret_arn=secret,
        history=settings.choice("HISTORY", "on", ("on", "off")) == "on",
        environment=environment,
    )

"""Settings of the local stack, read once from ``TOTESYS_CDC_*`` environment variables.

Every variable is optional; the defaults give a stack that does not clash with a system
PostgreSQL (5432) or a LocalStack (4566).

Two PostgreSQL clusters, as in AWS, where ToteSys and the warehouse are separate instances:
``SOURCE`` holds ToteSys (and its replication slot), ``WAREHOUSE`` the warehouse. Apart, the
source's logical decoding reads only ToteSys's WAL, not the warehouse loads'.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cdc.source_roles import SourceRoles
from contracts.settings import LOCAL, PREFIX, ConfigError, Settings
from warehouse_loader.roles import WarehouseRoles

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SOURCE, WAREHOUSE = "source", "warehouse"  # the two clusters
CLUSTERS = (SOURCE, WAREHOUSE)
# The roles the stack's processes connect as; the superuser only makes them and the databases.
SOURCE_ROLES = SourceRoles()
WAREHOUSE_ROLES = WarehouseRoles()


@dataclass(frozen=True)
class StackConfig:
    """Where the local stack lives and how it is reached."""

    state_dir: Path
    pg_port: int  # the source cluster's
    aws_port: int
    region: str
    warehouse_pg_port: int = 55433
    stream_name: str = "totesys-changes"
    stream_shards: int = 2
    pg_superuser: str = "totesys_admin"
    host: str = "127.0.0.1"
    pg_bin: Path | None = None  # where initdb and pg_ctl are, when not found by themselves

    def port(self, cluster: str = SOURCE) -> int:
        return self.warehouse_pg_port if cluster == WAREHOUSE else self.pg_port

    def pg_dir(self, cluster: str = SOURCE) -> Path:
        """A cluster's folder: ``pg`` for the source (where the one cluster was before the
        warehouse had its own), ``pg-warehouse``."""
        return self.state_dir / ("pg-warehouse" if cluster == WAREHOUSE else "pg")

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def capture_state_dir(self) -> Path:
        return self.state_dir / "capture"

    @property
    def aws_endpoint(self) -> str:
        return f"http://{self.host}:{self.aws_port}"

    def pg_dsn(self, dbname: str, user: str | None = None, *, cluster: str = SOURCE) -> str:
        """A libpq connection string for one database of a local cluster as ``user`` (the
        superuser when None: only for making roles and databases); no password, as the
        clusters trust loopback connections and listen nowhere else."""
        user = user or self.pg_superuser
        return f"host={self.host} port={self.port(cluster)} user={user} dbname={dbname}"

    def source_dsns(self, dbname: str) -> dict[str, str]:
        """The ToteSys database's DSN for each role that uses it (docs/database-roles.md)."""
        return {
            PREFIX + "SOURCE_DSN": self.pg_dsn(dbname, SOURCE_ROLES.capture),
            PREFIX + "SOURCE_APP_DSN": self.pg_dsn(dbname, SOURCE_ROLES.app),
            PREFIX + "SOURCE_OWNER_DSN": self.pg_dsn(dbname, SOURCE_ROLES.owner),
        }

    def warehouse_dsns(self, dbname: str) -> dict[str, str]:
        """The warehouse database's DSN for each role that uses it."""
        return {
            PREFIX + "WAREHOUSE_DSN": self.pg_dsn(
                dbname, WAREHOUSE_ROLES.loader, cluster=WAREHOUSE
            ),
            PREFIX + "WAREHOUSE_OWNER_DSN": self.pg_dsn(
                dbname, WAREHOUSE_ROLES.owner, cluster=WAREHOUSE
            ),
            PREFIX + "WAREHOUSE_ANALYST_DSN": self.pg_dsn(
                dbname, WAREHOUSE_ROLES.analyst, cluster=WAREHOUSE
            ),
        }

    def aws_env(self) -> dict[str, str]:
        """Environment for boto3 and the AWS SDK for Java to use the local emulation, and
        ``TOTESYS_CDC_ENVIRONMENT=local`` with it: the endpoint and the environment go together
        (``contracts.settings.check_endpoints``), so every process given one has the other.

        The credentials are moto's dummies, never real ones.
        """
        return {
            PREFIX + "ENVIRONMENT": LOCAL,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",  # noqa: S105 - moto's dummy credential
            "AWS_SESSION_TOKEN": "testing",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.aws_endpoint,
        }


def app_env(config: StackConfig) -> dict[str, str]:
    """The variables the project's commands need to use this stack (``totesys-stack env``)."""
    return {
        **config.source_dsns("totesys"),
        **config.warehouse_dsns("warehouse"),
        PREFIX + "STREAM_NAME": config.stream_name,
        PREFIX + "CAPTURE_STATE_DIR": str(config.capture_state_dir),
        **config.aws_env(),
    }


def process_env(settings: Mapping[str, str]) -> dict[str, str]:
    """The environment of a process this project starts (the KCL daemon, the capture engine,
    the loader runner): this process's own environment plus ``settings``."""
    return {**os.environ, **settings}


def load(env: Mapping[str, str] | None = None) -> StackConfig:
    """Build the stack configuration from the environment (``os.environ`` by default)."""
    settings = Settings(env)
    pg_bin = settings.get("PG_BIN")
    config = StackConfig(
        state_dir=settings.path("STATE_DIR", PROJECT_ROOT / ".local"),
        pg_port=settings.integer("PG_PORT", 55432),
        warehouse_pg_port=settings.integer("WAREHOUSE_PG_PORT", 55433),
        aws_port=settings.integer("AWS_PORT", 54566),
        region=settings.text("REGION", "eu-west-2"),
        stream_name=settings.text("STREAM_NAME", "totesys-changes"),
        stream_shards=settings.integer("STREAM_SHARDS", 2),
        pg_bin=Path(pg_bin) if pg_bin else None,
    )
    if config.pg_port == config.warehouse_pg_port:
        raise ConfigError(
            f"{PREFIX}PG_PORT and {PREFIX}WAREHOUSE_PG_PORT are both {config.pg_port}: the "
            "source and the warehouse clusters each need a port of their own"
        )
    return config

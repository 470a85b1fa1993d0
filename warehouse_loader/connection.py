"""The warehouse connection: credentials from Secrets Manager (AWS) or a DSN (locally),
cached with the connection across warm Lambda invocations, re-made when it drops. Secrets
never reach a log line.

The loader's role may not run DDL (``warehouse_loader.roles``): migrations are a step of their
own, run as the owner (``warehouse-loader migrate``). A loader that finds any pending fails
at connect with ``MigrationsPending``, before it writes a row."""

from __future__ import annotations

import json
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from warehouse_loader import migrations
from warehouse_loader.config import LoaderConfig


class MigrationsPending(RuntimeError):
    """The warehouse lacks migrations this loader's code needs: a deployment step was
    skipped. Not retried in-process (the Lambda errors alarm fires; SQS redelivers the message
    once the migration has run)."""


class Warehouse:
    def __init__(self, config: LoaderConfig, secrets_client: Any = None) -> None:  # noqa: ANN401 - boto3
        self.config = config
        self.secrets_client = secrets_client
        self._conninfo: str | None = None
        self._conn: psycopg.Connection | None = None

    def _dsn(self) -> str:
        if self._conninfo is None:
            if self.config.warehouse_secret_arn:
                secret = json.loads(
                    self.secrets_client.get_secret_value(SecretId=self.config.warehouse_secret_arn)[
                        "SecretString"
                    ]
                )
                self._conninfo = make_conninfo(
                    host=secret["host"],
                    port=str(secret.get("port", 5432)),
                    user=secret["username"],
                    password=secret["password"],
                    dbname=secret.get("dbname", "warehouse"),
                )
            else:
                self._conninfo = self.config.warehouse_dsn
        return self._conninfo

    def connection(self) -> psycopg.Connection:
        """An open autocommit connection (each load runs its own transaction) to a warehouse
        whose migrations are all applied (checked once per connection: one cheap read)."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            conn = psycopg.connect(self._dsn(), autocommit=True)
            try:
                todo = migrations.pending(conn)
            except BaseException:
                conn.close()
                raise
            if todo:
                conn.close()  # the next call connects and checks again
                names = ", ".join(f"{m.version:04d}_{m.name}" for m in todo)
                raise MigrationsPending(
                    f"the warehouse lacks {len(todo)} migration(s) this loader needs ({names}): "
                    "run 'warehouse-loader migrate' as the warehouse's owner "
                    "(TOTESYS_CDC_WAREHOUSE_OWNER_DSN or _OWNER_SECRET_ARN; "
                    "docs/database-roles.md), then the loads retry"
                )
            self._conn = conn
        return self._conn

    def migrate(self) -> list[migrations.Migration]:
        """Apply the pending migrations, connected as this warehouse's credentials (the
        owner's: ``warehouse-loader migrate``); returns those applied now."""
        with psycopg.connect(self._dsn(), autocommit=True) as conn:
            return migrations.apply(conn)

    def broken(self) -> bool:
        """Whether the cached connection is gone (a retry must reconnect)."""
        return self._conn is None or self._conn.closed or self._conn.broken

    def reset(self) -> None:
        """Forget a connection that failed; the next call reconnects, re-reading the secret
        (it may have been rotated)."""
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._conninfo = None

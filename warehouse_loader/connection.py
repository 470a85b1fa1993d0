"""The warehouse connection: credentials from Secrets Manager (AWS) or a DSN (locally),
cached with the connection across warm Lambda invocations, re-made when it drops. Secrets
never reach a log line."""

from __future__ import annotations

import json
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from warehouse_loader import migrations
from warehouse_loader.config import LoaderConfig


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
        """An open autocommit connection (each load runs its own transaction); migrations are
        applied on first connect, so an empty warehouse gets what it needs."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            conn = psycopg.connect(self._dsn(), autocommit=True)
            try:
                migrations.apply(conn)
            except BaseException:
                conn.close()  # the next call connects and migrates again
                raise
            self._conn = conn
        return self._conn

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

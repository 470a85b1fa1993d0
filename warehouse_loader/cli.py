"""``warehouse-loader``: operator commands for the warehouse and the local Lambda runner."""

from __future__ import annotations

import signal
import sys
import threading

import boto3
import click
import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table

from warehouse_loader import config, runner
from warehouse_loader.connection import Warehouse
from warehouse_loader.merge_sql import KEYS


def _warehouse() -> Warehouse:
    try:
        cfg = config.load()
    except config.ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    return Warehouse(cfg, boto3.client("secretsmanager") if cfg.warehouse_secret_arn else None)


@click.group()
def main() -> None:
    """Warehouse loader commands (TOTESYS_CDC_WAREHOUSE_DSN or _WAREHOUSE_SECRET_ARN)."""


@main.command()
def migrate() -> None:
    """Create or upgrade the star schema (idempotent)."""
    try:
        _warehouse().connection()
    except psycopg.OperationalError as exc:
        click.echo(f"error: cannot reach the warehouse: {str(exc).splitlines()[0]}", err=True)
        sys.exit(1)
    click.echo("warehouse schema is up to date")


@main.command()
def status() -> None:
    """Ledger size, last load, and per table how old the newest loaded change is."""
    try:
        conn = _warehouse().connection()
    except psycopg.OperationalError as exc:
        click.echo(f"error: cannot reach the warehouse: {str(exc).splitlines()[0]}", err=True)
        sys.exit(1)
    count, last = conn.execute("SELECT count(*), max(loaded_at) FROM cdc_load_ledger").fetchone()
    console = Console()
    console.print(f"load ledger: {count} manifests, last loaded {last or 'never'}")
    table = Table(title="freshness")
    for column in ("table", "rows", "newest source change", "age"):
        table.add_column(column)
    for name in KEYS:
        if name == "dim_date":
            continue
        rows, newest, age = conn.execute(
            sql.SQL(
                "SELECT count(*), max(cdc_source_updated_at), "
                "now() AT TIME ZONE 'UTC' - max(cdc_source_updated_at) FROM {}"
            ).format(sql.Identifier(name))
        ).fetchone()
        table.add_row(name, str(rows), str(newest or "-"), str(age or "-"))
    console.print(table)


@main.command("run-local")
@click.option(
    "--queue-url", envvar="TOTESYS_CDC_LOAD_QUEUE_URL", required=True, help="The SQS queue to poll."
)
def run_local(queue_url: str) -> None:
    """Poll the local SQS queue and invoke the Lambda handler as Lambda would (until SIGTERM)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    runner.run(boto3.client("sqs"), queue_url, stop)


if __name__ == "__main__":
    main()

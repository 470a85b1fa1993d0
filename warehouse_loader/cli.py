"""``warehouse-loader``: operator commands for the warehouse."""

from __future__ import annotations

import sys

import click
import psycopg

from warehouse_loader import config, migrations


@click.group()
def main() -> None:
    """Warehouse loader commands (the warehouse comes from TOTESYS_CDC_WAREHOUSE_DSN)."""


@main.command()
def migrate() -> None:
    """Create or upgrade the star schema (idempotent)."""
    try:
        settings = config.load()
        with psycopg.connect(settings.warehouse_dsn) as conn:
            applied = migrations.apply(conn)
    except (config.ConfigError, psycopg.OperationalError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if applied:
        for m in applied:
            click.echo(f"applied {m.version:04d}_{m.name}")
    else:
        click.echo("warehouse schema is up to date")


if __name__ == "__main__":
    main()

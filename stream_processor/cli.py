"""``stream-processor``: run the KCL daemon with the star-schema processor; replay shards."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import boto3
import click

from stream_processor import config as processor_config
from stream_processor import daemon
from stream_processor.join_state_dynamodb import ensure_table


def daemon_settings(cfg: processor_config.ProcessorConfig) -> daemon.DaemonSettings:
    return daemon.DaemonSettings(
        stream_name=cfg.stream_name,
        application_name=cfg.application_name,
        executable=f"{sys.executable} -m stream_processor.kcl_app",
        region=cfg.region,
        endpoint=cfg.endpoint_url,
    )


@click.group()
def main() -> None:
    """The stream processor (settings from TOTESYS_CDC_* variables; see the README)."""


@main.command()
@click.option(
    "--properties",
    "properties_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(".local/kcl/totesys-star-schema.properties"),
    show_default=True,
)
def run(properties_path: Path) -> None:
    """Write the KCL properties and become the MultiLangDaemon (the container's entry point)."""
    try:
        cfg = processor_config.load()
        if not cfg.stream_name:
            raise processor_config.ConfigError("TOTESYS_CDC_STREAM_NAME is not set")
        ensure_table(boto3.client("dynamodb"), cfg.state_table)
        properties_path.parent.mkdir(parents=True, exist_ok=True)
        properties_path.write_text(daemon_settings(cfg).render())
        argv = daemon.command(properties_path)
    except (processor_config.ConfigError, daemon.DaemonSetupError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    os.execv(argv[0], argv)  # noqa: S606 - the daemon replaces this process, signals and all


if __name__ == "__main__":
    main()

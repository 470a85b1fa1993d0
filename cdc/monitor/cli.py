"""The shell of ``cdc monitor``: pick the source, render, refresh, exit code."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.live import Live

from cdc.config import load_monitor
from cdc.monitor import aws, drift, local
from cdc.monitor.model import TaskHealth, Thresholds, problems
from cdc.monitor.report import render

console = Console()


def _reader(
    engine: str,
    task_id: str | None,
    source_instance: str | None = None,
    source_dsn: str | None = None,
) -> Callable[[], TaskHealth]:
    """The task's health, with the source's catalogue against Contract A (``drift``) when
    the source can be reached: ``source_dsn``, else TOTESYS_CDC_SOURCE_DSN."""
    cfg = load_monitor()
    dsn = source_dsn or cfg.source_dsn
    if engine == "local":
        task = task_id or cfg.task_id
        return lambda: drift.with_source_drift(local.read(cfg.state_dir, task), dsn)
    if not task_id:
        raise aws.MonitorError("--task-id is required with --source aws")
    dms, cloudwatch = boto3.client("dms"), boto3.client("cloudwatch")
    return lambda: drift.with_source_drift(
        aws.read(dms, cloudwatch, task_id, source_instance=source_instance), dsn
    )


def run_monitor(
    engine: str,
    task_id: str | None,
    *,
    as_json: bool,
    watch: float | None,
    check: bool,
    max_latency: float,
    max_retained_wal_mb: float = Thresholds.max_retained_wal_mb,
    source_instance: str | None = None,
    source_dsn: str | None = None,
) -> int:
    thresholds = Thresholds(max_latency_s=max_latency, max_retained_wal_mb=max_retained_wal_mb)
    try:
        read = _reader(engine, task_id, source_instance, source_dsn)
        health = read()
    except (aws.MonitorError, ClientError, BotoCoreError) as exc:
        console.print(f"[red]error:[/] {exc}")
        return 1
    if watch and not as_json:
        with Live(
            render(health, problems(health, thresholds)), console=console, refresh_per_second=2
        ) as live:
            try:
                while True:
                    time.sleep(watch)
                    health = read()
                    live.update(render(health, problems(health, thresholds)))
            except KeyboardInterrupt:
                pass
    found = problems(health, thresholds)
    if as_json:
        print(json.dumps({**health.to_json(), "healthy": not found, "problems": found}, indent=1))
    elif not watch:
        console.print(render(health, found))
    return 1 if check and found else 0

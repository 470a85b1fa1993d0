"""The local AWS emulation: moto served by hypercorn on 127.0.0.1 (HTTP/1.1 and h2c)."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3

from local_stack.services.config import StackConfig
from local_stack.services.processes import read_pid, start_detached, stop_process_group, wait_until


def _pid_file(config: StackConfig) -> Path:
    return config.run_dir / "aws.pid"


def log_path(config: StackConfig) -> Path:
    return config.log_dir / "aws.log"


def is_healthy(config: StackConfig) -> bool:
    """True when moto answers its management API on the configured port."""
    try:
        with urllib.request.urlopen(f"{config.aws_endpoint}/moto-api/", timeout=2) as resp:  # noqa: S310 - our own loopback URL  # nosec B310
            return resp.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def pid(config: StackConfig) -> int | None:
    return read_pid(_pid_file(config))


def start(config: StackConfig, timeout_s: float = 60.0) -> None:
    """Start the emulation unless it already runs; wait until it answers."""
    if pid(config) is None:
        start_detached(
            [
                sys.executable,
                "-m",
                "hypercorn",
                "--bind",
                f"{config.host}:{config.aws_port}",
                "--workers",
                "1",  # moto keeps its state in one process's memory
                "--keep-alive",
                "75",
                "local_stack.services.moto_app:app",
            ],
            log_path=log_path(config),
            pid_file=_pid_file(config),
        )
    wait_until(
        lambda: is_healthy(config),
        what=f"the AWS emulation on {config.aws_endpoint}",
        timeout_s=timeout_s,
        log_path=log_path(config),
    )


def stop(config: StackConfig) -> None:
    running = pid(config)
    if running is not None:
        stop_process_group(running)
    _pid_file(config).unlink(missing_ok=True)


def client(config: StackConfig, service: str) -> Any:  # noqa: ANN401 - boto3 clients are dynamic
    """A boto3 client for one service of the local emulation."""
    env = config.aws_env()
    return boto3.client(
        service,
        endpoint_url=config.aws_endpoint,
        region_name=config.region,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
    )


def ensure_stream(config: StackConfig, timeout_s: float = 30.0) -> None:
    """The Kinesis stream the capture engine writes to (moto forgets it on restart)."""
    kinesis = client(config, "kinesis")
    if not stream_exists(kinesis, config.stream_name):
        kinesis.create_stream(StreamName=config.stream_name, ShardCount=config.stream_shards)

    def active() -> bool:
        summary = kinesis.describe_stream_summary(StreamName=config.stream_name)
        return summary["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE"

    wait_until(
        active,
        what=f"Kinesis stream {config.stream_name}",
        timeout_s=timeout_s,
        log_path=log_path(config),
    )


def stream_exists(kinesis: Any, name: str) -> bool:  # noqa: ANN401 - a boto3 Kinesis client
    """Asked directly: ListStreams pages, and a busy local stack holds many streams."""
    try:
        kinesis.describe_stream_summary(StreamName=name)
    except kinesis.exceptions.ResourceNotFoundException:
        return False
    return True

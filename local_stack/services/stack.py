"""The whole local stack: bring it up, take it down, report its health."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from local_stack.services import aws, postgres
from local_stack.services.config import SOURCE, StackConfig
from local_stack.services.processes import require_executable


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    healthy: bool
    address: str
    detail: str


def check_prerequisites(config: StackConfig) -> None:
    """Fail early with one clear message per missing tool, before anything is started."""
    postgres.find_bin_dir(config.pg_bin)
    require_executable("java", "install Java 17+ (apt install openjdk-17-jre-headless)")
    if postgres.server_user() is not None:
        require_executable("runuser", "install util-linux (it runs PostgreSQL as a non-root user)")


def up(config: StackConfig) -> list[ServiceStatus]:
    """Start every service that is not running (idempotent) and wait until each is healthy."""
    check_prerequisites(config)
    config.log_dir.mkdir(parents=True, exist_ok=True)
    _check_port_free_or_ours(config)
    pgs = postgres.clusters(config)
    with ThreadPoolExecutor(len(pgs)) as pool:  # initdb and start wait on the servers
        list(pool.map(_start_cluster, pgs))
    for pg in pgs:
        _link_log(config, _log_name(pg), pg.log_path)
    aws.start(config)
    aws.ensure_stream(config)
    return status(config)


def _start_cluster(pg: postgres.Cluster) -> None:
    pg.init()
    pg.start()
    pg.ensure_databases()


def _log_name(pg: postgres.Cluster) -> str:
    return "postgres.log" if pg.name == SOURCE else f"postgres-{pg.name}.log"


def down(config: StackConfig) -> None:
    """Stop every service of the stack; its data stays on disk for the next ``up``."""
    aws.stop(config)
    for pg in postgres.clusters(config):
        pg.stop()


def status(config: StackConfig) -> list[ServiceStatus]:
    aws_ok = aws.is_healthy(config)
    aws_pid = aws.pid(config)
    return [
        *(
            ServiceStatus(
                f"postgresql ({pg.name}: {postgres.APP_DATABASES[pg.name]})",
                pg.is_running() and pg.accepts_connections(),
                f"{config.host}:{pg.port}",
                f"data {pg.data_dir}; log {pg.log_path}",
            )
            for pg in postgres.clusters(config)
        ),
        ServiceStatus(
            "aws (moto, HTTP/1.1 + h2c)",
            aws_ok,
            config.aws_endpoint,
            f"{f'pid {aws_pid}' if aws_pid else 'not running'}; log {aws.log_path(config)}; "
            f"stream {config.stream_name} ({config.stream_shards} shards)",
        ),
    ]


def is_up(config: StackConfig) -> bool:
    return all(service.healthy for service in status(config))


def _check_port_free_or_ours(config: StackConfig) -> None:
    """A port held by something else would make a service fail with an obscure log line."""
    from local_stack.services.processes import StackError

    for port, ours in (
        *((pg.port, pg.is_running()) for pg in postgres.clusters(config)),
        (config.aws_port, aws.pid(config) is not None),
    ):
        if ours:
            continue
        with socket.socket() as sock:
            if sock.connect_ex((config.host, port)) == 0:
                raise StackError(
                    f"port {port} on {config.host} is taken by another program; "
                    "set TOTESYS_CDC_PG_PORT / TOTESYS_CDC_WAREHOUSE_PG_PORT / "
                    "TOTESYS_CDC_AWS_PORT to free ports"
                )


def _link_log(config: StackConfig, name: str, target: object) -> None:
    link = config.log_dir / name
    if not link.is_symlink() and not link.exists():
        link.symlink_to(str(target))

"""``cdc``: the ToteSys side from the command line (source schema and simulator)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import click
import psycopg
from rich.console import Console
from rich.table import Table

from cdc import config, dms_task, source_roles, source_schema
from cdc.simulator import dataset, traffic, writer

console = Console()


def _source_dsn(role: str = config.CAPTURE) -> str:
    try:
        return config.load(role=role).dsn
    except config.ConfigError as exc:
        console.print(f"[red]error:[/] {exc}")
        sys.exit(1)


def _guard(action: Callable[[], None]) -> None:
    try:
        action()
    except (psycopg.OperationalError, ValueError) as exc:
        console.print(f"[red]error:[/] {exc}")
        sys.exit(1)


@click.group()
def main() -> None:
    """ToteSys tools (the database comes from TOTESYS_CDC_SOURCE_DSN)."""


@main.group()
def source() -> None:
    """The ToteSys source schema."""


@source.command("init")
def source_init() -> None:
    """Create the ToteSys tables and the capture publication in an empty database, as the
    tables' owner (TOTESYS_CDC_SOURCE_OWNER_DSN, else TOTESYS_CDC_SOURCE_DSN)."""

    def run() -> None:
        with psycopg.connect(_source_dsn(config.OWNER)) as conn:
            source_schema.create(conn)
            source_schema.create_publication(conn)
        console.print(
            f"created {len(source_schema.TABLES)} ToteSys tables and the publication "
            f"{source_schema.PUBLICATION}"
        )

    _guard(run)


@source.command("roles")
@click.option("--print", "print_sql", is_flag=True, required=True, help="Print the SQL.")
@click.option("--database", default="totesys", show_default=True)
@click.option(
    "--owner",
    default=source_roles.SourceRoles.owner,
    show_default=True,
    help="The role that owns ToteSys's tables (an existing ToteSys keeps its owner).",
)
@click.option("--rds/--self-managed", default=True, show_default=True, help="Where ToteSys runs.")
def source_roles_command(print_sql: bool, database: str, owner: str, rds: bool) -> None:
    """ToteSys's roles for the pipeline (app, capture; the owner when it is new) and their
    grants, as SQL: run as the master user, the first part once per server, the second
    connected to DATABASE; the publication, as the tables' owner."""
    del print_sql
    roles = source_roles.SourceRoles(owner=owner)
    new_owner = owner == source_roles.SourceRoles.owner
    click.echo("-- once per server, as the master user; replace each password")
    for statement in source_roles.cluster_statements(
        roles, passwords=True, rds=rds, new_owner=new_owner
    ):
        click.echo(f"{statement.as_string()};")
    click.echo(f"-- connected to {database}, as the master user")
    for statement in source_roles.database_statements(roles, database, new_database=new_owner):
        click.echo(f"{statement.as_string()};")
    click.echo(f"-- connected to {database}, as {owner}, once the tables exist")
    for statement in source_roles.publication_statements(
        source_schema.PUBLICATION, source_schema.TABLES
    ):
        click.echo(f"{statement.as_string()};")


@main.group()
def dms() -> None:
    """The AWS DMS task definition."""


@dms.command("render")
@click.option(
    "--out",
    "out_dir",
    default="terraform/dms",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder terraform reads.",
)
def dms_render(out_dir: Path) -> None:
    """Write the table mappings, task settings and endpoint settings as JSON for terraform."""
    for path in dms_task.render(out_dir):
        console.print(f"wrote {path}")


@main.group(invoke_without_command=True)
@click.pass_context
def capture(ctx: click.Context) -> None:
    """Run the local capture engine (TOTESYS_CDC_SOURCE_DSN → TOTESYS_CDC_STREAM_NAME) until
    SIGTERM or Ctrl-C."""
    if ctx.invoked_subcommand is not None:
        return
    from cdc.capture.runner import run_capture

    sys.exit(run_capture())


@capture.command("reset")
def capture_reset() -> None:
    """Drop the engine's replication slot and state: the next run starts with a full load."""
    from cdc.capture.runner import reset_capture

    sys.exit(reset_capture())


@main.command()
@click.option(
    "--source",
    "engine",
    type=click.Choice(["local", "aws"]),
    default="local",
    show_default=True,
    help="The local capture engine, or a DMS task in AWS (credentials from the environment).",
)
@click.option(
    "--task-id",
    default=None,
    help="Task to watch [default: TOTESYS_CDC_CAPTURE_TASK_ID or "
    "totesys-cdc-local; for aws the replication task identifier].",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--watch",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Refresh every SECONDS until Ctrl-C.",
)
@click.option(
    "--check", is_flag=True, help="Exit 1 when the task is not healthy (for cron, health checks)."
)
@click.option(
    "--max-latency",
    type=float,
    default=60.0,
    show_default=True,
    help="Seconds of CDC latency above which --check fails.",
)
@click.option(
    "--max-retained-wal-mb",
    type=float,
    default=10240.0,
    show_default=True,
    help="WAL held back by the replication slot above which --check fails (MB).",
)
@click.option(
    "--source-instance",
    default=None,
    metavar="ID",
    help="With --source aws: ToteSys's RDS DB instance, to read its slot's retained WAL.",
)
@click.option(
    "--source-dsn",
    default=None,
    metavar="DSN",
    help="ToteSys, to compare its catalogue with Contract A [default: TOTESYS_CDC_SOURCE_DSN; "
    "without either the source schema is not checked].",
)
def monitor(
    engine: str,
    task_id: str | None,
    as_json: bool,
    watch: float | None,
    check: bool,
    max_latency: float,
    max_retained_wal_mb: float,
    source_instance: str | None,
    source_dsn: str | None,
) -> None:
    """Is CDC healthy, how far behind is it, how much WAL does its slot hold back, and does
    the source's schema still match Contract A?"""
    from cdc.monitor.cli import run_monitor

    sys.exit(
        run_monitor(
            engine,
            task_id,
            as_json=as_json,
            watch=watch,
            check=check,
            max_latency=max_latency,
            max_retained_wal_mb=max_retained_wal_mb,
            source_instance=source_instance,
            source_dsn=source_dsn,
        )
    )


@main.group()
def simulate() -> None:
    """The ToteSys simulator."""


@simulate.command()
@click.option("--seed", default=42, show_default=True, help="Same seed, same data.")
@click.option("--small", is_flag=True, help="A small dataset (for quick tries).")
@click.option(
    "--scale",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="N times the orders, transactions and payments (100: ~1,050,000 rows).",
)
def seed(seed: int, small: bool, scale: int) -> None:
    """Write the initial dataset into an empty ToteSys."""
    if small and scale != 1:
        raise click.UsageError("--small and --scale do not go together")

    def run() -> None:
        size = dataset.SMALL if small else dataset.DatasetSize.scaled(scale)
        data = dataset.generate(seed, size)
        rows = sum(data.row_counts().values())
        with psycopg.connect(_source_dsn(config.OWNER)) as conn:  # the COPY alters the tables
            started = time.perf_counter()
            counts = writer.load_dataset(conn, data)
            seconds = time.perf_counter() - started
        console.print(f"COPY: {rows:,} rows in {seconds:.1f} s ({rows / seconds:,.0f} rows/s)")
        table = Table(title=f"ToteSys initial dataset (seed {seed}, scale {scale})")
        table.add_column("table")
        table.add_column("rows", justify="right")
        for name, n in counts.items():
            table.add_row(name, str(n))
        console.print(table)

    _guard(run)


@simulate.command("traffic")
@click.option("--rate", default=10.0, show_default=True, help="Row changes per second.")
@click.option(
    "--duration", default=60.0, show_default=True, help="Seconds to run (0: until Ctrl-C)."
)
@click.option("--seed", default=1, show_default=True)
@click.option(
    "--deletes/--no-deletes",
    default=False,
    show_default=True,
    help="Also cancel unpaid orders and withdraw unused designs (rare).",
)
def traffic_command(rate: float, duration: float, seed: int, deletes: bool) -> None:
    """Write live OLTP traffic into ToteSys."""

    def run() -> None:
        try:
            stats = traffic.run(
                _source_dsn(config.APP),
                rate=rate,
                duration_s=duration or None,
                seed=seed,
                allow_deletes=deletes,
            )
        except KeyboardInterrupt:
            console.print("stopped")
            return
        print_traffic_summary(stats)

    _guard(run)


def print_traffic_summary(stats: traffic.TrafficStats) -> None:
    table = Table(
        title=f"Live traffic: {stats.total_changes} row changes in {stats.commits} "
        f"transactions over {stats.elapsed_s:.1f}s"
    )
    for column in ("table", "operation", "rows"):
        table.add_column(column)
    for (name, operation), n in sorted(stats.changes.items()):
        table.add_row(name, operation, str(n))
    console.print(table)


if __name__ == "__main__":
    main()

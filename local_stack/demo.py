"""``make demo``: the local stack, a seeded ToteSys, a migrated warehouse and live traffic.

Brings the stack up (or reuses a running one), recreates the ``totesys`` and ``warehouse``
databases, loads the initial dataset, runs live ToteSys traffic for a while with a live view,
prints what it did and how to look, and takes down what it started.
"""

from __future__ import annotations

import sys
import time

import click
import psycopg
from psycopg import sql
from rich.console import Console
from rich.live import Live
from rich.table import Table

from cdc import source_schema
from cdc.cli import print_traffic_summary
from cdc.simulator import dataset, traffic, writer
from local_stack import config as stack_config
from local_stack import stack
from local_stack.cli import print_status
from local_stack.processes import StackError
from warehouse_loader import migrations

console = Console()


def recreate_database(cfg: stack_config.StackConfig, name: str) -> str:
    with psycopg.connect(cfg.pg_dsn("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return cfg.pg_dsn(name)


def source_counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return source_schema.row_counts(conn)


def _progress(stats: traffic.TrafficStats, elapsed: float, duration: float) -> Table:
    table = Table(title=f"Live ToteSys traffic: {elapsed:4.1f}s / {duration:.0f}s")
    for column in ("table", "inserts", "updates", "deletes"):
        table.add_column(column, justify="right" if column != "table" else "left")
    for name in source_schema.TABLES:
        counts = [stats.changes.get((name, op), 0) for op in ("insert", "update", "delete")]
        if any(counts):
            table.add_row(name, *map(str, counts))
    table.caption = f"{stats.total_changes} row changes in {stats.commits} commits"
    return table


@click.command()
@click.option("--duration", default=20.0, show_default=True, help="Seconds of live traffic.")
@click.option("--rate", default=25.0, show_default=True, help="Row changes per second.")
@click.option("--seed", default=42, show_default=True)
def main(duration: float, rate: float, seed: int) -> None:
    """Run the demo on the local stack."""
    cfg = stack_config.load()
    try:
        started_here = not stack.is_up(cfg)
        console.rule("local stack")
        print_status(stack.up(cfg))
        try:
            run_demo(cfg, duration=duration, rate=rate, seed=seed)
        finally:
            if started_here:
                stack.down(cfg)
                console.print("stopped the local stack this demo started")
    except StackError as exc:
        console.print(f"[red]error:[/] {exc}")
        sys.exit(1)


def run_demo(cfg: stack_config.StackConfig, *, duration: float, rate: float, seed: int) -> None:
    console.rule("ToteSys initial dataset")
    source_dsn = recreate_database(cfg, "totesys")
    with psycopg.connect(source_dsn) as conn:
        source_schema.create(conn)
        started = time.monotonic()
        written = writer.load_dataset(conn, dataset.generate(seed))
    console.print(
        f"seed {seed}: {sum(written.values())} rows in {len(written)} tables "
        f"in {time.monotonic() - started:.2f}s"
    )

    console.rule("warehouse schema")
    warehouse_dsn = recreate_database(cfg, "warehouse")
    with psycopg.connect(warehouse_dsn) as conn:
        applied = migrations.apply(conn)
    console.print("applied " + ", ".join(f"{m.version:04d}_{m.name}" for m in applied))

    console.rule(f"live traffic: {rate:g} changes/s for {duration:g}s")
    before = source_counts(source_dsn)
    began = time.monotonic()
    with Live(console=console, refresh_per_second=4) as live:
        stats = traffic.run(
            source_dsn,
            rate=rate,
            duration_s=duration,
            seed=seed,
            allow_deletes=True,
            on_commit=lambda s: live.update(_progress(s, time.monotonic() - began, duration)),
        )
    print_traffic_summary(stats)
    after = source_counts(source_dsn)

    summary = Table(title="ToteSys rows before and after the traffic")
    for column in ("table", "before", "after"):
        summary.add_column(column, justify="left" if column == "table" else "right")
    for name in source_schema.TABLES:
        summary.add_row(name, str(before[name]), str(after[name]))
    console.print(summary)
    console.rule("next")
    latest = "SELECT * FROM payment ORDER BY last_updated DESC LIMIT 5"
    console.print(
        "The demo stops at the source until the capture engine, stream processor and loader land.\n"
        "Look around while the stack is up ('make stack-up' keeps it running):\n"
        f"  psql \"{cfg.pg_dsn('totesys')}\" -c '{latest}'\n"
        f"  psql \"{cfg.pg_dsn('warehouse')}\" -c '\\dt'"
    )


if __name__ == "__main__":
    main()

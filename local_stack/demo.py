"""``make demo``: ToteSys changes captured onto Kinesis, live, on the local stack.

Brings the stack up (or reuses a running one), recreates the ``totesys`` and ``warehouse``
databases and the stream, loads the initial dataset, applies the warehouse migrations, starts
the capture engine (full load, then CDC), runs live ToteSys traffic with a live view of what
is written and captured, then shows the capture task's health and the records on the stream,
and takes down everything it started.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter

import click
import psycopg
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from cdc import source_schema
from cdc.cli import print_traffic_summary
from cdc.monitor import local as local_monitor
from cdc.monitor.model import Thresholds, problems
from cdc.monitor.report import render
from cdc.simulator import dataset, traffic, writer
from local_stack import aws, postgres, stack
from local_stack import config as stack_config
from local_stack.capture_process import CaptureProcess
from local_stack.cli import print_status
from local_stack.downstream import Downstream
from local_stack.processes import StackError, wait_until
from warehouse_loader import migrations

console = Console()
TASK_ID = "totesys-cdc-demo"


def demo_capture(cfg: stack_config.StackConfig) -> CaptureProcess:
    """The demo's capture engine; the source was just recreated, so it starts with a full load."""
    for suffix in ("state", "status"):
        (cfg.capture_state_dir / f"{TASK_ID}.{suffix}.json").unlink(missing_ok=True)
    env = {**os.environ, **stack_config.app_env(cfg), "TOTESYS_CDC_CAPTURE_TASK_ID": TASK_ID}
    return CaptureProcess(env, cfg.capture_state_dir, TASK_ID, cfg.log_dir / "capture.log")


def _live_view(
    stats: traffic.TrafficStats,
    capture: CaptureProcess,
    elapsed: float,
    duration: float,
    downstream: Downstream | None = None,
) -> Group:
    written = Table(title=f"ToteSys traffic: {elapsed:4.1f}s / {duration:.0f}s")
    for column in ("table", "inserts", "updates", "deletes"):
        written.add_column(column, justify="right" if column != "table" else "left")
    for name in source_schema.TABLES:
        counts = [stats.changes.get((name, op), 0) for op in ("insert", "update", "delete")]
        if any(counts):
            written.add_row(name, *map(str, counts))
    written.caption = f"{stats.total_changes} row changes committed in {stats.commits} transactions"
    status = capture.status()
    captured = Table(title="capture → Kinesis", show_header=False)
    if status is not None:
        cdc = sum(t.inserts + t.updates + t.deletes for t in status.tables.values())
        captured.add_row("status", status.status)
        captured.add_row("records on the stream", f"{status.records_sent:,}")
        captured.add_row("CDC records", f"{cdc:,} of {stats.total_changes:,} committed")
        captured.add_row("latency (commit → Kinesis ack)", f"{status.cdc_latency_target_s:.2f}s")
        captured.add_row("throughput", f"{status.records_per_s:,.0f} records/s")
    if downstream is None:
        return Group(written, captured)
    warehouse = Table(title="warehouse (processor → S3 → SQS → loader)")
    warehouse.add_column("table")
    warehouse.add_column("rows", justify="right")
    for name, n in downstream.counts().items():
        warehouse.add_row(name, f"{n:,}")
    warehouse.caption = f"{downstream.ledger()} manifests loaded"
    return Group(written, captured, warehouse)


def stream_counts(cfg: stack_config.StackConfig) -> Counter[tuple[str, str]]:
    kinesis = aws.client(cfg, "kinesis")
    counts: Counter[tuple[str, str]] = Counter()
    for shard in kinesis.list_shards(StreamName=cfg.stream_name)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=cfg.stream_name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            for record in page["Records"]:
                meta = json.loads(record["Data"])["metadata"]
                counts[(meta["table-name"], meta["operation"])] += 1
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return counts


@click.command()
@click.option("--duration", default=20.0, show_default=True, help="Seconds of live traffic.")
@click.option("--rate", default=50.0, show_default=True, help="Row changes per second.")
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
    postgres.drop_database(cfg, "totesys")
    source_dsn = postgres.create_database(cfg, "totesys")
    with psycopg.connect(source_dsn) as conn:
        source_schema.create(conn)
        started = time.monotonic()
        written = writer.load_dataset(conn, dataset.generate(seed))
    console.print(
        f"seed {seed}: {sum(written.values()):,} rows in {len(written)} tables "
        f"in {time.monotonic() - started:.2f}s"
    )

    console.rule("warehouse schema")
    postgres.drop_database(cfg, "warehouse")
    with psycopg.connect(postgres.create_database(cfg, "warehouse")) as conn:
        applied = migrations.apply(conn)
    console.print("applied " + ", ".join(f"{m.version:04d}_{m.name}" for m in applied))

    console.rule(f"capture: full load, then CDC onto Kinesis stream {cfg.stream_name}")
    kinesis = aws.client(cfg, "kinesis")
    kinesis.delete_stream(StreamName=cfg.stream_name)
    wait_until(
        lambda: not aws.stream_exists(kinesis, cfg.stream_name),
        what="the old stream to go",
        timeout_s=30,
    )
    aws.ensure_stream(cfg)
    downstream = Downstream(cfg, cfg.pg_dsn("warehouse"))
    downstream.start()  # the KCL daemon takes ~20 s to take its leases: start it first
    capture = demo_capture(cfg)
    capture.start()
    capture.wait_running()
    try:
        loaded = sum(t.full_load_rows for t in capture.status().tables.values())
        console.print(f"full load: {loaded:,} rows as DMS 'load' records")

        console.rule(f"live traffic: {rate:g} changes/s for {duration:g}s")
        began = time.monotonic()
        with Live(console=console, refresh_per_second=4) as live:
            stats = traffic.run(
                source_dsn,
                rate=rate,
                duration_s=duration,
                seed=seed,
                allow_deletes=True,
                on_commit=lambda s: live.update(
                    _live_view(s, capture, time.monotonic() - began, duration, downstream)
                ),
            )
            capture.wait_caught_up(source_dsn)
            downstream.wait_settled()
            live.update(_live_view(stats, capture, time.monotonic() - began, duration, downstream))
        print_traffic_summary(stats)
        console.rule("the capture task, as `cdc monitor` shows it")
        health = local_monitor.read(cfg.capture_state_dir, TASK_ID)
        console.print(render(health, problems(health, Thresholds())))
        console.rule("the warehouse")
        with psycopg.connect(cfg.pg_dsn("warehouse")) as conn:
            history = conn.execute(
                "SELECT payment_id, string_agg(CASE WHEN paid THEN 'paid' ELSE 'unpaid' END, ' → ' "
                "ORDER BY cdc_version) FROM fact_payment GROUP BY payment_id "
                "HAVING bool_or(paid) AND NOT bool_and(paid) ORDER BY payment_id DESC LIMIT 1"
            ).fetchone()
            inferred = conn.execute(
                "SELECT count(*) FROM dim_staff WHERE cdc_is_inferred"
            ).fetchone()[0]
        console.print(
            f"{downstream.ledger()} manifests loaded; inferred staff rows left: {inferred}"
        )
        if history:
            console.print(f"payment {history[0]} in fact_payment, version by version: {history[1]}")
    finally:
        capture.stop()
        downstream.stop()

    counts = stream_counts(cfg)
    summary = Table(title=f"records on Kinesis stream {cfg.stream_name}")
    for column in ("table", "load", "insert", "update", "delete", "control"):
        summary.add_column(column, justify="left" if column == "table" else "right")
    for name in source_schema.TABLES:
        control = sum(n for (t, op), n in counts.items() if t == name and op.endswith("table"))
        summary.add_row(
            name,
            *(str(counts[(name, op)]) for op in ("load", "insert", "update", "delete")),
            str(control),
        )
    console.print(summary)
    console.rule("next")
    latest = "SELECT * FROM payment ORDER BY last_updated DESC LIMIT 5"
    console.print(
        "While the stack is up ('make stack-up' keeps it running), look around:\n"
        f"  psql \"{cfg.pg_dsn('totesys')}\" -c '{latest}'\n"
        f"  psql \"{cfg.pg_dsn('warehouse')}\" -c '\\dt'\n"
        '  eval "$(.venv/bin/totesys-stack env)"\n'
        f"  TOTESYS_CDC_CAPTURE_TASK_ID={TASK_ID} .venv/bin/cdc monitor"
    )


if __name__ == "__main__":
    main()

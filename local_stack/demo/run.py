"""``make demo``: the whole pipeline on the local stack, live.

Brings the stack up (or reuses a running one), recreates the ``totesys`` and ``warehouse``
databases and the stream, loads the initial dataset, starts the stream processor under the
real KCL daemon, the loader runner and the capture engine (full load, then CDC), runs live
ToteSys traffic for ``--duration`` seconds (or until Ctrl-C) with a live dashboard, waits for
the warehouse to catch up, prints a summary and how to query the warehouse, writes an HTML
report with the latency plot, and takes down everything it started.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import click
import psycopg
from psycopg import sql
from rich.console import Console
from rich.live import Live
from rich.table import Table

from cdc import source_schema
from cdc.cli import print_traffic_summary
from cdc.monitor import drift as source_drift
from cdc.monitor import local as local_monitor
from cdc.monitor.model import Thresholds, problems
from cdc.monitor.report import render as render_health
from cdc.simulator.traffic import TrafficStats
from contracts.schema_drift import Drift
from local_stack.demo import dashboard
from local_stack.harness.pipeline import Names, Pipeline
from local_stack.services import config as stack_config
from local_stack.services import stack
from local_stack.services.cli import print_status
from local_stack.services.processes import StackError

console = Console()


DATA_OPS = ("load", "insert", "update", "delete")
# --alter: the nullable column the demo adds to design while the traffic runs
ALTER_TABLE, ALTER_COLUMN = "design", "licence"


def stream_counts(pipeline: Pipeline) -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    for _, record in pipeline.observe.stream_records():
        meta = json.loads(record["Data"])["metadata"]
        counts[(meta["table-name"], meta["operation"])] += 1
    return counts


def stream_counts_table(pipeline: Pipeline) -> Table:
    counts = stream_counts(pipeline)
    summary = Table(title=f"records on Kinesis stream {pipeline.names.stream}")
    for column in ("table", "load", "insert", "update", "delete", "control"):
        summary.add_column(column, justify="left" if column == "table" else "right")
    for name in source_schema.TABLES:
        control = sum(n for (t, op), n in counts.items() if t == name and op not in DATA_OPS)
        summary.add_row(
            name,
            *(str(counts[(name, op)]) for op in ("load", "insert", "update", "delete")),
            str(control),
        )
    return summary


@click.command()
@click.option("--duration", default=30.0, show_default=True, help="Seconds of live traffic.")
@click.option("--rate", default=100.0, show_default=True, help="Row changes per second.")
@click.option("--seed", default=42, show_default=True)
@click.option(
    "--alter",
    is_flag=True,
    help=f"Halfway through the traffic, add a nullable column to {ALTER_TABLE} (a real ALTER "
    "TABLE) and show the schema drift the source and the processor show.",
)
def main(duration: float, rate: float, seed: int, alter: bool) -> None:
    """Run the demo on the local stack (Ctrl-C stops the traffic early)."""
    cfg = stack_config.load()
    try:
        started_here = not stack.is_up(cfg)
        console.rule("local stack")
        print_status(stack.up(cfg))
        try:
            run_demo(cfg, duration=duration, rate=rate, seed=seed, alter=alter)
        finally:
            if started_here:
                stack.down(cfg)
                console.print("stopped the local stack this demo started")
    except StackError as exc:
        console.print(f"[red]error:[/] {exc}")
        sys.exit(1)


def run_demo(
    cfg: stack_config.StackConfig,
    *,
    duration: float,
    rate: float,
    seed: int,
    alter: bool = False,
) -> None:
    pipeline = Pipeline(cfg, Names.demo())
    console.rule("ToteSys initial dataset, warehouse schema, stream")
    began = time.monotonic()
    written = pipeline.create(seed)
    console.print(
        f"seed {seed}: {sum(written.values()):,} ToteSys rows in {len(written)} tables; "
        f"warehouse migrated; stream {pipeline.names.stream} ({cfg.stream_shards} shards) "
        f"in {time.monotonic() - began:.1f}s"
    )
    console.rule("starting: KCL processor, loader runner, capture engine (full load)")
    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        pipeline.start()
        loaded = sum(t.full_load_rows for t in pipeline.capture.status().tables.values())
        console.print(f"full load: {loaded:,} rows on the stream as DMS 'load' records")
        began = time.monotonic()
        with console.status("the KCL takes its leases; the full load goes to the warehouse"):
            pipeline.quiesce()
        console.print(
            f"full load in the warehouse {time.monotonic() - began:.0f}s later "
            f"({pipeline.observe.ledger()} manifests)"
        )
        console.rule(f"live traffic: {rate:g} changes/s for {duration:g}s (Ctrl-C to stop early)")
        traffic_started = datetime.now(UTC).replace(tzinfo=None)
        stats, final = live(
            pipeline,
            rate=rate,
            duration=duration,
            seed=seed,
            stop=stop,
            alter_at_s=duration / 2 if alter else None,
        )
        console.print(dashboard.render(final, title="ToteSys CDC, caught up"))
        show_history(pipeline)
        settings = {
            "rate (changes/s)": f"{rate:g}",
            "duration (s)": f"{duration:g}",
            "seed": str(seed),
            "alter": f"ADD COLUMN {ALTER_TABLE}.{ALTER_COLUMN}" if alter else "no",
        }
        summary = report(
            pipeline,
            stats,
            final,
            interrupted=stop.is_set(),
            settings=settings,
            traffic_started=traffic_started,
            altered=alter,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
        pipeline.stop()
        pipeline.destroy(keep_data=True)  # the databases and the stream stay to look at
    console.print(summary)
    console.rule("next")
    latest = "SELECT * FROM payment ORDER BY last_updated DESC LIMIT 5"
    history = (
        "SELECT payment_id, paid, cdc_version, cdc_loaded_at FROM fact_payment "
        "WHERE payment_id = (SELECT max(payment_id) FROM fact_payment WHERE paid) "
        "ORDER BY cdc_version"
    )
    console.print(
        "While the stack is up ('make stack-up' keeps it running), look around:\n"
        f"  psql \"{cfg.source_dsns('totesys')['TOTESYS_CDC_SOURCE_DSN']}\" -c '{latest}'\n"
        f'  psql "{cfg.warehouse_dsns("warehouse")["TOTESYS_CDC_WAREHOUSE_ANALYST_DSN"]}" '
        f"-c '{history}'\n"
        '  eval "$(.venv/bin/totesys-stack env)"\n'
        "  .venv/bin/warehouse-loader status        # freshness per table\n"
        "  .venv/bin/warehouse-loader reconcile     # the warehouse against ToteSys\n"
        f"  TOTESYS_CDC_CAPTURE_TASK_ID={pipeline.names.task_id} .venv/bin/cdc monitor"
    )


def live(
    pipeline: Pipeline,
    *,
    rate: float,
    duration: float,
    seed: int,
    stop: threading.Event,
    alter_at_s: float | None = None,
) -> tuple[TrafficStats, dashboard.Sample]:
    """Traffic in a thread; the dashboard refreshed here until the warehouse has caught up.
    ``alter_at_s``: seconds into the traffic at which ``alter_source`` runs (``--alter``)."""
    latest = [TrafficStats()]  # the generator's own stats object, once it has committed
    since = datetime.now(UTC).replace(tzinfo=None)
    failures: list[BaseException] = []

    def write() -> None:
        try:
            latest[0] = pipeline.traffic(
                rate=rate,
                duration_s=duration,
                seed=seed,
                allow_deletes=True,
                stop=stop,
                on_commit=lambda s: latest.__setitem__(0, s),
            )
            if not stop.is_set():
                pipeline.quiesce()
        except BaseException as exc:  # noqa: BLE001 - shown below, after the live view
            failures.append(exc)

    began = time.monotonic()
    worker = threading.Thread(target=write, daemon=True)
    worker.start()
    with Live(console=console, refresh_per_second=2) as view:
        while True:
            worker.join(timeout=0.5)
            current = dashboard.sample(
                pipeline,
                latest[0],
                elapsed_s=time.monotonic() - began,
                duration_s=duration,
                since=since,
            )
            view.update(dashboard.render(current))
            if alter_at_s is not None and time.monotonic() - began >= alter_at_s:
                alter_source(pipeline)
                alter_at_s = None
            if not worker.is_alive():
                break
    if failures:
        raise failures[0]
    return latest[0], current


def report(
    pipeline: Pipeline,
    stats: TrafficStats,
    final: dashboard.Sample,
    *,
    interrupted: bool,
    settings: dict[str, str],
    traffic_started: datetime,
    altered: bool = False,
) -> str:
    print_traffic_summary(stats)
    console.rule("the capture task, as `cdc monitor` shows it")
    health = source_drift.with_source_drift(
        local_monitor.read(pipeline.cfg.capture_state_dir, pipeline.names.task_id),
        pipeline.source_dsn,
    )
    console.print(render_health(health, problems(health, Thresholds())))
    console.rule("records on the stream")
    console.print(stream_counts_table(pipeline))
    lines = []
    if interrupted:
        lines.append(
            "interrupted: the traffic stopped early; the warehouse may still be catching up"
        )
    reconciled = None if interrupted else pipeline.observe.reconcile()
    if reconciled is not None:
        differences = reconciled.differences
        lines.append(
            f"reconcile: {'no differences' if not differences else f'{differences} DIFFERENCES'}"
            " between the warehouse and ToteSys"
        )
    with psycopg.connect(pipeline.warehouse_dsn) as conn:
        history = conn.execute(
            "SELECT payment_id, string_agg(CASE WHEN paid THEN 'paid' ELSE 'unpaid' END, ' → ' "
            "ORDER BY cdc_version) FROM fact_payment GROUP BY payment_id "
            "HAVING bool_or(paid) AND NOT bool_and(paid) ORDER BY payment_id DESC LIMIT 1"
        ).fetchone()
    if history:
        lines.append(f"payment {history[0]} in fact_payment, version by version: {history[1]}")
    if final.latency:
        count, p50, p95, p99, _ = final.latency
        lines.append(
            f"commit → warehouse latency of {count:,} fact changes: "
            f"p50 {p50:.2f}s, p95 {p95:.2f}s, p99 {p99:.2f}s"
        )
    lines.append(f"{final.manifests_loaded:,} manifests loaded, {final.dead_letters} dead letters")
    if altered or health.source_drift:
        lines += drift_lines(health.source_drift, processor_drift(pipeline.log_path("processor")))
    path = dashboard.html_report(
        dashboard.observe_run(
            pipeline,
            title="ToteSys CDC demo",
            settings=settings,
            traffic_started=traffic_started,
            reconcile=reconciled.to_json() if reconciled is not None else None,
            notes=list(lines),
        ),
        pipeline.cfg.state_dir / "demo-report.html",
    )
    lines.append(f"report (throughput, tables, latency, reconcile, settings): {path}")
    return "\n".join(lines)


def alter_source(pipeline: Pipeline) -> None:
    """``--alter``: a real ``ALTER TABLE`` under the live traffic, a nullable column added to
    design, and one design given a value in it (so its next record carries the column), as
    the tables' owner (the only role that may)."""
    with psycopg.connect(pipeline.source_owner_dsn, autocommit=True) as source:
        source.execute(
            sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} text").format(
                sql.Identifier(ALTER_TABLE), sql.Identifier(ALTER_COLUMN)
            )
        )
        source.execute(
            sql.SQL(
                "UPDATE {table} SET {column} = %s, last_updated = now() AT TIME ZONE 'UTC' "
                "WHERE {key} = (SELECT max({key}) FROM {table})"
            ).format(
                table=sql.Identifier(ALTER_TABLE),
                column=sql.Identifier(ALTER_COLUMN),
                key=sql.Identifier(f"{ALTER_TABLE}_id"),
            ),
            ("CC-BY-4.0",),
        )


def processor_drift(log: Path) -> list[dict[str, object]]:
    """The processor's ``schema_drift`` events (one per drift per record-processor process)
    in its log: one JSON object per line, as ``contracts.events`` writes them."""
    if not log.exists():
        return []
    events = []
    for line in log.read_text(errors="replace").splitlines():
        start = line.find("{")
        if '"schema_drift"' not in line or start < 0:
            continue
        try:
            event = json.loads(line[start:])
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict) and event.get("event") == "schema_drift":
            events.append(event)
    return events


def drift_lines(source: list[Drift] | None, events: list[dict[str, object]]) -> list[str]:
    """The report's lines on schema drift: the source's catalogue against Contract A (what
    ``cdc monitor`` shows) and the drifts the processor's events name, each once."""
    lines = [f"schema drift at the source (`cdc monitor`): {source_drift.summary(source)}"]
    seen = sorted(
        {
            (str(e.get("table")), str(e.get("kind")), str(e.get("column") or ""))
            + (str(e.get("detail")),)
            for e in events
        }
    )
    if not seen:
        return [*lines, "schema drift seen by the processor: no schema_drift event in its log"]
    described = "; ".join(
        f"{table}{'.' + column if column else ''} {kind.replace('_', ' ')} ({detail})"
        for table, kind, column, detail in seen
    )
    return [
        *lines,
        f"schema drift seen by the processor ({len(events)} schema_drift events): {described}",
    ]


def show_history(pipeline: Pipeline) -> None:
    """Dimension history (docs/warehouse-loader.md): one department renamed now (one UPDATE
    at the source, so the demo shows a rename whatever the traffic did) and one of its staff's
    sales orders updated after it; then that staff member's history across the rename, and
    the order's versions joined to the staff row valid at each (``fact_sales_order_as_of``)."""
    with psycopg.connect(pipeline.source_dsn, autocommit=True) as source:
        staff_id, department_id, name, order_id = source.execute(
            "SELECT s.staff_id, s.department_id, d.department_name, max(o.sales_order_id) "
            "FROM staff s JOIN department d USING (department_id) "
            "JOIN sales_order o ON o.staff_id = s.staff_id "
            "GROUP BY 1, 2, 3 ORDER BY count(*) DESC, 1 LIMIT 1"
        ).fetchone()
        source.execute(
            "UPDATE department SET department_name = %s, "
            "last_updated = now() AT TIME ZONE 'UTC' WHERE department_id = %s",
            (f"{name} (renamed)", department_id),
        )
        source.execute(
            "UPDATE sales_order SET units_sold = units_sold + 1, "
            "last_updated = now() AT TIME ZONE 'UTC' WHERE sales_order_id = %s",
            (order_id,),
        )
    with console.status("the rename and the order update go through the pipeline"):
        pipeline.quiesce()
    with psycopg.connect(pipeline.warehouse_dsn) as warehouse:
        staff = warehouse.execute(
            "SELECT first_name || ' ' || last_name, department_name, valid_from, valid_to, "
            "cdc_is_deleted FROM dim_staff_history WHERE staff_id = %s "
            "ORDER BY valid_from_version",
            (staff_id,),
        ).fetchall()
        orders = warehouse.execute(
            "SELECT cdc_version, cdc_operation, units_sold, last_updated_date, "
            "last_updated_time, staff_department_name FROM fact_sales_order_as_of "
            "WHERE sales_order_id = %s ORDER BY cdc_version",
            (order_id,),
        ).fetchall()
    table = Table(title=f"dim_staff_history, staff {staff_id}")
    for column in ("name", "department", "valid_from", "valid_to", "deleted"):
        table.add_column(column)
    for row in staff:
        table.add_row(*(str(v) for v in row))
    console.print(table)
    table = Table(title=f"fact_sales_order_as_of, sales order {order_id}")
    for column in ("version", "operation", "units", "updated", "at", "staff's department then"):
        table.add_column(column)
    for row in orders:
        table.add_row(*(str(v) for v in row))
    console.print(table)

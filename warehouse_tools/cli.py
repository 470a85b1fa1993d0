"""``warehouse-loader``: operator commands for the warehouse and the local Lambda runner."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

import boto3
import click
import psycopg
from rich.console import Console
from rich.table import Table

from contracts.batches import ObjectMissing, S3Store
from warehouse_loader import config, rejected, runner
from warehouse_loader import roles as warehouse_roles
from warehouse_loader.connection import Warehouse
from warehouse_tools import backfill, evolve, reconcile, redrive, repair
from warehouse_tools.freshness import freshness


def _warehouse(*, owner: bool = False) -> Warehouse:
    try:
        cfg = config.load(owner=owner)
    except config.ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    return Warehouse(cfg, boto3.client("secretsmanager") if cfg.warehouse_secret_arn else None)


@click.group()
def main() -> None:
    """Warehouse loader commands (TOTESYS_CDC_WAREHOUSE_DSN or _WAREHOUSE_SECRET_ARN)."""


@main.command()
def migrate() -> None:
    """Create or upgrade the star schema (idempotent), as the warehouse's owner
    (TOTESYS_CDC_WAREHOUSE_OWNER_DSN or _OWNER_SECRET_ARN; else the loader's credentials).
    A deployment step of its own: loaders never migrate, and fail while any is pending."""
    try:
        applied = _warehouse(owner=True).migrate()
    except psycopg.OperationalError as exc:
        click.echo(f"error: cannot reach the warehouse: {str(exc).splitlines()[0]}", err=True)
        sys.exit(1)
    except psycopg.errors.InsufficientPrivilege as exc:
        click.echo(
            f"error: {str(exc).splitlines()[0]}: migrations run as the warehouse's owner "
            "(docs/database-roles.md)",
            err=True,
        )
        sys.exit(1)
    for migration in applied:
        click.echo(f"applied {migration.version:04d}_{migration.name}")
    click.echo("warehouse schema is up to date")


@main.command("roles")
@click.option("--print", "print_sql", is_flag=True, required=True, help="Print the SQL.")
@click.option("--database", default="warehouse", show_default=True)
def roles_command(print_sql: bool, database: str) -> None:
    """The warehouse's roles (owner, loader, analyst) and their grants, as SQL for RDS: run as
    the master user, the first part once per server, the second connected to DATABASE."""
    del print_sql
    roles_ = warehouse_roles.WarehouseRoles()
    click.echo("-- once per server, as the master user; replace each password")
    for statement in warehouse_roles.cluster_statements(roles_, passwords=True):
        click.echo(f"{statement.as_string()};")
    click.echo(f"-- connected to {database}, as the master user")
    for statement in warehouse_roles.database_statements(roles_, database):
        click.echo(f"{statement.as_string()};")


@main.group("migrations")
def migrations_group() -> None:
    """The warehouse's migrations (warehouse_loader/migrations/*.sql)."""


@migrations_group.command("new")
@click.argument("name")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Write the file here (default: the package's migrations folder).",
)
def migrations_new(name: str, folder: Path | None) -> None:
    """Write the next migration, NNNN_NAME.sql, from the difference between the specs
    (contracts/star_schema.py) and what the existing migrations make: ADD COLUMN on the
    table, its history and versions table, and the as-of views again. Needs no database."""
    try:
        migration = evolve.new_migration(name)
    except evolve.NotGenerated as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if migration is None:
        click.echo("no difference between the specs and the migrations: nothing written")
        return
    path = evolve.write(migration, folder or evolve.MIGRATIONS_DIR)
    click.echo(f"wrote {path}")


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
    for name, (rows, newest, age) in freshness(conn).items():
        if name != "dim_date":
            table.add_row(name, str(rows), str(newest or "-"), str(age or "-"))
    console.print(table)


@main.command("reconcile")
@click.option(
    "--source-dsn",
    envvar="TOTESYS_CDC_SOURCE_DSN",
    required=True,
    help="ToteSys (a replica will do); default $TOTESYS_CDC_SOURCE_DSN.",
)
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
@click.option("--samples", default=5, show_default=True, help="Sample keys per difference.")
@click.option(
    "--repair", "do_repair", is_flag=True, help="Write the source's row for each difference."
)
@click.option("--dry-run", is_flag=True, help="With --repair: say what would be written.")
@click.option("--table", "only", multiple=True, help="With --repair: only this table (repeatable).")
def reconcile_command(
    source_dsn: str,
    as_json: bool,
    samples: int,
    do_repair: bool,
    dry_run: bool,
    only: tuple[str, ...],
) -> None:
    """Check the warehouse against a ToteSys snapshot; exit 1 on any difference.

    Run it when the pipeline is quiet (caught up), e.g. after an incident or a replay. With
    --repair, each difference is fixed with the source's row, versioned at the snapshot's WAL
    position (safe while the pipeline runs: later changes still win); exit 0 once repaired."""
    if (dry_run or only) and not do_repair:
        click.echo("error: --dry-run and --table go with --repair", err=True)
        sys.exit(2)
    try:
        with psycopg.connect(source_dsn) as source:
            if do_repair:
                warehouse = _warehouse()
                fixed = repair.repair(
                    source,
                    warehouse.connection(),
                    tables=set(only) or None,
                    dry_run=dry_run,
                    history=warehouse.config.history,
                )
                _print_repair(fixed, dry_run, samples)
                left = fixed.remaining.differences if fixed.remaining else 0
                sys.exit(1 if fixed.not_repaired or left else 0)
            report = reconcile.reconcile(source, _warehouse().connection())
    except (psycopg.OperationalError, psycopg.ProgrammingError) as exc:  # unreachable, bad DSN
        click.echo(f"error: cannot connect: {str(exc).splitlines()[0]}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(report.to_json(samples), indent=2))
    else:
        console = Console()
        table = Table(title="warehouse against the ToteSys snapshot")
        for column in ("table", "source rows", "warehouse rows", "differences", "sample keys"):
            table.add_column(column)
        for t in report.tables:
            kinds = "; ".join(f"{kind}: {len(keys)}" for kind, keys in sorted(t.problems.items()))
            keys = "; ".join(
                f"{kind}: {', '.join(map(str, ks[:samples]))}"
                for kind, ks in sorted(t.problems.items())
            )
            table.add_row(
                t.table, str(t.source_rows), str(t.warehouse_rows), kinds or "none", keys or "-"
            )
        console.print(table)
        console.print(
            "[green]no differences[/]"
            if not report.differences
            else f"[red]{report.differences} differences[/]"
        )
    sys.exit(1 if report.differences else 0)


@main.command("backfill")
@click.option(
    "--source-dsn",
    envvar="TOTESYS_CDC_SOURCE_DSN",
    required=True,
    help="ToteSys (a replica will do); default $TOTESYS_CDC_SOURCE_DSN.",
)
@click.option("--table", required=True, help="The warehouse table (dim_design) or its source.")
@click.option("--column", required=True, help="The column added to the table's spec.")
@click.option("--dry-run", is_flag=True, help="Say how many rows would be written; write none.")
@click.option("--samples", default=5, show_default=True, help="Sample keys printed.")
def backfill_command(source_dsn: str, table: str, column: str, dry_run: bool, samples: int) -> None:
    """Give a column added to a spec its source values on the rows already loaded, through
    the loader's path (current rows, versions, history; a fact gets a new latest version).
    Safe while the pipeline runs, once the new spec's processor is running: the version guard
    decides (docs/contracts.md, Adding a column). Exit 1 if rows still differ afterwards."""
    warehouse = _warehouse()
    try:
        with psycopg.connect(source_dsn) as source:
            done = backfill.backfill(
                source,
                warehouse.connection(),
                table,
                column,
                dry_run=dry_run,
                history=warehouse.config.history,
            )
    except backfill.BackfillError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except (psycopg.OperationalError, psycopg.ProgrammingError) as exc:
        click.echo(f"error: cannot connect: {str(exc).splitlines()[0]}", err=True)
        sys.exit(2)
    keys = ", ".join(map(str, done.keys[:samples])) + (", ..." if len(done.keys) > samples else "")
    verb = "would write" if dry_run else "wrote"
    click.echo(
        f"{done.table}.{done.column}: snapshot at {done.snapshot_lsn} (version {done.version}), "
        f"{done.source_rows} source rows; {verb} {len(done.keys)} rows whose value differed"
        + (f" (keys {keys})" if done.keys else "")
    )
    for ledger_key in done.ledger_keys:
        click.echo(f"loaded as {ledger_key} in the load ledger")
    if done.unloaded:
        click.echo(
            f"{len(done.unloaded)} source rows with a value are not in the warehouse yet (in "
            "flight); if the previous processor wrote them, run this again once caught up"
        )
    if done.remaining:
        click.echo(
            f"{len(done.remaining)} rows still differ (changes in flight, or a joined row whose "
            "other side is newer): run it again once caught up"
        )
        sys.exit(1)


def _print_repair(fixed: repair.RepairReport, dry_run: bool, samples: int) -> None:
    def some(keys: list) -> str:
        more = ", ..." if len(keys) > samples else ""
        return ", ".join(map(str, keys[:samples])) + more

    verb = "would write" if dry_run else "wrote"
    click.echo(
        f"snapshot at {fixed.snapshot_lsn} (version {fixed.version}): "
        f"{fixed.found.differences} differences found"
    )
    for table, keys in sorted(fixed.rows.items()):
        click.echo(f"{table}: {verb} {len(keys)} rows (keys {some(keys)})")
    for table, problems in sorted(fixed.not_repaired.items()):
        for kind, keys in sorted(problems.items()):
            click.echo(f"{table}: not repaired: {kind}: {len(keys)} ({some(keys)})")
    if not fixed.rows:
        click.echo("nothing to repair")
    elif fixed.ledger_key:
        click.echo(f"loaded as {fixed.ledger_key} in the load ledger")
    if fixed.remaining is not None and fixed.remaining.differences:
        click.echo(
            f"{fixed.remaining.differences} differences remain: changes still in flight, or a "
            "joined row whose other side is newer than the snapshot; run again once caught up"
        )


@main.group("rejected")
@click.option(
    "--bucket",
    envvar="TOTESYS_CDC_BATCH_BUCKET",
    help="The batch bucket; default $TOTESYS_CDC_BATCH_BUCKET.",
)
@click.pass_context
def rejected_group(ctx: click.Context, bucket: str | None) -> None:
    """Rows the warehouse refused (s3://BUCKET/loader-rejected/): list, show, redrive."""
    ctx.obj = bucket


def _store(bucket: str | None) -> S3Store:
    if not bucket:
        click.echo("error: say which bucket: --bucket or TOTESYS_CDC_BATCH_BUCKET", err=True)
        sys.exit(2)
    return S3Store(boto3.client("s3"), bucket)


def _chosen(
    store: S3Store, table: str | None, reason: str | None, manifest: str | None
) -> list[tuple[str, rejected.RejectedRow]]:
    try:
        return list(rejected.letters(store, table=table, reason=reason, manifest=manifest))
    except rejected.RejectedLetterError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


_FILTERS = [
    click.option("--table", default=None, help="Only this table's rows."),
    click.option("--reason", default=None, help="Only letters whose reason contains TEXT."),
    click.option("--manifest", default=None, help="Only rows of manifests whose key starts so."),
]


def _filtered(command: click.Command) -> click.Command:
    for option in reversed(_FILTERS):
        command = option(command)
    return command


@rejected_group.command("list")
@_filtered
@click.pass_obj
def rejected_list(
    bucket: str | None, table: str | None, reason: str | None, manifest: str | None
) -> None:
    """One line per refused row: key, table, SQLSTATE, attempts, reason."""
    store = _store(bucket)
    chosen = _chosen(store, table, reason, manifest)
    for key, letter in chosen:
        click.echo(f"{key}\t{letter.table}\t{letter.sqlstate}\t{letter.attempts}\t{letter.reason}")
    click.echo(f"{len(chosen)} rows refused", err=True)


@rejected_group.command("show")
@click.argument("key")
@click.pass_obj
def rejected_show(bucket: str | None, key: str) -> None:
    """The letter at KEY (JSON: the row's values under "row"; correct them in place, then
    redrive)."""
    store = _store(bucket)
    try:
        letter = rejected.RejectedRow.from_json(store.get(key))
    except rejected.RejectedLetterError as exc:
        click.echo(f"error: {key}: {exc}", err=True)
        sys.exit(1)
    except ObjectMissing:
        click.echo(f"error: no letter {key}", err=True)
        sys.exit(1)
    click.echo(letter.to_json().decode())


@rejected_group.command("redrive")
@_filtered
@click.option("--dry-run", is_flag=True, help="List the rows that would be loaded; load none.")
@click.pass_obj
def rejected_redrive(
    bucket: str | None, table: str | None, reason: str | None, manifest: str | None, dry_run: bool
) -> None:
    """Load the chosen refused rows through the loader's own path (after a fix in the
    warehouse or in the letters); exit 1 if some are refused again."""
    store = _store(bucket)
    chosen = _chosen(store, table, reason, manifest)
    if dry_run or not chosen:
        for key, letter in chosen:
            click.echo(f"would load {key} ({letter.table})")
        click.echo(f"{len(chosen)} rows to redrive")
        return
    warehouse = _warehouse()
    try:
        done = redrive.redrive(
            warehouse.connection(), store, chosen, history=warehouse.config.history
        )
    except rejected.RejectedLetterError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except psycopg.OperationalError as exc:
        click.echo(f"error: cannot reach the warehouse: {str(exc).splitlines()[0]}", err=True)
        sys.exit(1)
    for table, count in sorted(done.rows.items()):
        click.echo(f"{table}: {count} rows loaded")
    for key, why in sorted(done.still_refused.items()):
        click.echo(f"still refused: {key}: {why}")
    click.echo(
        f"{len(done.landed)} loaded ({', '.join(done.ledger_keys)}), "
        f"{len(done.still_refused)} still refused"
    )
    sys.exit(1 if done.still_refused else 0)


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

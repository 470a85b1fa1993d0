"""``stream-processor``: run the KCL daemon with the star-schema processor; replay shards."""

from __future__ import annotations

import json
import signal
import socket
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import boto3
import click
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.table import Table

from contracts.batches import CAUSES, DEAD_LETTER_PREFIX, DeadLetter, S3Store
from contracts.events import log, warning
from stream_processor import config as processor_config
from stream_processor import daemon, dead_letters, lease_table, shard_health, startup
from stream_processor import replay as replay_mod
from stream_processor.join_state.dynamodb import DynamoJoinState, ensure_table

EXIT_STALLED = 3  # ``status --check``: a shard is stalled (1: the state could not be read)


@click.group()
def main() -> None:
    """The stream processor (settings from TOTESYS_CDC_* variables: docs/stream-processor.md)."""


@main.command()
@click.option(
    "--properties",
    "properties_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(".local/kcl/totesys-star-schema.properties"),
    show_default=True,
)
@click.option(
    "--record-processor",
    default=daemon.RECORD_PROCESSOR,
    show_default=True,
    help="The Python module the daemon runs as each shard's record processor.",
)
def run(properties_path: Path, record_processor: str) -> None:
    """Write the KCL properties and run the MultiLangDaemon (the container's entry point).

    SIGTERM and SIGINT are passed to the daemon, which shuts its record processors down
    (each commits and checkpoints). Once it has exited, the leases it still owns are released
    so the other workers take them at once: KCL 3.1 leaves them owned until they expire.

    A daemon that exits on its own (a record processor stopped its shard: an edge failed, or
    the breaker tripped) is restarted with the same worker id, after 1 s doubling to 60 s
    while it keeps exiting (``daemon.Restarts``); each exit is a ``daemon_exited`` event.

    While the daemon runs, each start-up step seen in the lease table is logged as a
    ``startup`` event with the seconds since this command started (``stream_processor.startup``)."""
    started = time.monotonic()
    for sig in (signal.SIGTERM, signal.SIGINT):  # until the daemon runs: stop at once
        signal.signal(sig, lambda signum, _frame: sys.exit(128 + signum))
    try:
        cfg = processor_config.load()
        if not cfg.stream_name:
            raise processor_config.ConfigError("TOTESYS_CDC_STREAM_NAME is not set")
        worker_id = cfg.worker_id or f"{socket.gethostname()}-{uuid.uuid4()}"
        dynamodb = boto3.client("dynamodb")
        ensure_table(dynamodb, cfg.state_table)
        startup.startup_event(started, step="join_state_table_ready", table=cfg.state_table)
        settings = daemon.settings_for(cfg, record_processor, worker_id=worker_id)
        argv = daemon.prepare(settings, properties_path, cfg.kcl_max_heap_mb)
    except (processor_config.ConfigError, daemon.DaemonSetupError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)

    def watch(exited: threading.Event) -> None:
        startup.startup_event(started, step="daemon_started", worker=worker_id)
        startup.watch(dynamodb, cfg.application_name, cfg.state_table, worker_id, started, exited)

    code = daemon.supervise(argv, watch, restarts=daemon.Restarts())
    try:
        released = lease_table.release(dynamodb, cfg.application_name, worker_id)
    except lease_table.LeaseTableError:  # the daemon never made its lease table: nothing to release
        released = []
    except (BotoCoreError, ClientError) as exc:  # they expire on their own: a warning
        warning("leases_not_released", worker=worker_id, error=str(exc))
        sys.exit(code)
    log("leases_released", worker=worker_id, shards=released, daemon_exit=code)
    sys.exit(code)


@main.group()
def replay() -> None:
    """Read, save and reset the shards' checkpoints (the KCL lease table)."""


def _config() -> processor_config.ProcessorConfig:
    try:
        return processor_config.load()
    except processor_config.ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@replay.command("list")
def replay_list() -> None:
    """Every shard's checkpoint, owner (since when) and lag.

    "owner since" is when the owner's `stream-processor run` saw it take the lease (the lease
    table keeps no time; see stream_processor/startup.py); "-" for an owner that recorded none."""
    cfg = _config()
    table = Table(title=f"checkpoints of {cfg.application_name}")
    columns = ("shard", "checkpoint", "owner", "owner since", "lease counter", "behind latest")
    for column in columns:
        table.add_column(column, no_wrap=column == "shard", overflow="fold")
    dynamodb = boto3.client("dynamodb")
    try:
        leases = lease_table.leases(dynamodb, cfg.application_name)
        since = startup.owners_since(dynamodb, cfg.state_table, cfg.application_name, leases)
        now = datetime.now(UTC)
        lags = _lags(cfg, leases)
        for lease in leases:
            lag = lags[lease.shard_id]
            table.add_row(
                lease.shard_id,
                str(lease.checkpoint),
                str(lease.owner),
                (
                    f"{since[lease.shard_id]:%Y-%m-%d %H:%M:%S}Z "
                    f"({(now - since[lease.shard_id]).total_seconds():.0f}s)"
                    if lease.shard_id in since
                    else "-"
                ),
                str(lease.counter),
                "-" if lag is None else f"{lag / 1000:.1f}s",
            )
    except lease_table.LeaseTableError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    Console().print(table)


def _lags(
    cfg: processor_config.ProcessorConfig, leases: list[lease_table.Lease]
) -> dict[str, int | None]:
    """Shard → how far its checkpoint is behind the newest record (ms; None: unknown)."""
    kinesis = boto3.client("kinesis") if cfg.stream_name else None
    return {
        lease.shard_id: lease_table.lag_ms(kinesis, cfg.stream_name, lease) if kinesis else None
        for lease in leases
    }


def _ago(moment: datetime | None, now: datetime) -> str:
    return "-" if moment is None else f"{(now - moment).total_seconds():.0f}s ago"


@main.command()
@click.option("--check", is_flag=True, help=f"Exit {EXIT_STALLED} if any shard is stalled.")
def status(check: bool) -> None:
    """Each shard's state: ok, behind (catching up) or stalled (records wait behind its
    checkpoint and it has stopped since its last commit, or not committed for
    TOTESYS_CDC_STALL_AFTER_S), with its last commit and its last stop's reason
    (``stream_processor/shard_health.py``). ``--check`` exits 3 when one is stalled, 1 when
    the state cannot be read."""
    cfg = _config()
    dynamodb = boto3.client("dynamodb")
    try:
        leases = lease_table.leases(dynamodb, cfg.application_name)
        lags = _lags(cfg, leases)
        health = shard_health.DynamoHealth(dynamodb, cfg.state_table, cfg.application_name).read(
            [lease.shard_id for lease in leases]
        )
    except lease_table.LeaseTableError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except (BotoCoreError, ClientError) as exc:
        click.echo(f"error: cannot read the shards' state: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)
    table = Table(title=f"shards of {cfg.application_name}")
    for column in ("shard", "state", "owner", "behind latest", "last commit", "last stop"):
        table.add_column(column, no_wrap=column == "shard", overflow="fold")
    now, stalled = datetime.now(UTC), []
    for lease in leases:
        h, lag = health.get(lease.shard_id), lags[lease.shard_id]
        state = shard_health.state(h, lag, cfg.stall_after_s)
        if state.startswith("stalled"):
            stalled.append(lease.shard_id)
        table.add_row(
            lease.shard_id,
            state,
            str(lease.owner),
            "-" if lag is None else f"{lag / 1000:.1f}s",
            _ago(h.last_commit_at if h else None, now),
            f"{_ago(h.stopped_at, now)}: {h.stop_reason}" if h and h.stopped_at else "-",
        )
    Console().print(table)
    if check and stalled:
        sys.exit(EXIT_STALLED)


@replay.command("save")
@click.argument("name")
def replay_save(name: str) -> None:
    """Record every shard's current checkpoint under NAME."""
    cfg = _config()
    try:
        saved = replay_mod.save(
            boto3.client("dynamodb"), cfg.state_table, cfg.application_name, name
        )
    except lease_table.LeaseTableError as exc:  # a ReplayError is one
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    for shard, checkpoint in sorted(saved.items()):
        click.echo(f"saved {name}: {shard} at {checkpoint}")


@replay.command("reset")
@click.option(
    "--shard", "shards", multiple=True, help="Shard to reset (repeatable); all shards by default."
)
@click.option(
    "--trim-horizon", "position", flag_value="TRIM_HORIZON", help="From the oldest record kept."
)
@click.option(
    "--latest", "position", flag_value="LATEST", help="Only records arriving from now on."
)
@click.option("--sequence", default=None, help="Resume after this sequence number.")
@click.option(
    "--timestamp", default=None, help="Resume at the first record at or after this ISO time."
)
@click.option(
    "--saved", "saved_name", default=None, help="Resume from checkpoints saved under this name."
)
@click.option("--force", is_flag=True, help="Take the leases from live workers.")
def replay_reset(
    shards: tuple[str, ...],
    position: str | None,
    sequence: str | None,
    timestamp: str | None,
    saved_name: str | None,
    force: bool,
) -> None:
    """Move checkpoints; the next worker to take each lease starts from there."""
    cfg = _config()
    chosen = [x for x in (position, sequence, timestamp, saved_name) if x]
    if len(chosen) != 1:
        click.echo(
            "error: give exactly one of --trim-horizon, --latest, --sequence, --timestamp, --saved",
            err=True,
        )
        sys.exit(2)
    dynamodb, kinesis = boto3.client("dynamodb"), boto3.client("kinesis")
    try:
        every = [lease.shard_id for lease in lease_table.leases(dynamodb, cfg.application_name)]
        selected = list(shards) or every
        if saved_name:
            saved = replay_mod.saved(dynamodb, cfg.state_table, cfg.application_name, saved_name)
            targets = {s: saved[s] or "TRIM_HORIZON" for s in selected if s in saved}
        elif timestamp:
            moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            targets = {
                s: replay_mod.sequence_before(kinesis, cfg.stream_name, s, moment) for s in selected
            }
        else:
            targets = dict.fromkeys(selected, position or sequence)
        changes = replay_mod.reset(dynamodb, cfg.application_name, targets, force=force)
    except lease_table.LeaseTableError as exc:  # a ReplayError is one
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    for c in changes:
        took = f" (lease taken from {c.took_lease_from})" if c.took_lease_from else ""
        click.echo(f"{c.shard_id}: checkpoint {c.before} -> {c.after}{took}")


@main.group("dead-letters")
def dead_letters_group() -> None:
    """List, show and redrive dead-lettered records (nothing is ever deleted)."""


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


_CAUSE = click.Choice(list(CAUSES))


@dead_letters_group.command("list")
@click.option("--reason", default=None, help="Only letters whose reason contains this text.")
@click.option("--cause", type=_CAUSE, default=None, help="Only letters of this cause.")
@click.option("--since", default=None, help="Only letters dead-lettered at or after (ISO time).")
def dead_letters_list(reason: str | None, cause: str | None, since: str | None) -> None:
    """Every dead letter not yet redriven: its cause, where it was, why."""
    cfg = _config()
    store = S3Store(boto3.client("s3"), cfg.bucket)
    table = Table(title=f"dead letters in s3://{cfg.bucket}/{DEAD_LETTER_PREFIX}/")
    for column in ("key", "cause", "at", "reason"):
        table.add_column(column, overflow="fold")
    found = list(dead_letters.letters(store, reason=reason, cause=cause, since=_since(since)))
    for key, letter in found:
        table.add_row(key, letter.cause, letter.dead_lettered_at.isoformat(), letter.reason)
    Console().print(table)
    click.echo(f"{len(found)} dead letters")


@dead_letters_group.command("show")
@click.argument("key")
def dead_letters_show(key: str) -> None:
    """One dead letter in full (its raw record as text)."""
    cfg = _config()
    store = S3Store(boto3.client("s3"), cfg.bucket)
    letter = DeadLetter.from_json(store.get(key))
    click.echo(json.dumps(json.loads(letter.to_json()), indent=1))


@dead_letters_group.command("redrive")
@click.option("--reason", default=None, help="Only letters whose reason contains this text.")
@click.option("--cause", type=_CAUSE, default=None, help="Only letters of this cause.")
@click.option("--since", default=None, help="Only letters dead-lettered at or after (ISO time).")
@click.option("--dry-run", is_flag=True, help="Say what would land and what still fails.")
def dead_letters_redrive(
    reason: str | None, cause: str | None, since: str | None, dry_run: bool
) -> None:
    """Run the chosen letters through the current code into an ordinary manifest."""
    cfg = _config()
    store = S3Store(boto3.client("s3"), cfg.bucket)
    state = DynamoJoinState(boto3.client("dynamodb"), cfg.state_table)
    chosen = list(dead_letters.letters(store, reason=reason, cause=cause, since=_since(since)))
    result = dead_letters.redrive(
        store, state, chosen, dry_run=dry_run, compression=cfg.compression, strict=cfg.strict
    )
    verb = "would land" if dry_run else "landed"
    click.echo(f"{len(chosen)} letters chosen; {len(result.landed)} {verb}: rows {result.rows}")
    for key, why in sorted(result.still_failing.items()):
        click.echo(f"still failing: {key}: {why}")
    if result.manifest_key:
        click.echo(f"manifest: {result.manifest_key} (the loader takes it from here)")


if __name__ == "__main__":
    main()

"""Dead letters: classed by cause, listed, and redriven through the current code; an old
redriven version never overwrites a newer one in the warehouse."""

from __future__ import annotations

import json

import psycopg
import pytest
from click.testing import CliRunner

import stream_processor.shard
from contracts.batches import (
    BAD_RECORD,
    PROCESSOR_ERROR,
    REDRIVEN_PREFIX,
    DeadLetter,
    Manifest,
    MemoryStore,
    S3Store,
)
from local_stack.services.config import WAREHOUSE
from stream_processor import dead_letters
from stream_processor.cli import main as cli
from stream_processor.config import ProcessorConfig
from stream_processor.join_state.memory import MemoryJoinState
from stream_processor.shard import ShardProcessor
from stream_processor.transform import transform
from tests.fixtures import unique_name
from tests.stream_processor.fixtures import T0, record
from warehouse_loader import migrations
from warehouse_loader.load import load_manifest

CONFIG = ProcessorConfig(bucket="b", state_table="s", max_batch_age_s=3600)
DESIGN = {
    "design_id": 2,
    "design_name": "Wooden",
    "file_location": "/usr",
    "file_name": "wooden.json",
    "created_at": T0,
    "last_updated": T0,
}


def strict_about_designs(change, view):
    """A rule later relaxed: this release refuses designs (a bug in our own code)."""
    if change.table == "design":
        raise ValueError("designs are not supported yet")
    return transform(change, view)


def dead_lettered(store, monkeypatch, *raws: bytes) -> None:
    monkeypatch.setattr(stream_processor.shard, "transform", strict_about_designs)
    shard = ShardProcessor("shardId-000000000001", MemoryJoinState(), store, CONFIG)
    for seq, raw in enumerate(raws, 1):
        shard.process(str(seq), "k", raw)
    shard.commit(lambda _seq: True)
    monkeypatch.undo()


def test_letters_are_classed_by_cause_and_redriven_once_the_rule_is_relaxed(monkeypatch):
    store = MemoryStore()
    dead_lettered(
        store,
        monkeypatch,
        record("design", DESIGN, commit=0x10),
        b"\x00garbage",
        record("design", {**DESIGN, "design_id": 3, "design_name": "Steel"}, commit=0x11),
    )
    found = dict(dead_letters.letters(store))
    assert sorted(letter.cause for letter in found.values()) == [
        BAD_RECORD,
        PROCESSOR_ERROR,
        PROCESSOR_ERROR,
    ]
    assert [k for k, _ in dead_letters.letters(store, cause=BAD_RECORD)] == [
        k for k, v in found.items() if v.reason.startswith("not JSON")
    ]

    chosen = list(dead_letters.letters(store))
    dry = dead_letters.redrive(store, MemoryJoinState(), chosen, dry_run=True)
    assert len(dry.landed) == 2 and len(dry.still_failing) == 1 and dry.manifest_key is None
    assert len(list(dead_letters.letters(store))) == 3, "a dry run moves nothing"

    done = dead_letters.redrive(store, MemoryJoinState(), chosen)
    manifest = Manifest.from_json(store.get(done.manifest_key))
    assert [(f.table, f.rows) for f in manifest.files] == [("dim_design", 2)]
    assert manifest.shard_id == dead_letters.redrive_shard_id([k for k, _ in chosen])
    [(left, letter)] = dead_letters.letters(store)
    assert letter.cause == BAD_RECORD and left in done.still_failing
    redriven = [DeadLetter.from_json(store.get(k)) for k in store.keys(REDRIVEN_PREFIX + "/")]
    assert len(redriven) == 2 and all(r.redriven["manifest"] == done.manifest_key for r in redriven)


@pytest.mark.stack
def test_an_older_redriven_version_never_overwrites_a_newer_one(fresh_database, monkeypatch):
    dsn = fresh_database("warehouse", cluster=WAREHOUSE)
    with psycopg.connect(dsn) as conn:
        migrations.apply(conn)
    store = MemoryStore()
    dead_lettered(
        store, monkeypatch, record("design", {**DESIGN, "design_name": "Old"}, commit=0x10)
    )
    newer = ShardProcessor("shardId-000000000002", MemoryJoinState(), store, CONFIG)
    newer.process(
        "1", "k", record("design", {**DESIGN, "design_name": "New"}, "update", commit=0x20)
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        load_manifest(conn, store, newer.commit(lambda _seq: True).manifest_key)
        done = dead_letters.redrive(store, MemoryJoinState(), list(dead_letters.letters(store)))
        assert load_manifest(conn, store, done.manifest_key).staged == {"dim_design": 1}
        assert conn.execute("SELECT design_name FROM dim_design").fetchone() == ("New",)


@pytest.mark.stack
def test_the_cli_lists_causes_and_redrives_from_s3(stack_cfg, aws_client, monkeypatch):
    bucket = unique_name("dl-bucket")
    s3 = aws_client("s3")
    s3.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": stack_cfg.region}
    )
    ddb = aws_client("dynamodb")
    state_table = unique_name("dl-state")
    from stream_processor.join_state.dynamodb import ensure_table

    ensure_table(ddb, state_table)
    dead_lettered(S3Store(s3, bucket), monkeypatch, record("design", DESIGN, commit=0x10), b"junk")
    env = {
        **stack_cfg.aws_env(),
        "TOTESYS_CDC_BATCH_BUCKET": bucket,
        "TOTESYS_CDC_STATE_TABLE": state_table,
        "COLUMNS": "200",
    }
    runner = CliRunner()
    listed = runner.invoke(cli, ["dead-letters", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "processor_error" in listed.output and "bad_record" in listed.output
    assert "2 dead letters" in listed.output
    key = s3.list_objects_v2(Bucket=bucket, Prefix="dead-letters/")["Contents"][0]["Key"]
    shown = runner.invoke(cli, ["dead-letters", "show", key], env=env)
    assert json.loads(shown.output)["sequence_number"] in ("1", "2")
    dry = runner.invoke(cli, ["dead-letters", "redrive", "--dry-run"], env=env)
    assert "1 would land" in dry.output and "still failing" in dry.output, dry.output
    done = runner.invoke(cli, ["dead-letters", "redrive", "--cause", "processor_error"], env=env)
    assert (
        done.exit_code == 0
        and "1 landed" in done.output
        and "manifest: manifests/redrive-" in (done.output)
    ), done.output
    after = runner.invoke(cli, ["dead-letters", "list"], env=env)
    assert "1 dead letters" in after.output and "bad_record" in after.output

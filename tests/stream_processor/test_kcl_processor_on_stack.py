"""The star-schema processor under the real KCL MultiLangDaemon, on the local stack."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import pytest

from contracts.star_schema import schema_of
from local_stack.services.config import app_env
from local_stack.services.processes import wait_until
from stream_processor import config, daemon
from stream_processor.join_state.dynamodb import ensure_table
from tests.fixtures import unique_name
from tests.processor_log import checked_events
from tests.stream_processor.fixtures import DEPT, SALE, STAFF, record

pytestmark = [pytest.mark.stack, pytest.mark.kcl]
SHARD_HASH = {0: "0", 1: str(2**127)}  # explicit hash keys that land on shard 0 / shard 1


def client_env(env: dict[str, str]) -> dict[str, str]:
    """boto3 client arguments for the local stack described by ``env``."""
    return {
        "endpoint_url": env["AWS_ENDPOINT_URL"],
        "region_name": env["AWS_REGION"],
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
    }


class Processor:
    """``stream-processor run`` (the daemon and its record processors) in its own session."""

    def __init__(self, env: dict[str, str], work: Path) -> None:
        self.env, self.work = env, work
        self.log = work / "processor.log"
        self.proc: subprocess.Popen | None = None

    def start(self, **extra_env: str) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "stream_processor.cli",
                    "run",
                    "--properties",
                    str(self.work / "kcl.properties"),
                ],
                env={**self.env, **extra_env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start_crashing(self) -> None:
        """The daemon, driving ``kill_after_manifest`` instead of the production processor."""
        cfg = config.load(self.env)
        settings = daemon.settings_for(cfg, "tests.stream_processor.kill_after_manifest")
        ensure_table(boto3.client("dynamodb", **client_env(self.env)), cfg.state_table)
        argv = daemon.prepare(settings, self.work / "crashing.properties")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                argv,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        """SIGTERM to the daemon alone (``run`` became it): it asks each record processor to
        shut down (flush, checkpoint) and releases its leases and leadership."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=90)
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    def wait_exit(self, timeout_s: float = 120) -> None:
        self.proc.wait(timeout=timeout_s)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # any record processor left behind


@pytest.fixture
def pipeline(stack_cfg, aws_client, tmp_path):
    stream, bucket, table, app = (
        unique_name(p) for p in ("sp-stream", "sp-bucket", "sp-state", "sp-app")
    )
    kinesis, s3 = aws_client("kinesis"), aws_client("s3")
    kinesis.create_stream(StreamName=stream, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.2})
    s3.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": stack_cfg.region}
    )
    env = {
        **os.environ,
        **app_env(stack_cfg),
        "TOTESYS_CDC_STREAM_NAME": stream,
        "TOTESYS_CDC_BATCH_BUCKET": bucket,
        "TOTESYS_CDC_STATE_TABLE": table,
        "TOTESYS_CDC_KCL_APPLICATION": app,
        "TOTESYS_CDC_MAX_BATCH_AGE_S": "0.5",
    }
    processor = Processor(env, tmp_path)
    last: dict[str, str] = {}

    def put(shard: int, data: bytes) -> None:
        out = kinesis.put_record(
            StreamName=stream,
            Data=data,
            PartitionKey=f"k{shard}",
            ExplicitHashKey=SHARD_HASH[shard],
        )
        last[out["ShardId"]] = out["SequenceNumber"]

    def checkpoints() -> dict[str, str]:
        items = aws_client("dynamodb").scan(TableName=app, ConsistentRead=True)["Items"]
        return {i["leaseKey"]["S"]: i.get("checkpoint", {}).get("S") for i in items}

    def wait_processed(timeout_s: float = 150) -> None:
        wait_until(
            lambda: _safe(checkpoints) == last,
            what="checkpoints at the last record of each shard",
            timeout_s=timeout_s,
            log_path=processor.log,
        )

    def outputs() -> tuple[list[dict], dict[str, list[dict]], list[dict]]:
        keys = [
            o["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for o in page.get("Contents", [])
        ]
        manifests = [
            json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read())
            for k in keys
            if k.startswith("manifests/")
        ]
        rows: dict[str, list[dict]] = {}
        for manifest in manifests:
            for f in manifest["files"]:
                body = s3.get_object(Bucket=bucket, Key=f["key"])["Body"].read()
                table = pq.read_table(io.BytesIO(body))
                assert table.schema.equals(schema_of(f["table"]), check_metadata=False)
                assert table.num_rows == f["rows"]
                rows.setdefault(f["table"], []).extend(table.to_pylist())
        dead = [
            json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read())
            for k in keys
            if k.startswith("dead-letters/")
        ]
        return manifests, rows, dead

    yield type(
        "Pipeline",
        (),
        {
            "put": staticmethod(put),
            "processor": processor,
            "last": last,
            "checkpoints": staticmethod(checkpoints),
            "wait_processed": staticmethod(wait_processed),
            "outputs": staticmethod(outputs),
        },
    )
    processor.stop()


def _safe(read):  # noqa: ANN001, ANN202 - the lease table appears a few seconds after start
    try:
        return read()
    except Exception:  # noqa: BLE001
        return None


def latest(rows: list[dict], key: str) -> dict:
    best: dict = {}
    for r in rows:
        rank = (r["cdc_version"], r.get("cdc_joined_version") or 0)
        if r[key] not in best or rank > best[r[key]][0]:
            best[r[key]] = (rank, r)
    return {k: v[1] for k, v in best.items()}


def put_story(p) -> None:  # noqa: ANN001
    """Joins across shards, both ways round, a fact, and one poison record."""
    p.put(0, record("staff", STAFF, commit=0x100))  # staff before its department
    p.put(0, record("staff", {**STAFF, "staff_id": 11, "department_id": 2}, commit=0x110))
    p.put(
        1,
        record("department", {**DEPT, "department_id": 2, "department_name": "Ops"}, commit=0x105),
    )
    p.put(1, record("department", DEPT, commit=0x130))  # ... arriving on the other shard
    p.put(
        1,
        record(
            "department",
            {**DEPT, "department_id": 2, "department_name": "Renamed"},
            "update",
            commit=0x140,
        ),
    )
    p.put(0, record("sales_order", SALE, commit=0x120))
    p.put(0, b"\x00not a DMS record")


def test_records_on_two_shards_become_the_expected_parquet_rows_and_checkpoints(pipeline):
    put_story(pipeline)
    pipeline.processor.start()
    pipeline.wait_processed()
    listed = subprocess.run(
        [sys.executable, "-m", "stream_processor.cli", "replay", "list"],
        env={**pipeline.processor.env, "COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    pipeline.processor.stop()
    manifests, rows, dead = pipeline.outputs()

    staff = latest(rows["dim_staff"], "staff_id")
    assert (staff[10]["department_name"], staff[10]["location"]) == ("Sales", "Manchester")
    assert staff[11]["department_name"] == "Renamed"
    [fact] = rows["fact_sales_order"]
    assert (fact["sales_order_id"], fact["units_sold"], str(fact["unit_price"])) == (7, 100, "3.80")
    assert "dim_date" not in rows, "the loader derives dim_date"
    assert (
        len(dead) == 1
        and dead[0]["reason"].startswith("not JSON")
        and base64.b64decode(dead[0]["raw_base64"]) == b"\x00not a DMS record"
    )
    # checkpoints equal the last flushed sequence of each shard, and manifests cover every record
    for shard, seq in pipeline.last.items():
        shard_manifests = [m for m in manifests if m["shard_id"] == shard]
        assert pipeline.checkpoints()[shard] == seq
        # a shard whose records produced no rows (departments before their staff) has no manifest
        assert max((int(m["last_sequence_number"]) for m in shard_manifests), default=0) <= int(seq)
    # Which shard the KCL serves first is not ours to choose. Shard 0's staff and sale make
    # rows, so its manifests cover them (the poison record may end a rows-less batch). Shard
    # 1's departments make rows only if their staff are already in the join state: served
    # first, they make none and no manifest (staff 10 and 11 then join them at their own turn,
    # asserted above); served after, a batch covering all three.
    shard0, shard1 = pipeline.last  # in the order put_story first put to them
    covered = {
        s: sum(m["records"] for m in manifests if m["shard_id"] == s) for s in (shard0, shard1)
    }
    assert covered[shard0] in (3, 4), covered
    assert covered[shard1] in (0, 3), covered  # put before start: one read, one batch

    # Both shards' owner, and since when (the watch in `run` records it: the lease table
    # keeps no time of ownership).
    owned_since = [line for line in listed.splitlines() if "shardId-" in line]
    assert len(owned_since) == 2 and all(
        datetime.now(UTC).strftime("%Y-%m-%d") in line for line in owned_since
    ), listed

    # The processor's log: every event once, at its own level; no ERROR line (nothing failed:
    # the poison record is bad data, a WARNING); start-up steps with their times.
    parsed = checked_events(pipeline.processor.log)
    assert {e["level"] for e in parsed} == {"INFO", "WARNING"}
    assert [e["reason"][:8] for e in parsed if e["event"] == "dead_letter"] == ["not JSON"]
    assert {"batch_committed", "checkpointed", "first_records"} <= {e["event"] for e in parsed}
    assert " INFO [" in pipeline.processor.log.read_text(), "the daemon's own lines, levelled"
    steps = [(e["step"], e.get("shard")) for e in parsed if e["event"] == "startup"]
    for step in (
        "join_state_table_ready",
        "daemon_started",
        "lease_table_present",
        "leases_created",
    ):
        assert (step, None) in steps
    for shard in pipeline.last:
        assert ("lease_taken", shard) in steps and ("first_checkpoint", shard) in steps
    elapsed = [e["elapsed_s"] for e in parsed if e["event"] == "startup"]
    assert elapsed == sorted(elapsed)
    print("start-up:", [(s, sh, t) for (s, sh), t in zip(steps, elapsed, strict=True)])


@pytest.mark.timeout(480)
def test_a_crash_between_flush_and_checkpoint_loses_nothing_and_repeats_identical_rows(pipeline):
    put_story(pipeline)
    # The processor kills its daemon (and itself) right after its first manifest, before checkpointing.
    pipeline.processor.start_crashing()
    pipeline.processor.wait_exit()
    first_manifests, _, _ = pipeline.outputs()
    assert first_manifests, "the fault fires after a manifest is written"
    # No record a manifest covers was checkpointed: the crash came between the two. (A shard
    # whose records made no rows writes no manifest and may have checkpointed before it.)
    checkpoints = _safe(pipeline.checkpoints) or {}
    for manifest in first_manifests:
        taken = checkpoints.get(manifest["shard_id"])
        assert taken in (None, "TRIM_HORIZON") or int(taken) < int(
            manifest["first_sequence_number"]
        ), (manifest["shard_id"], taken)

    pipeline.processor.start()
    # the crashed worker held KCL 3's leader lock, which expires after 2 minutes
    pipeline.wait_processed(timeout_s=360)
    manifests, rows, _ = pipeline.outputs()
    by_key: dict = {}
    for r in rows["dim_staff"]:
        by_key.setdefault((r["staff_id"], r["cdc_version"], r["cdc_joined_version"]), []).append(r)
    assert all(
        len({json.dumps(v, default=str, sort_keys=True) for v in same}) == 1
        for same in by_key.values()
    )
    assert latest(rows["dim_staff"], "staff_id")[11]["department_name"] == "Renamed"
    assert {r["sales_order_id"] for r in rows["fact_sales_order"]} == {7}


def test_a_replay_from_a_saved_checkpoint_reprocesses_the_same_records_into_identical_rows(
    pipeline,
):
    def cli(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "stream_processor.cli", "replay", *args],
            env=pipeline.processor.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    put_story(pipeline)
    pipeline.processor.start()
    pipeline.wait_processed()
    pipeline.processor.stop()
    cli("save", "before-b")
    later = [{**SALE, "sales_order_id": 8}, {**SALE, "sales_order_id": 9, "units_sold": 5}]
    pipeline.processor.start()
    for i, sale in enumerate(later):
        pipeline.put(i % 2, record("sales_order", sale, commit=0x200 + 16 * i))
    pipeline.wait_processed()
    pipeline.processor.stop()
    manifests_before, before_replay, _ = pipeline.outputs()

    printed = cli("reset", "--saved", "before-b")
    assert printed.count("checkpoint") == 2 and "->" in printed
    assert "shardId-000000000000" in cli("list")
    pipeline.processor.start()
    pipeline.wait_processed()
    manifests_after, after_replay, _ = pipeline.outputs()

    def facts(rows: dict) -> list[str]:
        return sorted(
            json.dumps(r, default=str, sort_keys=True)
            for r in rows["fact_sales_order"]
            if r["sales_order_id"] in (8, 9)
        )

    def written(manifests: list[dict]) -> dict:
        return {(m["shard_id"], m["first_sequence_number"]): m["written_at"] for m in manifests}

    # B's records were processed again: their batches were written again, under the same keys
    # (deterministic from shard and sequence range), with identical rows.
    rewritten = [
        k for k, at in written(manifests_after).items() if at != written(manifests_before).get(k)
    ]
    assert rewritten, "the replay wrote B's batches again"
    assert written(manifests_after).keys() == written(manifests_before).keys()
    assert len(facts(after_replay)) == 2
    assert set(facts(after_replay)) == set(facts(before_replay)), "the replayed rows are identical"

"""The real KCL MultiLangDaemon (Java) against the local Kinesis and DynamoDB emulation."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from local_stack.harness.kcl import Daemon
from local_stack.services.processes import wait_until
from stream_processor.daemon import DaemonSettings
from tests.fixtures import unique_name

pytestmark = [pytest.mark.stack, pytest.mark.kcl]

RECORDS_PER_SHARD_KEY = 25


def _events(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_daemon_delivers_every_record_and_checkpoints_each_shard_at_its_last_sequence(
    stack_cfg, aws_client, tmp_path
):
    kinesis = aws_client("kinesis")
    dynamodb = aws_client("dynamodb")
    stream = unique_name("kcl-smoke")
    kinesis.create_stream(StreamName=stream, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.2})

    sent: dict[str, list[str]] = {}  # shard -> sequence numbers, in order
    payloads = set()
    for i in range(2 * RECORDS_PER_SHARD_KEY):
        data = f"record-{i}"
        put = kinesis.put_record(StreamName=stream, Data=data.encode(), PartitionKey=f"key-{i % 7}")
        sent.setdefault(put["ShardId"], []).append(put["SequenceNumber"])
        payloads.add(data)
    assert len(sent) == 2, "the partition keys should spread records over both shards"

    out = tmp_path / "events.jsonl"
    processor = Path(__file__).with_name("echo_processor.py")
    app = unique_name("kcl-smoke-app")
    daemon = Daemon(
        stack_cfg,
        DaemonSettings(
            stream_name=stream,
            application_name=app,
            executable=f"{sys.executable} {processor} {out}",
            region=stack_cfg.region,
        ),
        work_dir=tmp_path,
    )
    started = time.monotonic()
    daemon.start()
    try:
        first = wait_until(
            lambda: any(e["event"] == "record" for e in _events(out)),
            what="the first record at the processor",
            timeout_s=120,
            log_path=daemon.log_path,
        )
        wait_until(
            lambda: {e["data"] for e in _events(out) if e["event"] == "record"} >= payloads,
            what="every record at the processor",
            timeout_s=60,
            log_path=daemon.log_path,
        )

        def checkpoints() -> dict[str, str]:
            items = dynamodb.scan(TableName=app, ConsistentRead=True)["Items"]
            return {item["leaseKey"]["S"]: item["checkpoint"]["S"] for item in items}

        expected = {shard: seqs[-1] for shard, seqs in sent.items()}
        wait_until(
            lambda: checkpoints() == expected,
            what="lease-table checkpoints at each shard's last sequence",
            timeout_s=30,
            log_path=daemon.log_path,
        )
    finally:
        exit_code = daemon.stop()

    print(
        f"KCL daemon: first record reached the processor {first:.1f}s after start "
        f"({time.monotonic() - started:.1f}s in all)"
    )
    received = [e for e in _events(out) if e["event"] == "record"]
    for shard, seqs in sent.items():
        assert [e["seq"] for e in received if e["shard"] == shard] == seqs, (
            f"{shard} out of order or duplicated"
        )
    assert {e["data"] for e in received} == payloads
    assert exit_code == 143, "the JVM reports a SIGTERM shutdown as 128 + 15"
    assert daemon.graceful_shutdown_completed()
    shut_down = {e["shard"] for e in _events(out) if e["event"] == "shutdown_requested"}
    assert shut_down == set(sent), "every shard's processor is asked to shut down"
    assert not daemon.running()

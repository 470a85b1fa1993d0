"""The local stack: loopback only, idempotent, every emulated service answering."""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from local_stack.services import aws, stack
from local_stack.services import config as stack_config
from local_stack.services.processes import (
    PrerequisiteMissing,
    StackError,
    require_executable,
    wait_until,
)
from stream_processor import config as processor_config
from tests.fixtures import ROOT, unique_name
from warehouse_loader import config as loader_config


def _listeners_on(port: int) -> set[str]:
    """Local addresses listening on ``port``, read from /proc/net/tcp{,6}."""
    found = set()
    for name, width in (("tcp", 4), ("tcp6", 16)):
        for line in Path(f"/proc/net/{name}").read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] != "0A" or int(port_hex, 16) != port:  # 0A = LISTEN
                continue
            raw = bytes.fromhex(address)
            # /proc prints each 32-bit word little-endian
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, width, 4))
            found.add(str(ipaddress.ip_address(raw)))
    return found


@pytest.mark.stack
def test_every_service_listens_on_loopback_only(stack_cfg):
    for port in (stack_cfg.pg_port, stack_cfg.warehouse_pg_port, stack_cfg.aws_port):
        assert _listeners_on(port) == {"127.0.0.1"}, port


@pytest.mark.stack
def test_the_stack_provides_the_stream_the_capture_engine_writes_to(stack_cfg, aws_client):
    summary = aws_client("kinesis").describe_stream_summary(StreamName=stack_cfg.stream_name)
    assert summary["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE"
    assert summary["StreamDescriptionSummary"]["OpenShardCount"] == stack_cfg.stream_shards


@pytest.mark.stack
def test_bringing_the_stack_up_again_reuses_the_running_services(stack_cfg):
    aws_pid = aws.pid(stack_cfg)
    statuses = stack.up(stack_cfg)
    assert all(s.healthy for s in statuses)
    assert aws.pid(stack_cfg) == aws_pid


@pytest.mark.stack
def test_the_source_and_the_warehouse_are_two_clusters_each_with_its_own_roles(stack_cfg):
    """As in AWS: ToteSys's cluster decodes logically and holds ToteSys's roles only; the
    warehouse's cluster holds the warehouse and its roles only."""
    with psycopg.connect(stack_cfg.pg_dsn("postgres")) as conn:
        assert conn.execute("SHOW wal_level").fetchone()[0] == "logical"
        assert int(conn.execute("SHOW max_replication_slots").fetchone()[0]) >= 10
        source_dbs = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
        source_roles = {r[0] for r in conn.execute("SELECT rolname FROM pg_roles")}
        source_id = conn.execute("SELECT system_identifier FROM pg_control_system()").fetchone()
    with psycopg.connect(stack_cfg.pg_dsn("postgres", cluster=stack_config.WAREHOUSE)) as conn:
        warehouse_dbs = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
        warehouse_roles = {r[0] for r in conn.execute("SELECT rolname FROM pg_roles")}
        warehouse_id = conn.execute("SELECT system_identifier FROM pg_control_system()").fetchone()
    assert source_id != warehouse_id
    assert "totesys" in source_dbs and "warehouse" not in source_dbs
    assert "warehouse" in warehouse_dbs and "totesys" not in warehouse_dbs
    source_side = {"totesys_owner", "totesys_app", "totesys_capture"}
    warehouse_side = {"warehouse_owner", "warehouse_loader", "warehouse_analyst"}
    assert source_side <= source_roles and not warehouse_side & source_roles
    assert warehouse_side <= warehouse_roles and not source_side & warehouse_roles


@pytest.mark.stack
def test_the_emulation_serves_every_aws_service_the_pipeline_uses(aws_client):
    name = unique_name("svc")
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    s3.put_object(Bucket=name, Key="k", Body=b"v")
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"v"
    sqs = aws_client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "hello"
    ddb = aws_client("dynamodb")
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert ddb.describe_table(TableName=name)["Table"]["TableName"] == name
    secrets = aws_client("secretsmanager")
    secrets.create_secret(Name=name, SecretString="s3cr3t")
    assert secrets.get_secret_value(SecretId=name)["SecretString"] == "s3cr3t"
    sns = aws_client("sns")
    assert sns.create_topic(Name=name)["TopicArn"].endswith(name)
    cloudwatch = aws_client("cloudwatch")
    cloudwatch.put_metric_data(Namespace=name, MetricData=[{"MetricName": "m", "Value": 1.0}])
    assert cloudwatch.list_metrics(Namespace=name)["Metrics"][0]["MetricName"] == "m"
    kinesis = aws_client("kinesis")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    assert (
        kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "OpenShardCount"
        ]
        == 1
    )


def test_config_reads_the_documented_variables():
    cfg = stack_config.load(
        {
            "TOTESYS_CDC_PG_PORT": "6000",
            "TOTESYS_CDC_WAREHOUSE_PG_PORT": "6002",
            "TOTESYS_CDC_AWS_PORT": "6001",
            "TOTESYS_CDC_STATE_DIR": "/tmp/x",
            "TOTESYS_CDC_REGION": "us-east-1",
        }
    )
    assert (cfg.pg_port, cfg.aws_port, str(cfg.state_dir), cfg.region) == (
        6000,
        6001,
        "/tmp/x",
        "us-east-1",
    )
    assert cfg.aws_endpoint == "http://127.0.0.1:6001"
    env = stack_config.app_env(cfg)
    assert (
        env["TOTESYS_CDC_SOURCE_DSN"]
        == "host=127.0.0.1 port=6000 user=totesys_capture dbname=totesys"
    )
    assert env["TOTESYS_CDC_SOURCE_APP_DSN"].endswith("user=totesys_app dbname=totesys")
    assert (
        env["TOTESYS_CDC_WAREHOUSE_DSN"]
        == "host=127.0.0.1 port=6002 user=warehouse_loader dbname=warehouse"
    )
    assert env["TOTESYS_CDC_WAREHOUSE_OWNER_DSN"].endswith("user=warehouse_owner dbname=warehouse")
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:6001"
    # the processes it is given to run as local, and agree with the endpoint
    assert env["TOTESYS_CDC_ENVIRONMENT"] == cfg.aws_env()["TOTESYS_CDC_ENVIRONMENT"] == "local"
    processor = processor_config.load(
        {**env, "TOTESYS_CDC_BATCH_BUCKET": "b", "TOTESYS_CDC_STATE_TABLE": "s"}
    )
    assert (processor.environment, processor.endpoint_url) == ("local", "http://127.0.0.1:6001")
    assert loader_config.load(env).environment == "local"
    assert env["TOTESYS_CDC_STREAM_NAME"] == "totesys-changes"
    assert env["TOTESYS_CDC_CAPTURE_STATE_DIR"] == "/tmp/x/capture"
    defaults = stack_config.load({})
    assert (defaults.pg_port, defaults.warehouse_pg_port, defaults.aws_port) == (
        55432,
        55433,
        54566,
    )
    with pytest.raises(stack_config.ConfigError, match="each need a port of their own"):
        stack_config.load({"TOTESYS_CDC_WAREHOUSE_PG_PORT": "55432"})


def test_a_missing_tool_is_reported_with_what_to_install():
    with pytest.raises(PrerequisiteMissing, match="apt install frobnicator"):
        require_executable("frobnicator-that-does-not-exist", "apt install frobnicator")


def test_the_prerequisite_check_names_every_missing_tool_at_once(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("id", "dirname"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    (bin_dir / "python3").symlink_to(os.path.realpath(sys.executable))
    result = subprocess.run(
        ["/bin/bash", str(ROOT / "tools/check-prereqs.sh")],
        capture_output=True,
        text=True,
        env={"PATH": str(bin_dir), "TOTESYS_CDC_PG_BIN": str(tmp_path)},
    )
    assert result.returncode == 1
    assert "Java 17+" in result.stderr and "Maven" in result.stderr
    assert "Python 3.11+" not in result.stderr


def test_readiness_waits_time_out_with_what_was_awaited_and_where_to_look(tmp_path):
    with pytest.raises(
        StackError, match=r"timed out after 0s waiting for the moon; see .*moon.log"
    ):
        wait_until(lambda: False, what="the moon", timeout_s=0.2, log_path=tmp_path / "moon.log")


@pytest.mark.stack
def test_the_repaired_kinesis_shard_pages_through_records_in_order_without_loss(aws_client):
    kinesis = aws_client("kinesis")
    name = unique_name("paging")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2})
    for start in range(0, 1200, 400):
        kinesis.put_records(
            StreamName=name,
            Records=[
                {"Data": str(i).encode(), "PartitionKey": "k"} for i in range(start, start + 400)
            ],
        )
    shard = kinesis.list_shards(StreamName=name)["Shards"][0]
    assert shard["SequenceNumberRange"]["StartingSequenceNumber"] == "1"
    iterator = kinesis.get_shard_iterator(
        StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    seen: list[int] = []
    while True:
        page = kinesis.get_records(ShardIterator=iterator, Limit=250)
        if not page["Records"]:
            break
        seen += [int(r["Data"]) for r in page["Records"]]
        iterator = page["NextShardIterator"]
    assert seen == list(range(1200))
    after = kinesis.get_shard_iterator(
        StreamName=name,
        ShardId=shard["ShardId"],
        ShardIteratorType="AFTER_SEQUENCE_NUMBER",
        StartingSequenceNumber="1000",
    )
    assert [
        int(r["Data"]) for r in kinesis.get_records(ShardIterator=after["ShardIterator"])["Records"]
    ] == list(range(1000, 1200))


@pytest.mark.stack
def test_kinesis_records_come_back_byte_for_byte_with_their_arrival_in_milliseconds(aws_client):
    """GetRecords and PutRecords answer through local_stack.services.moto_app's own JSON, not moto's
    serializer: the data, keys, sequence numbers and arrival times must be what Kinesis
    gives."""
    kinesis = aws_client("kinesis")
    name = unique_name("bytes")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2})
    payloads = [bytes(range(256)), b"\x00", "é ✓ \u2028".encode(), b'{"json": "\\"quoted\\""}']
    before = datetime.now(UTC)
    put = kinesis.put_records(
        StreamName=name,
        Records=[{"Data": d, "PartitionKey": f"k/{i} é"} for i, d in enumerate(payloads)],
    )
    assert put["FailedRecordCount"] == 0
    assert [r["SequenceNumber"] for r in put["Records"]] == ["1", "2", "3", "4"]
    iterator = kinesis.get_shard_iterator(
        StreamName=name, ShardId=put["Records"][0]["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    page = kinesis.get_records(ShardIterator=iterator)
    assert [r["Data"] for r in page["Records"]] == payloads
    assert [r["PartitionKey"] for r in page["Records"]] == [f"k/{i} é" for i in range(4)]
    assert [r["SequenceNumber"] for r in page["Records"]] == ["1", "2", "3", "4"]
    for record in page["Records"]:
        arrived = record["ApproximateArrivalTimestamp"]
        assert arrived.microsecond % 1000 == 0
        assert before - timedelta(seconds=1) <= arrived <= datetime.now(UTC)
    assert page["MillisBehindLatest"] == 0 and page["NextShardIterator"]


def _read_shard(kinesis: Any, stream: str, shard_id: str) -> tuple[list[str], dict[str, Any]]:  # noqa: ANN401
    """Every record's data in one shard, and the last GetRecords response."""
    iterator = kinesis.get_shard_iterator(
        StreamName=stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    seen: list[str] = []
    for _ in range(100):
        page = kinesis.get_records(ShardIterator=iterator, Limit=100)
        seen += [r["Data"].decode() for r in page["Records"]]
        iterator = page.get("NextShardIterator")
        if iterator is None or not page["Records"]:
            return seen, page
    raise AssertionError(f"{shard_id} did not end")


@pytest.mark.stack
def test_resharding_keeps_each_record_in_one_shard_and_ends_closed_shards_with_their_children(
    aws_client,
):
    """What the KCL relies on at a split and a merge (see local_stack/services/moto_app.py): parents keep
    their records, new records go to the open children only, and reading a closed shard to its
    end gives no next iterator and the child shards with their parents."""
    kinesis, name = aws_client("kinesis"), unique_name("reshard")
    kinesis.create_stream(StreamName=name, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2})

    def put(tag: str) -> None:
        kinesis.put_records(
            StreamName=name,
            Records=[{"Data": f"{tag}{i}".encode(), "PartitionKey": f"k{i}"} for i in range(200)],
        )

    put("a")
    shards = {s["ShardId"]: s for s in kinesis.list_shards(StreamName=name)["Shards"]}
    first, second = sorted(shards)
    low = int(shards[first]["HashKeyRange"]["StartingHashKey"])
    high = int(shards[first]["HashKeyRange"]["EndingHashKey"])
    kinesis.split_shard(
        StreamName=name, ShardToSplit=first, NewStartingHashKey=str((low + high) // 2)
    )
    put("b")
    after_split = {s["ShardId"]: s for s in kinesis.list_shards(StreamName=name)["Shards"]}
    children = sorted(s for s, d in after_split.items() if d.get("ParentShardId") == first)
    assert len(children) == 2
    # Only the second (still open) parent and the two children take new records.
    with pytest.raises(kinesis.exceptions.InvalidArgumentException):
        kinesis.merge_shards(StreamName=name, ShardToMerge=first, AdjacentShardToMerge=second)
    with pytest.raises(kinesis.exceptions.InvalidArgumentException):
        kinesis.merge_shards(
            StreamName=name, ShardToMerge=children[0], AdjacentShardToMerge=second
        )  # not adjacent: the first child's range ends halfway through the first parent's
    kinesis.merge_shards(StreamName=name, ShardToMerge=children[1], AdjacentShardToMerge=second)
    put("c")
    listed = {s["ShardId"]: s for s in kinesis.list_shards(StreamName=name)["Shards"]}
    merged = [s for s, d in listed.items() if d.get("AdjacentParentShardId")]
    assert len(merged) == 1 and listed[merged[0]]["ParentShardId"] == children[1]

    contents = {shard: _read_shard(kinesis, name, shard) for shard in listed}
    everything = [data for records, _ in contents.values() for data in records]
    # Every record in exactly one shard: nothing moved, nothing copied.
    assert sorted(everything) == sorted(f"{t}{i}" for t in "abc" for i in range(200))
    assert all(d.startswith("a") for d in contents[first][0])
    assert all(d[0] in "ab" for d in contents[second][0])
    assert all(d[0] in "bc" for d in contents[children[0]][0])
    assert all(d.startswith("c") for d in contents[merged[0]][0])
    # The end of a closed shard names its children; open shards go on.
    _, end = contents[first]
    assert "NextShardIterator" not in end
    assert sorted(c["ShardId"] for c in end["ChildShards"]) == children
    assert all(c["ParentShards"] == [first] for c in end["ChildShards"])
    _, end = contents[second]
    assert [(c["ShardId"], c["ParentShards"]) for c in end["ChildShards"]] == [
        (merged[0], [children[1], second])
    ]
    _, end = contents[merged[0]]
    assert end.get("NextShardIterator") and not end.get("ChildShards")


@pytest.mark.stack
def test_long_polls_do_not_hold_up_other_calls(aws_client):
    """Loader runners long-poll SQS; the emulation serves other calls meanwhile: Kinesis's on
    the event loop, and S3's and SQS's on the request threads the polls leave free (Python's
    default pool, 6 threads on 2 cores, made every call wait for a poll to end)."""
    sqs, kinesis, s3 = aws_client("sqs"), aws_client("kinesis"), aws_client("s3")
    url = sqs.create_queue(QueueName=unique_name("polls"))["QueueUrl"]
    polls = [
        threading.Thread(target=sqs.receive_message, kwargs={"QueueUrl": url, "WaitTimeSeconds": 5})
        for _ in range(12)
    ]
    for poll in polls:
        poll.start()
    time.sleep(0.5)  # every poll is waiting on the empty queue
    for _ in range(5):
        kinesis.list_streams()
        s3.list_buckets()
        sqs.list_queues()
    assert all(poll.is_alive() for poll in polls), "a call waited for a long poll to end"
    for poll in polls:
        poll.join()

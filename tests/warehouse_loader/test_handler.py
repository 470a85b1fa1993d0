"""The Lambda handler: SQS events of S3 notifications, partial batch failures, secrets, and
the local runner end to end (S3 → SQS → handler → warehouse) on the local stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import zipfile

import boto3
import psycopg
import pytest
from botocore.config import Config

from bench.lambda_runtime import boto3_folder
from contracts.batches import S3Store
from contracts.retry import Backoff
from local_stack.services import postgres
from local_stack.services.config import WAREHOUSE
from local_stack.services.processes import wait_until
from stream_processor.config import ProcessorConfig
from stream_processor.join_state.memory import MemoryJoinState
from stream_processor.shard import ShardProcessor
from tests.fixtures import unique_name
from tests.stream_processor.fixtures import SALE, record
from warehouse_loader import handler as lambda_handler
from warehouse_loader import migrations, runner

pytestmark = pytest.mark.stack


@pytest.fixture
def loader(stack_cfg, aws_client, monkeypatch):
    """A warehouse set up as a deployment's is: the owner migrates it (its own step), the
    Lambda connects as the loader role."""
    name = unique_name("warehouse").replace("-", "_")
    postgres.ensure_roles(stack_cfg)
    postgres.create_warehouse_database(stack_cfg, name)
    dsns = stack_cfg.warehouse_dsns(name)
    with psycopg.connect(dsns["TOTESYS_CDC_WAREHOUSE_OWNER_DSN"]) as conn:
        migrations.apply(conn)
    dsn = dsns["TOTESYS_CDC_WAREHOUSE_DSN"]
    bucket = unique_name("batches")
    s3 = aws_client("s3")
    s3.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": stack_cfg.region}
    )
    for key, value in stack_cfg.aws_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TOTESYS_CDC_WAREHOUSE_DSN", dsn)
    monkeypatch.delenv("TOTESYS_CDC_WAREHOUSE_SECRET_ARN", raising=False)
    monkeypatch.setattr(lambda_handler, "_WAREHOUSE", None)
    store = S3Store(s3, bucket)
    pipeline = ShardProcessor(
        "shardId-000000000000",
        MemoryJoinState(),
        store,
        ProcessorConfig(bucket=bucket, state_table="s"),
    )
    counter = iter(range(1, 10_000))

    def manifest(*raws: bytes) -> str:
        for raw in raws:
            pipeline.process(str(next(counter)), "k", raw)
        return pipeline.commit(lambda _seq: True).manifest_key

    yield type(
        "Loader",
        (),
        {
            "dsn": dsn,
            "admin_dsn": stack_cfg.pg_dsn(name, cluster=WAREHOUSE),
            "bucket": bucket,
            "s3": s3,
            "manifest": staticmethod(manifest),
        },
    )
    postgres.drop_database(stack_cfg, name)


def s3_notification(bucket: str, key: str) -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": bucket}, "object": {"key": key, "eTag": "e"}},
                }
            ]
        }
    )


def sqs_event(*bodies: str) -> dict:
    return {
        "Records": [
            {"messageId": f"m{i}", "receiptHandle": "r", "body": b, "eventSource": "aws:sqs"}
            for i, b in enumerate(bodies)
        ]
    }


def fact_count(dsn: str) -> int:
    """Facts loaded so far (0 before the loader's first connection has created the schema)."""
    with psycopg.connect(dsn) as conn:
        if conn.execute("SELECT to_regclass('fact_sales_order')").fetchone()[0] is None:
            return 0
        return conn.execute("SELECT count(*) FROM fact_sales_order").fetchone()[0]


def test_one_corrupt_manifest_in_three_fails_alone_and_the_others_load(loader):
    good1 = loader.manifest(record("sales_order", SALE, commit=0x10))
    bad = loader.manifest(record("sales_order", {**SALE, "sales_order_id": 8}, commit=0x11))
    good2 = loader.manifest(record("sales_order", {**SALE, "sales_order_id": 9}, commit=0x12))
    bad_file = json.loads(loader.s3.get_object(Bucket=loader.bucket, Key=bad)["Body"].read())[
        "files"
    ][0]["key"]
    loader.s3.put_object(Bucket=loader.bucket, Key=bad_file, Body=b"corrupt")

    result = lambda_handler.handler(
        sqs_event(*(s3_notification(loader.bucket, k) for k in (good1, bad, good2)))
    )
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    with psycopg.connect(loader.dsn) as conn:
        assert {r[0] for r in conn.execute("SELECT sales_order_id FROM fact_sales_order")} == {7, 9}
        assert conn.execute("SELECT count(*) FROM cdc_load_ledger").fetchone()[0] == 2


def test_five_messages_one_malformed_one_without_files_the_three_good_ones_load(loader):
    good = [
        loader.manifest(record("sales_order", {**SALE, "sales_order_id": n}, commit=0x10 + n))
        for n in (7, 8, 9)
    ]
    no_files = "manifests/shardId-000000000000/no-files.json"
    raw = json.loads(loader.s3.get_object(Bucket=loader.bucket, Key=good[0])["Body"].read())
    raw.pop("files")
    loader.s3.put_object(Bucket=loader.bucket, Key=no_files, Body=json.dumps(raw).encode())
    bodies = [
        s3_notification(loader.bucket, good[0]),
        "{not json",
        s3_notification(loader.bucket, good[1]),
        s3_notification(loader.bucket, no_files),
        s3_notification(loader.bucket, good[2]),
    ]
    result = lambda_handler.handler(sqs_event(*bodies))
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}]}
    assert fact_count(loader.dsn) == 3


DESIGN = {
    "design_id": 1,
    "design_name": "Wooden",
    "file_location": "/usr",
    "file_name": "wooden.json",
    "created_at": SALE["created_at"],
    "last_updated": SALE["created_at"],
}


def test_a_real_deadlock_with_another_writer_is_retried_and_the_manifest_loads(loader, capsys):
    """Another transaction holds design 2 and then wants design 1, while the load holds design
    1 and wants design 2: PostgreSQL breaks the cycle by failing the load (its deadlock check
    fires first: the other session waits 20 s before checking), and the handler retries."""

    def designs(commit: int, name: str) -> str:
        return loader.manifest(
            *(
                record(
                    "design",
                    {**DESIGN, "design_id": d, "design_name": name},
                    "update",
                    commit=commit + d,
                )
                for d in (1, 2)
            )
        )

    first = designs(0x10, "Old")
    assert lambda_handler.handler(sqs_event(s3_notification(loader.bucket, first))) == {
        "batchItemFailures": []
    }
    newer = designs(0x20, "New")
    with psycopg.connect(loader.admin_dsn) as other:  # deadlock_timeout: a superuser's
        other.execute("SET deadlock_timeout = '20s'")
        other.execute("UPDATE dim_design SET file_name = 'held' WHERE design_id = 2")
        results: list[dict] = []
        load = threading.Thread(
            target=lambda: results.append(
                lambda_handler.handler(sqs_event(s3_notification(loader.bucket, newer)))
            )
        )
        load.start()
        wait_until(
            lambda: (
                other.execute(  # pg_locks is the cluster's: only this database's waits count
                    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                    " WHERE NOT l.granted AND l.locktype = 'transactionid'"
                    " AND a.datname = current_database()"
                ).fetchone()[0]
                > 0
            ),
            what="the load to wait on design 2",
            timeout_s=30,
        )
        other.execute("UPDATE dim_design SET file_name = 'held' WHERE design_id = 1")
        other.commit()
        load.join(timeout=60)
    assert results == [{"batchItemFailures": []}]
    logged = capsys.readouterr().err
    assert "load_retried" in logged and "DeadlockDetected" in logged
    with psycopg.connect(loader.dsn) as conn:
        assert conn.execute("SELECT design_name FROM dim_design ORDER BY 1").fetchall() == [
            ("New",),
            ("New",),
        ]


def test_s3_throttling_is_retried_and_a_throttling_that_lasts_is_reported_retryable(
    loader, monkeypatch, capsys
):
    from botocore.exceptions import ClientError

    lambda_handler._warehouse()
    s3, throttled = lambda_handler._S3, {"left": 1}
    real_get = s3.get_object

    def slow_down(**kwargs):
        if throttled["left"]:
            throttled["left"] -= 1
            raise ClientError(
                {
                    "Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."},
                    "ResponseMetadata": {"HTTPStatusCode": 503},
                },
                "GetObject",
            )
        return real_get(**kwargs)

    monkeypatch.setattr(lambda_handler, "LOAD_BACKOFF", Backoff(first_s=0.01, attempts=3))
    monkeypatch.setattr(s3, "get_object", slow_down)
    key = loader.manifest(record("sales_order", SALE, commit=0x10))
    assert lambda_handler.handler(sqs_event(s3_notification(loader.bucket, key))) == {
        "batchItemFailures": []
    }
    assert fact_count(loader.dsn) == 1

    throttled["left"] = 99
    key = loader.manifest(record("sales_order", {**SALE, "sales_order_id": 8}, commit=0x20))
    capsys.readouterr()
    assert lambda_handler.handler(sqs_event(s3_notification(loader.bucket, key))) == {
        "batchItemFailures": [{"itemIdentifier": "m0"}]
    }
    failed = [
        json.loads(line)
        for line in capsys.readouterr().err.splitlines()
        if "manifest_failed" in line
    ]
    assert failed[0]["retryable"] is True and "SlowDown" in failed[0]["error"]


def run_status() -> subprocess.CompletedProcess:
    """``warehouse-loader status`` as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "warehouse_tools.cli", "status"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=60,
    )


def test_status_does_not_take_the_migration_lock(loader):
    lambda_handler.handler(sqs_event())
    lambda_handler._warehouse().connection()
    with psycopg.connect(loader.dsn) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (migrations.LOCK_KEY,))
        result = run_status()
    assert result.returncode == 0, result.stderr
    assert "load ledger: 0 manifests" in result.stdout


def test_a_direct_s3_event_loads_and_a_redelivery_is_a_no_op(loader):
    key = loader.manifest(record("sales_order", SALE, commit=0x10))
    event = json.loads(s3_notification(loader.bucket, key.replace(":", "%3A")))
    assert lambda_handler.handler(event) == {"batchItemFailures": []}
    assert lambda_handler.handler(sqs_event(s3_notification(loader.bucket, key))) == {
        "batchItemFailures": []
    }
    assert fact_count(loader.dsn) == 1


def test_credentials_come_from_secrets_manager_and_never_reach_the_logs(
    loader, aws_client, monkeypatch, capsys
):
    params = psycopg.conninfo.conninfo_to_dict(loader.dsn)
    secret = aws_client("secretsmanager").create_secret(
        Name=unique_name("warehouse"),
        SecretString=json.dumps(
            {
                "host": params["host"],
                "port": params["port"],
                "username": params["user"],
                "password": "s3cr3t-value",
                "dbname": params["dbname"],
            }
        ),
    )
    monkeypatch.delenv("TOTESYS_CDC_WAREHOUSE_DSN")
    monkeypatch.setenv("TOTESYS_CDC_WAREHOUSE_SECRET_ARN", secret["ARN"])
    monkeypatch.setattr(lambda_handler, "_WAREHOUSE", None)
    key = loader.manifest(record("sales_order", SALE, commit=0x10))
    assert lambda_handler.handler(sqs_event(s3_notification(loader.bucket, key))) == {
        "batchItemFailures": []
    }
    assert fact_count(loader.dsn) == 1
    logged = capsys.readouterr()
    assert "manifest_loaded" in logged.err, "the log was captured"
    assert "s3cr3t-value" not in logged.out + logged.err


def test_a_dropped_connection_is_remade(loader):
    lambda_handler.handler(
        sqs_event(
            s3_notification(
                loader.bucket, loader.manifest(record("sales_order", SALE, commit=0x10))
            )
        )
    )
    lambda_handler._WAREHOUSE.connection().close()
    key = loader.manifest(record("sales_order", {**SALE, "sales_order_id": 8}, commit=0x20))
    assert lambda_handler.handler(sqs_event(s3_notification(loader.bucket, key))) == {
        "batchItemFailures": []
    }
    assert fact_count(loader.dsn) == 2


def test_the_local_runner_loads_what_s3_announces_through_sqs(loader, aws_client):
    sqs = aws_client("sqs")
    queue_url = sqs.create_queue(QueueName=unique_name("manifests"))["QueueUrl"]
    runner.wire_bucket_to_queue(loader.s3, sqs, loader.bucket, queue_url)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(sqs, queue_url, stop))
    thread.start()
    try:
        loader.manifest(record("sales_order", SALE, commit=0x10))
        wait_until(
            lambda: fact_count(loader.dsn) == 1,
            what="the fact loaded via S3 → SQS → handler",
            timeout_s=30,
        )
    finally:
        stop.set()
        thread.join()
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert (
        attributes["ApproximateNumberOfMessages"] == "0"
        and attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
    )


def test_status_reports_the_ledger_and_freshness(loader):
    lambda_handler.handler(
        sqs_event(
            s3_notification(
                loader.bucket, loader.manifest(record("sales_order", SALE, commit=0x10))
            )
        )
    )
    result = run_status()
    assert result.returncode == 0, result.stderr
    assert "load ledger: 1 manifests" in result.stdout and "fact_sales_order" in result.stdout


PACKAGED_RUN = """
import importlib, json, pkgutil, sys
sys.path[:0] = [sys.argv[1], sys.argv[3]]  # -I -S: no site-packages, no PYTHONPATH
import contracts, warehouse_loader
for package in (contracts, warehouse_loader):  # every module shipped imports there
    for module in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
from warehouse_loader import handler
import psycopg, pyarrow
assert all(m.__file__.startswith(sys.argv[1]) for m in (handler, psycopg, pyarrow))
print(json.dumps(handler.handler(json.loads(sys.argv[2]))))
"""


def test_the_lambda_package_loads_a_manifest_with_nothing_but_itself_and_boto3(loader, tmp_path):
    """``make package``'s script, built for this interpreter, unzipped and run in an
    interpreter that sees only the package and the boto3 the Lambda runtime provides."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    subprocess.run(
        [f"{root}/tools/package-lambda.sh", sys.executable, tmp_path / "l.zip", tmp_path / "b"],
        check=True,
        env={**os.environ, "LAMBDA_PYTHON_VERSION": version},
        capture_output=True,
    )
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(tmp_path / "l.zip").extractall(unpacked)
    assert not (unpacked / "boto3").exists() and (unpacked / "warehouse_loader/migrations").is_dir()
    assert not (unpacked / "stream_processor").exists() and (unpacked / "contracts").is_dir()
    runtime = boto3_folder(tmp_path / "runtime")  # what the Lambda runtime adds
    key = loader.manifest(record("sales_order", SALE, commit=0x10))
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            PACKAGED_RUN,
            str(unpacked),
            json.dumps(sqs_event(s3_notification(loader.bucket, key))),
            str(runtime),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"batchItemFailures": []}
    assert fact_count(loader.dsn) == 1


def test_the_runner_outlives_an_unreachable_queue_endpoint(capsys):
    sqs = boto3.client(
        "sqs",
        endpoint_url="http://127.0.0.1:9",  # nothing listens on the discard port
        region_name="eu-west-2",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto-style dummy, no request succeeds
        config=Config(retries={"max_attempts": 1}),
    )
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(sqs, "http://127.0.0.1:9/q", stop))
    thread.start()
    wait_until(lambda: "poll_failed" in capsys.readouterr().err, what="a failed poll", timeout_s=10)
    assert thread.is_alive()
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()

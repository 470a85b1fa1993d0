"""Factories shared by the tests."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from pathlib import Path

from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]  # the repository


def unique_name(prefix: str) -> str:
    """A resource name no other test uses (valid for S3 buckets, streams, tables, databases)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def read_stream(kinesis, stream: str) -> list[dict]:
    """Every record on every shard of ``stream``, oldest first per shard, decoded, with its
    shard, sequence number and partition key under ``_kinesis``."""
    import json

    out = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            response = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            for record in response["Records"]:
                body = json.loads(record["Data"])
                body["_kinesis"] = {
                    "shard": shard["ShardId"],
                    "seq": record["SequenceNumber"],
                    "key": record["PartitionKey"],
                    "raw": record["Data"],
                }
                out.append(body)
            if not response["Records"]:
                break
            iterator = response.get("NextShardIterator")
    return out


def create_dms_task(dms, name: str) -> dict:
    """A full-load-and-cdc DMS task built from cdc's documents, with its instance and endpoints."""
    import json

    from cdc import dms_task

    instance = dms.create_replication_instance(
        ReplicationInstanceIdentifier=name, ReplicationInstanceClass="dms.t3.medium"
    )["ReplicationInstance"]["ReplicationInstanceArn"]
    source = dms.create_endpoint(
        EndpointIdentifier=f"{name}-source",
        EndpointType="source",
        EngineName="postgres",
        PostgreSQLSettings=dms_task.postgres_settings(),
    )["Endpoint"]["EndpointArn"]
    target = dms.create_endpoint(
        EndpointIdentifier=f"{name}-kinesis",
        EndpointType="target",
        EngineName="kinesis",
        KinesisSettings={
            **dms_task.kinesis_settings(),
            "StreamArn": "arn:aws:kinesis:eu-west-2:123456789012:stream/s",
            "ServiceAccessRoleArn": "arn:aws:iam::123456789012:role/dms",
        },
    )["Endpoint"]["EndpointArn"]
    return dms.create_replication_task(
        ReplicationTaskIdentifier=name,
        SourceEndpointArn=source,
        TargetEndpointArn=target,
        ReplicationInstanceArn=instance,
        MigrationType="full-load-and-cdc",
        TableMappings=json.dumps(dms_task.table_mappings()),
        ReplicationTaskSettings=json.dumps(dms_task.task_settings()),
    )["ReplicationTask"]


GRANT = re.compile(r"GRANT (?P<privileges>[A-Z, ]+) ON (?P<on>.+?) TO (?P<roles>.+)$")


def granted(statements: list[sql.Composable]) -> dict[str, set[tuple[str, str]]]:
    """What each role is granted by ``statements`` (a roles module's SQL, rendered): role →
    {(privilege, on)}, ``on`` one of database, schema, tables, sequences, and ``future tables``
    or ``future sequences`` for the default privileges of what the owner makes later."""
    out: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for statement in statements:
        text = statement.as_string(None)
        if not (match := GRANT.search(text)):
            continue
        on = match["on"].split()[0].lower()
        if on == "all":  # ALL TABLES IN SCHEMA public, ALL SEQUENCES IN SCHEMA public
            on = match["on"].split()[1].lower()
        if text.startswith("ALTER DEFAULT PRIVILEGES"):
            on = f"future {on}"
        for role in match["roles"].split(", "):
            for privilege in match["privileges"].split(", "):
                out[role.strip('"')].add((privilege, on))
    return dict(out)

"""Fixtures for the processor's tests: a lease table as the KCL writes it, beside a join-state
table (DynamoDB in moto)."""

from __future__ import annotations

import pytest

from stream_processor.join_state.dynamodb import ensure_table
from tests.fixtures import unique_name


@pytest.fixture
def tables(aws_client):
    ddb = aws_client("dynamodb")
    lease_table, state_table = unique_name("leases"), unique_name("state")
    ddb.create_table(
        TableName=lease_table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "leaseKey", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "leaseKey", "AttributeType": "S"}],
    )
    ensure_table(ddb, state_table)
    for shard, checkpoint, owner in (
        ("shardId-000000000000", "42", None),
        ("shardId-000000000001", "77", "worker-a"),
    ):
        item = {
            "leaseKey": {"S": shard},
            "checkpoint": {"S": checkpoint},
            "checkpointSubSequenceNumber": {"N": "0"},
            "leaseCounter": {"N": "5"},
            "pendingCheckpoint": {"S": "80"},
        }
        if owner:
            item["leaseOwner"] = {"S": owner}
        ddb.put_item(TableName=lease_table, Item=item)
    return ddb, lease_table, state_table

"""What only the DynamoDB join state does (the contract both stores keep is
``test_interface_contract``): the table is created by whichever worker starts first, and a
membership written once is not sent again."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from stream_processor.edge_errors import EdgeUnavailable
from stream_processor.join_state.dynamodb import DynamoJoinState, ensure_table
from stream_processor.join_state.interface import BatchWrites
from tests.fixtures import unique_name

pytestmark = pytest.mark.stack


class CreatedMeanwhile:
    """A DynamoDB client on which another worker creates the table between this worker's
    DescribeTable (not found) and its CreateTable."""

    def __init__(self, client: Any) -> None:  # noqa: ANN401 - boto3 client
        self.client = client

    def describe_table(self, TableName: str) -> Any:  # noqa: ANN401, N803 - boto3's names
        ensure_table(self.client, TableName)  # the other worker wins the race
        raise ClientError(
            {"Error": {"Code": "ResourceNotFoundException", "Message": "not yet"}},
            "DescribeTable",
        )

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401
        return getattr(self.client, name)


def test_a_worker_that_loses_the_race_to_create_the_table_uses_the_winners(aws_client):
    client, name = aws_client("dynamodb"), unique_name("state")
    ensure_table(CreatedMeanwhile(client), name)
    assert client.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE"


class CountingDynamoDB:
    """The real (moto) client, wrapped to note each membership ADD sent and to fail the ADDs
    of one parent on demand."""

    def __init__(self, client, failing: str | None = None) -> None:
        self.client, self.failing, self.adds = client, failing, []

    def __getattr__(self, name: str):
        return getattr(self.client, name)

    def update_item(self, **kwargs):
        pk = kwargs["Key"]["pk"]["S"]
        if pk.startswith("members#"):
            if pk == self.failing:
                raise EdgeUnavailable("join state unavailable: injected")
            self.adds.append((pk, tuple(kwargs["ExpressionAttributeValues"][":c"]["NS"])))
        return self.client.update_item(**kwargs)


def test_a_membership_written_once_is_not_sent_again_and_a_failed_one_is(aws_client):
    name = unique_name("join-state")
    ddb = aws_client("dynamodb")
    ensure_table(ddb, name)
    client = CountingDynamoDB(ddb, failing="members#address#3")
    state = DynamoJoinState(client, name)
    with pytest.raises(EdgeUnavailable):
        state.write_many(BatchWrites(members={("department", 1): {7}, ("address", 3): {20}}))
    client.failing = None
    state.write_many(BatchWrites(members={("department", 1): {7, 8}, ("address", 3): {20}}))
    state.write_many(BatchWrites(members={("department", 1): {7, 8}, ("address", 3): {20}}))
    assert sorted(client.adds) == [
        ("members#address#3", ("20",)),  # failed the first time: sent again
        ("members#department#1", ("7",)),
        ("members#department#1", ("8",)),  # 7 was known: only 8; the third batch sends none
    ]
    fresh = DynamoJoinState(ddb, name)  # another worker: what it reads is the table's
    assert fresh.members_many({("department", 1), ("address", 3)}) == {
        ("department", 1): {7, 8},
        ("address", 3): {20},
    }

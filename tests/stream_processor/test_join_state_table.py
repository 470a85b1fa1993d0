"""The join-state table is created by whichever worker starts first."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from stream_processor.join_state.dynamodb import ensure_table
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

"""Join state in DynamoDB, shared by every worker (see ``join_state`` for the contract).

One table, key ``pk``: ``row#<table>#<key>`` items hold a row's newest version and image
(a conditional write moves a row forward only), ``members#<table>#<key>`` items hold the
set of children referencing a parent (an atomic ADD). Reads are strongly consistent.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from stream_processor.join_state import Image, decode_image, encode_image


class DynamoJoinState:
    def __init__(self, client: Any, table_name: str) -> None:  # noqa: ANN401 - a boto3 DynamoDB client
        self.client = client
        self.table_name = table_name

    def put(self, table: str, key: int, version: int, image: Image | None) -> None:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": f"row#{table}#{key}"}},
                UpdateExpression="SET version = :v, image = :i",
                ConditionExpression="attribute_not_exists(version) OR version < :v",
                ExpressionAttributeValues={
                    ":v": {"N": str(version)},
                    ":i": {"S": encode_image(image)},
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def get(self, table: str, key: int) -> tuple[int, Image | None] | None:
        item = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": f"row#{table}#{key}"}}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        return int(item["version"]["N"]), decode_image(table, item["image"]["S"])

    def add_member(self, parent_table: str, parent_key: int, child_key: int) -> None:
        self.client.update_item(
            TableName=self.table_name,
            Key={"pk": {"S": f"members#{parent_table}#{parent_key}"}},
            UpdateExpression="ADD children :c",
            ExpressionAttributeValues={":c": {"NS": [str(child_key)]}},
        )

    def members(self, parent_table: str, parent_key: int) -> set[int]:
        item = self.client.get_item(
            TableName=self.table_name,
            Key={"pk": {"S": f"members#{parent_table}#{parent_key}"}},
            ConsistentRead=True,
        ).get("Item")
        return set() if item is None else {int(n) for n in item["children"]["NS"]}


def ensure_table(client: Any, table_name: str) -> None:  # noqa: ANN401
    """Create the state table (on-demand) if it does not exist; terraform owns it in AWS."""
    try:
        client.describe_table(TableName=table_name)
        return
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    client.create_table(
        TableName=table_name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )
    client.get_waiter("table_exists").wait(TableName=table_name)

"""The join state in DynamoDB, shared by every worker (``interface`` has the contract).

One table, key ``pk``: ``row#<table>#<key>`` items hold a row's newest version and image
(a conditional write moves a row forward only), ``members#<table>#<key>`` items hold the
set of children referencing a parent (an atomic ADD). Reads are strongly consistent.
A failure of a bulk call is raised classed (``edge_errors``): unavailable or refused.

A membership only ever grows (nothing removes a child from a set: ``transform`` checks a
child's current parent when it fans out), so once an ADD of (parent, child) has succeeded it
never needs sending again: each ``DynamoJoinState`` remembers the memberships it has written
(up to ``KNOWN_MEMBERS_MAX``) and leaves them out of later batches. A staff or counterparty
edit that keeps its department or address then costs one UpdateItem instead of two. "Write
your side before you read" still holds: the membership is in the table before the read.
Recreating the state table under running processors would break this (and much else): stop
them first (docs/operations.md).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from stream_processor.batch_get import batch_get
from stream_processor.edge_errors import EdgeRefused, classed
from stream_processor.join_state.codec import encode_image
from stream_processor.join_state.interface import BatchWrites, RowKey
from stream_processor.transform import Image

MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's item size limit: names and values, UTF-8
KNOWN_MEMBERS_MAX = 200_000  # (parent table, parent key, child) triples remembered, ~40 MB


class DynamoJoinState:
    """A ``JoinState`` (``interface``) in one table of DynamoDB."""

    def __init__(self, client: Any, table_name: str) -> None:  # noqa: ANN401 - a boto3 DynamoDB client
        self.client = client
        self.table_name = table_name
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="join-state")
        self._known_members: set[tuple[str, int, int]] = set()  # ADDs that have succeeded

    def _put(self, table: str, key: int, version: int, image: Image | None) -> None:
        pk, encoded = f"row#{table}#{key}", encode_image(image)
        size = sum(
            len(part.encode()) for part in ("pk", pk, "version", str(version), "image", encoded)
        )
        if size > MAX_ITEM_BYTES:
            # DynamoDB refuses the whole item ("Constraints in Amazon DynamoDB": Items), and
            # the record it is for fails. Checked before sending: a store that applied half of
            # a refused update (the local emulation sets the version without the image) would
            # then refuse the retry's condition and let the record through without its image.
            raise EdgeRefused(
                f"join state refused the request: the {table} {key} item would be {size} bytes,"
                f" over DynamoDB's {MAX_ITEM_BYTES}"
            )
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": pk}},
                UpdateExpression="SET version = :v, image = :i",
                ConditionExpression="attribute_not_exists(version) OR version < :v",
                ExpressionAttributeValues={
                    ":v": {"N": str(version)},
                    ":i": {"S": encoded},
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    # --- bulk (interface.JoinState): one round trip per batch, not per change ------------

    def write_many(self, writes: BatchWrites) -> None:
        """Every put and member addition of a batch, one call per item, concurrently (each
        item is written once, so their order does not matter)."""
        with classed("join state"):
            self._write_many(writes)

    def _write_many(self, writes: BatchWrites) -> None:
        members = {
            parent: new
            for parent, children in writes.members.items()
            if (new := {c for c in children if (*parent, c) not in self._known_members})
        }
        puts = [
            self._pool.submit(self._put, table, key, version, image)
            for (table, key), (version, image) in writes.puts.items()
        ]
        adds = [
            (parent, children, self._pool.submit(self._add_members, *parent, children))
            for parent, children in members.items()
        ]
        for call in puts:
            call.result()  # re-raises the first failure
        for parent, children, call in adds:
            call.result()
            self._remember(parent, children)

    def _remember(self, parent: RowKey, children: set[int]) -> None:
        if len(self._known_members) + len(children) > KNOWN_MEMBERS_MAX:
            self._known_members.clear()  # forgetting only costs ADDs sent again
        self._known_members.update((*parent, c) for c in children)

    def _add_members(self, parent_table: str, parent_key: int, children: set[int]) -> None:
        self.client.update_item(
            TableName=self.table_name,
            Key={"pk": {"S": f"members#{parent_table}#{parent_key}"}},
            UpdateExpression="ADD children :c",
            ExpressionAttributeValues={":c": {"NS": sorted(str(c) for c in children)}},
        )

    def _batch_get(self, pks: list[str]) -> dict[str, dict[str, Any]]:
        """Strongly consistent reads of ``pks`` (``batch_get``: unprocessed keys backed off)."""
        keys = [{"pk": {"S": pk}} for pk in pks]
        return {item["pk"]["S"]: item for item in batch_get(self.client, self.table_name, keys)}

    def get_many(self, keys: set[RowKey]) -> dict[RowKey, tuple[int, str]]:
        with classed("join state"):
            items = self._batch_get([f"row#{table}#{key}" for table, key in sorted(keys)])
        out = {}
        for pk, item in items.items():
            _, table, key = pk.split("#")
            out[(table, int(key))] = (int(item["version"]["N"]), item["image"]["S"])
        return out

    def members_many(self, parents: set[RowKey]) -> dict[RowKey, set[int]]:
        with classed("join state"):
            items = self._batch_get([f"members#{table}#{key}" for table, key in sorted(parents)])
        out = {}
        for pk, item in items.items():
            _, table, key = pk.split("#")
            out[(table, int(key))] = {int(n) for n in item["children"]["NS"]}
        return out


def ensure_table(client: Any, table_name: str) -> None:  # noqa: ANN401
    """Create the state table (on-demand) if it does not exist; terraform owns it in AWS.
    Several workers starting at once may all find it missing: the ones that lose the race to
    create it (ResourceInUseException) wait for it like the winner."""
    try:
        if client.describe_table(TableName=table_name)["Table"]["TableStatus"] != "CREATING":
            return
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    try:  # missing, or another worker is creating it
        client.create_table(
            TableName=table_name,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
    client.get_waiter("table_exists").wait(TableName=table_name)

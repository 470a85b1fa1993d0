"""The one DynamoDB batch read (``batch_get``): unprocessed keys retried after a backoff, on
moto, with a wrapper that leaves keys unprocessed as a throttled DynamoDB would."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from contracts.retry import Backoff
from stream_processor.batch_get import UNPROCESSED_BACKOFF, batch_get
from stream_processor.edge_errors import EdgeUnavailable, classed

TABLE = "state"


class Throttled:
    """A DynamoDB client whose BatchGetItem answers the first ``partial`` calls with all but
    one of the keys asked for left in ``UnprocessedKeys`` (what throttling does)."""

    def __init__(self, client: Any, partial: int) -> None:  # noqa: ANN401
        self.client = client
        self.partial = partial
        self.asked: list[int] = []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        request = RequestItems[TABLE]
        self.asked.append(len(request["Keys"]))
        if len(self.asked) > self.partial:
            return self.client.batch_get_item(RequestItems=RequestItems)
        first, rest = request["Keys"][:1], request["Keys"][1:]
        response = self.client.batch_get_item(RequestItems={TABLE: {**request, "Keys": first}})
        return {**response, "UnprocessedKeys": {TABLE: {**request, "Keys": rest}} if rest else {}}


@pytest.fixture
def dynamodb():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-2")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for i in range(150):
            client.put_item(TableName=TABLE, Item={"pk": {"S": f"k{i}"}, "n": {"N": str(i)}})
        yield client


def keys(*names: str) -> list[dict[str, Any]]:
    return [{"pk": {"S": name}} for name in names]


def test_unprocessed_keys_are_read_again_after_a_growing_wait(dynamodb):
    throttled, slept = Throttled(dynamodb, partial=3), []
    items = batch_get(throttled, TABLE, keys("k1", "k2", "k3", "k4", "k5"), sleep=slept.append)
    assert sorted(item["pk"]["S"] for item in items) == ["k1", "k2", "k3", "k4", "k5"]
    assert throttled.asked == [5, 4, 3, 2]  # only what was left, each time
    assert slept == [UNPROCESSED_BACKOFF.delay(n) for n in (1, 2, 3)] == [0.1, 0.2, 0.4]


def test_more_than_a_call_holds_are_read_in_calls_of_100_and_missing_keys_have_no_item(dynamodb):
    names = [f"k{i}" for i in range(150)] + ["absent"]
    throttled = Throttled(dynamodb, partial=0)
    items = batch_get(throttled, TABLE, keys(*names), sleep=lambda _s: pytest.fail("slept"))
    assert throttled.asked == [100, 51]
    assert sorted(int(item["n"]["N"]) for item in items) == list(range(150))


def test_keys_still_unprocessed_when_the_attempts_are_spent_are_a_throttled_edge(dynamodb):
    throttled, slept = Throttled(dynamodb, partial=99), []
    with pytest.raises(ClientError) as raised:
        batch_get(
            throttled,
            TABLE,
            keys("k1", "k2", "k3", "k4", "k5"),
            backoff=Backoff(first_s=0.5, attempts=3),
            sleep=slept.append,
        )
    assert raised.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert "2 keys of state still unprocessed after 3 BatchGetItem calls" in str(raised.value)
    assert throttled.asked == [5, 4, 3] and slept == [0.5, 1.0]
    with pytest.raises(EdgeUnavailable, match="join state unavailable"), classed("join state"):
        batch_get(throttled, TABLE, keys("k1", "k2"), backoff=Backoff(0.0, attempts=1))

"""PutRecords batching and retries. The partial failures Kinesis can return are produced by
a stand-in client with failure knobs (moto never fails a record), as dlt's dummy destination
exercises its loader."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from cdc.capture.kinesis import KinesisSink, SinkError, batches
from cdc.capture.records import OutRecord


def rec(key: str, n: int) -> OutRecord:
    return OutRecord(key, f"{key}:{n}".encode(), "t", "update")


class FlakyKinesis:
    """Fails the listed call numbers' records at the given indexes; records what it accepted."""

    def __init__(
        self, fail: dict[int, set[int]] | None = None, error_calls: set[int] | None = None
    ) -> None:
        self.fail = fail or {}
        self.error_calls = error_calls or set()
        self.calls = 0
        self.accepted: list[bytes] = []

    def put_records(self, StreamName: str, Records: list[dict]) -> dict:  # noqa: N803 - boto3's names
        self.calls += 1
        if self.calls in self.error_calls:
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                "PutRecords",
            )
        results = []
        for i, r in enumerate(Records):
            if i in self.fail.get(self.calls, set()):
                results.append(
                    {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "x"}
                )
            else:
                self.accepted.append(r["Data"])
                results.append({"SequenceNumber": str(len(self.accepted)), "ShardId": "s"})
        return {"FailedRecordCount": sum("ErrorCode" in r for r in results), "Records": results}


def test_a_batch_never_holds_two_records_of_one_key():
    out = list(batches([rec("a", 1), rec("b", 1), rec("a", 2), rec("c", 1), rec("a", 3)]))
    assert [[r.data for r in b] for b in out] == [[b"a:1", b"b:1"], [b"a:2", b"c:1"], [b"a:3"]]
    assert all(len({r.partition_key for r in b}) == len(b) for b in out)


def test_batches_respect_the_500_record_limit():
    sizes = [len(b) for b in batches(rec(str(i), 0) for i in range(1203))]
    assert sizes == [500, 500, 203]


def test_partially_failed_records_are_retried_and_same_key_records_stay_in_order():
    client = FlakyKinesis(fail={1: {0}, 2: {0}})
    sink = KinesisSink(client, "s", sleep=lambda _s: None)
    sink.put([rec("a", 1), rec("b", 1), rec("a", 2)])
    assert client.accepted.index(b"a:1") < client.accepted.index(b"a:2")
    assert sorted(client.accepted) == [b"a:1", b"a:2", b"b:1"]
    assert sink.stats.retried_records == 2


def test_throttled_calls_are_retried_with_backoff():
    slept: list[float] = []
    client = FlakyKinesis(error_calls={1, 2})
    KinesisSink(client, "s", sleep=slept.append).put([rec("a", 1)])
    assert client.accepted == [b"a:1"] and len(slept) == 2 and slept[1] > slept[0] * 0.9


def test_a_refusal_retrying_cannot_fix_is_raised_clearly():
    class Denied(FlakyKinesis):
        def put_records(self, StreamName: str, Records: list[dict]) -> dict:  # noqa: N803
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "PutRecords"
            )

    with pytest.raises(SinkError, match="AccessDeniedException"):
        KinesisSink(Denied(), "s", sleep=lambda _s: None).put([rec("a", 1)])

"""Edge failures classed where they enter: unavailable (stop the shard) or refused (the
record's failure)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError

from contracts.batches import MemoryStore, ObjectMissing
from stream_processor.edge_errors import ClassedStore, EdgeRefused, EdgeUnavailable, classify


def client_error(code: str, message: str = "m") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "UpdateItem")


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (client_error("ProvisionedThroughputExceededException"), EdgeUnavailable),
        (client_error("ThrottlingException"), EdgeUnavailable),
        (client_error("SlowDown"), EdgeUnavailable),
        (client_error("InternalServerError"), EdgeUnavailable),
        (client_error("AccessDeniedException"), EdgeUnavailable),  # ours to fix, not the record's
        (client_error("SomethingNew"), EdgeUnavailable),  # unknown: stopping loses nothing
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), EdgeUnavailable),
        (
            client_error("ValidationException", "Item size has exceeded the maximum allowed size"),
            EdgeRefused,
        ),
        # a wrong key schema or expression: our configuration or code, not the record
        (
            client_error("ValidationException", "The provided key element does not match"),
            EdgeUnavailable,
        ),
        (client_error("KeyTooLongError"), EdgeRefused),
        (ParamValidationError(report="bad"), EdgeRefused),
    ],
)
def test_botocore_failures_are_classed_unavailable_unless_the_request_s_content_was_refused(
    exc, kind
):
    classed = classify("join state", exc)
    assert type(classed) is kind and str(classed).startswith("join state")


def test_the_classed_store_classes_failures_and_lets_a_missing_object_through():
    class Failing(MemoryStore):
        def put(self, key: str, body: bytes, content_type: str) -> None:
            raise client_error("SlowDown")

    with pytest.raises(EdgeUnavailable, match="object store unavailable: SlowDown"):
        ClassedStore(Failing()).put("k", b"", "text/plain")
    with pytest.raises(ObjectMissing):
        ClassedStore(MemoryStore()).get("absent")

"""The local stand-in for Lambda's SQS event source: long-polls the queue, hands the handler
the same event shape Lambda would, and deletes only the messages that succeeded."""

from __future__ import annotations

import threading
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from contracts.batches import MANIFEST_PREFIX
from contracts.events import warning
from warehouse_loader import handler as lambda_handler


def wire_bucket_to_queue(s3: Any, sqs: Any, bucket: str, queue_url: str) -> None:  # noqa: ANN401
    """S3 → SQS notifications for new manifests, as terraform configures them in AWS."""
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {"FilterRules": [{"Name": "prefix", "Value": MANIFEST_PREFIX + "/"}]}
                    },
                }
            ]
        },
    )


def poll_once(sqs: Any, queue_url: str, wait_s: int = 1) -> tuple[int, int]:  # noqa: ANN401
    """One receive → handler → delete round; returns (messages received, messages failed)."""
    received = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s, AttributeNames=["All"]
    ).get("Messages", [])
    if not received:
        return 0, 0
    event = {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "eventSource": "aws:sqs",
            }
            for m in received
        ]
    }
    failed = {f["itemIdentifier"] for f in lambda_handler.handler(event)["batchItemFailures"]}
    done = [
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
        for i, m in enumerate(received)
        if m["MessageId"] not in failed
    ]
    if done:
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=done)
    return len(received), len(failed)


def run(sqs: Any, queue_url: str, stop: threading.Event) -> None:  # noqa: ANN401
    """Poll until ``stop``. An unreachable or failing SQS endpoint is logged and retried after
    a pause (Lambda's event source keeps polling too); the messages stay on the queue."""
    while not stop.is_set():
        try:
            poll_once(sqs, queue_url)
        except (BotoCoreError, ClientError) as exc:
            warning("poll_failed", error=f"{type(exc).__name__}: {exc}")
            stop.wait(1.0)

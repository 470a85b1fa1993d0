"""Faults the end-to-end tests inject into a running pipeline from outside it: a lost S3 event
notification (and its redelivery), raw records on the stream as if DMS had written them, and a
Kinesis outage (through the ``TcpProxy`` relay the pipeline was started behind)."""

from __future__ import annotations

from local_stack.harness.provision import Names
from local_stack.harness.tcp_proxy import TcpProxy
from local_stack.services import aws
from local_stack.services.config import StackConfig
from local_stack.services.processes import wait_until


class Faults:
    def __init__(self, cfg: StackConfig, names: Names, proxy: TcpProxy | None) -> None:
        self.names, self.proxy = names, proxy
        self.sqs, self.kinesis = aws.client(cfg, "sqs"), aws.client(cfg, "kinesis")

    def _queue_url(self) -> str:
        return self.sqs.get_queue_url(QueueName=self.names.queue)["QueueUrl"]

    def kinesis_outage(self, seconds: float) -> None:
        """Kinesis unreachable for capture and the KCL daemon for ``seconds``."""
        if self.proxy is None:
            raise RuntimeError("create the Pipeline with kinesis_relay=True")
        self.proxy.outage(seconds)

    def steal_manifest_event(self, timeout_s: float = 30) -> str:
        """Take one S3 event off the load queue before the loader sees it and delete it: a
        lost notification. Returns its body, for ``redeliver``."""
        queue_url, stolen = self._queue_url(), []

        def take() -> bool:
            for m in self.sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=1
            ).get("Messages", []):
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
                stolen.append(m["Body"])
            return bool(stolen)

        wait_until(take, what="a manifest event to steal", timeout_s=timeout_s)
        return stolen[0]

    def redeliver(self, body: str) -> None:
        self.sqs.send_message(QueueUrl=self._queue_url(), MessageBody=body)

    def inject(self, records: list[bytes]) -> None:
        """Put raw records on the stream, as if DMS had written them."""
        for i, data in enumerate(records):
            self.kinesis.put_record(StreamName=self.names.stream, Data=data, PartitionKey=f"x{i}")

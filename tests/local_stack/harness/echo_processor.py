"""A trivial KCL record processor for the smoke test: appends every record it receives to a
JSON-lines file and checkpoints after each batch. Run by the MultiLangDaemon as
``python echo_processor.py <output-file>``."""

from __future__ import annotations

import json
import sys

from amazon_kclpy import kcl
from amazon_kclpy.v3 import processor


class EchoProcessor(processor.RecordProcessorBase):
    def __init__(self, out_path: str) -> None:
        self.out_path = out_path
        self.shard_id = "?"

    def _write(self, event: dict) -> None:
        with open(self.out_path, "a") as out:
            out.write(json.dumps(event) + "\n")

    def initialize(self, initialize_input) -> None:
        self.shard_id = initialize_input.shard_id
        self._write({"event": "initialize", "shard": self.shard_id})

    def process_records(self, process_records_input) -> None:
        last = None
        for record in process_records_input.records:
            self._write(
                {
                    "event": "record",
                    "shard": self.shard_id,
                    "seq": record.sequence_number,
                    "data": record.binary_data.decode(),
                }
            )
            last = record.sequence_number
        if last is not None:
            process_records_input.checkpointer.checkpoint(last)
            self._write({"event": "checkpoint", "shard": self.shard_id, "seq": last})

    def lease_lost(self, lease_lost_input) -> None:
        self._write({"event": "lease_lost", "shard": self.shard_id})

    def shard_ended(self, shard_ended_input) -> None:
        shard_ended_input.checkpointer.checkpoint()

    def shutdown_requested(self, shutdown_requested_input) -> None:
        self._write({"event": "shutdown_requested", "shard": self.shard_id})
        shutdown_requested_input.checkpointer.checkpoint()


if __name__ == "__main__":
    kcl.KCLProcess(EchoProcessor(sys.argv[1])).run()

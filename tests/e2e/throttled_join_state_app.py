"""The production record processor with its join state's DynamoDB client wrapped: while the
file named by ``TOTESYS_CDC_TEST_THROTTLE_FILE`` exists, every call answers as DynamoDB does
once boto3's retries for throttling are spent (``ProvisionedThroughputExceededException``).
Run by ``stream-processor run --record-processor tests.e2e.throttled_join_state_app``
(``test_poison_e2e``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from stream_processor import config, kcl_app
from stream_processor.join_state.dynamodb import DynamoJoinState

FLAG = Path(os.environ["TOTESYS_CDC_TEST_THROTTLE_FILE"])


class ThrottledWhileFlagged:
    def __init__(self, client: Any) -> None:  # noqa: ANN401 - a boto3 DynamoDB client
        self.client = client

    def __getattr__(self, operation: str) -> Any:  # noqa: ANN401
        call = getattr(self.client, operation)

        def throttled(**kwargs: Any) -> Any:  # noqa: ANN401
            if FLAG.exists():
                raise ClientError(
                    {
                        "Error": {
                            "Code": "ProvisionedThroughputExceededException",
                            "Message": "The level of configured provisioned throughput for the "
                            "table was exceeded.",
                        }
                    },
                    operation,
                )
            return call(**kwargs)

        return throttled


if __name__ == "__main__":
    cfg = config.load()
    _, store, publish = kcl_app.components(cfg)
    state = DynamoJoinState(ThrottledWhileFlagged(boto3.client("dynamodb")), cfg.state_table)
    kcl_app.serve(cfg, state, store, publish)
    sys.exit(0)

"""The KCL properties the processor writes, from its configuration (no daemon needed)."""

from __future__ import annotations

from stream_processor import config
from stream_processor.daemon import settings_for

ENV = {
    "TOTESYS_CDC_BATCH_BUCKET": "b",
    "TOTESYS_CDC_STATE_TABLE": "s",
    "TOTESYS_CDC_STREAM_NAME": "changes",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:54566",
}


def properties(env: dict[str, str]) -> dict[str, str]:
    text = settings_for(config.load(env)).render()
    return dict(line.split(" = ", 1) for line in text.splitlines())


def test_a_local_endpoint_serves_kinesis_and_dynamodb_alike():
    props = properties(ENV)
    assert props["kinesisEndpoint"] == props["dynamoDBEndpoint"] == "http://127.0.0.1:54566"
    assert props["streamName"] == "changes" and props["retrievalMode"] == "POLLING"


def test_kinesis_can_be_reached_through_its_own_endpoint():
    props = properties({**ENV, "AWS_ENDPOINT_URL_KINESIS": "http://127.0.0.1:60001"})
    assert props["kinesisEndpoint"] == "http://127.0.0.1:60001"
    assert props["dynamoDBEndpoint"] == "http://127.0.0.1:54566"


def test_the_kcl_poll_interval_is_a_setting():
    assert properties(ENV)["idleTimeBetweenReadsInMillis"] == "250"
    props = properties({**ENV, "TOTESYS_CDC_KCL_IDLE_TIME_MS": "100"})
    assert props["idleTimeBetweenReadsInMillis"] == "100"


def test_in_aws_no_endpoint_is_written():
    props = properties({k: v for k, v in ENV.items() if k != "AWS_ENDPOINT_URL"})
    assert "kinesisEndpoint" not in props and "metricsLevel" not in props


FAST_TIMINGS = (
    "leaseAssignmentIntervalMillis",
    "shardSyncIntervalMillis",
    "parentShardPollIntervalMillis",
    "varianceBalancingFrequency",
)


def test_fast_lease_timings_are_local_only_and_aws_keeps_the_kcl_defaults():
    local = properties(ENV)
    assert {k: local[k] for k in FAST_TIMINGS} == {
        "leaseAssignmentIntervalMillis": "1000",
        "shardSyncIntervalMillis": "2000",
        "parentShardPollIntervalMillis": "1000",
        "varianceBalancingFrequency": "30",
    }
    aws = properties({k: v for k, v in ENV.items() if k != "AWS_ENDPOINT_URL"})
    assert not set(FAST_TIMINGS) & set(aws), "the KCL's documented defaults apply in AWS"
    # Leases live as long as the KCL's default everywhere: shorter, workers sharing a busy
    # machine miss renewals and the leader moves leases back and forth.
    assert "failoverTimeMillis" not in local and "failoverTimeMillis" not in aws


def test_graceful_lease_handoff_runs_locally_as_in_aws():
    """KCL 3's graceful lease handoff is on in both (the KCL's default, not written), with
    the same timeout; what a local endpoint adds is exactly the endpoints, the fast timings,
    and what keeps the KCL on loopback (no CloudWatch metrics, no instance-metadata probe)."""
    local = properties(ENV)
    aws = properties({k: v for k, v in ENV.items() if k != "AWS_ENDPOINT_URL"})
    for props in (local, aws):
        assert "isGracefulLeaseHandoffEnabled" not in props
        assert props["gracefulLeaseHandoffTimeoutMillis"] == "30000"
    assert {k: v for k, v in local.items() if k not in aws} == {
        "kinesisEndpoint": "http://127.0.0.1:54566",
        "dynamoDBEndpoint": "http://127.0.0.1:54566",
        # loopback: the KCL's CloudWatch client has no endpoint setting; its CPU probe would
        # call the EC2 instance-metadata address
        "metricsLevel": "NONE",
        "disableWorkerMetrics": "true",
        # test speed
        "leaseAssignmentIntervalMillis": "1000",
        "shardSyncIntervalMillis": "2000",
        "parentShardPollIntervalMillis": "1000",
        "varianceBalancingFrequency": "30",
        "workerMetricsReporterFreqInMillis": "1000",
    }
    assert {k: v for k, v in local.items() if k in aws} == aws

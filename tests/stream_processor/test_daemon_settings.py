"""The KCL properties the processor writes, from its configuration (no daemon needed)."""

from __future__ import annotations

import pytest

from stream_processor import config
from stream_processor.daemon import DaemonSettings, settings_for

# What a deployment has: nothing says where it runs, so it is AWS.
AWS_ENV = {
    "TOTESYS_CDC_BATCH_BUCKET": "b",
    "TOTESYS_CDC_STATE_TABLE": "s",
    "TOTESYS_CDC_STREAM_NAME": "changes",
}
# What the local stack gives its processes (local_stack.services.config.app_env).
ENV = {**AWS_ENV, "TOTESYS_CDC_ENVIRONMENT": "local", "AWS_ENDPOINT_URL": "http://127.0.0.1:54566"}


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
    props = properties(AWS_ENV)
    assert "kinesisEndpoint" not in props and "metricsLevel" not in props
    assert "dynamoDBEndpoint" not in props


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
    aws = properties(AWS_ENV)
    assert not set(FAST_TIMINGS) & set(aws), "the KCL's documented defaults apply in AWS"
    # Leases live as long as the KCL's default everywhere: shorter, workers sharing a busy
    # machine miss renewals and the leader moves leases back and forth.
    assert "failoverTimeMillis" not in local and "failoverTimeMillis" not in aws


def test_graceful_lease_handoff_runs_locally_as_in_aws():
    """KCL 3's graceful lease handoff is on in both (the KCL's default, not written), with
    the same timeout; what the local environment adds is exactly the endpoints, the fast
    timings, and what keeps the KCL on loopback (no CloudWatch metrics, no instance-metadata
    probe)."""
    local = properties(ENV)
    aws = properties(AWS_ENV)
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


LOCAL_ONLY = (
    *FAST_TIMINGS,
    "metricsLevel",
    "disableWorkerMetrics",
    "workerMetricsReporterFreqInMillis",
)


def test_an_endpoint_in_aws_is_written_and_switches_nothing_else():
    """aws with an http://127.0.0.1 endpoint is allowed (the AWS properties tested against the
    emulation): the endpoints are written, the KCL's defaults and its metrics stay as in AWS."""
    aws = properties(AWS_ENV)
    tested = properties({**AWS_ENV, "AWS_ENDPOINT_URL": "http://127.0.0.1:54566"})
    assert not set(LOCAL_ONLY) & set(tested)
    assert {k: v for k, v in tested.items() if k not in aws} == {
        "kinesisEndpoint": "http://127.0.0.1:54566",
        "dynamoDBEndpoint": "http://127.0.0.1:54566",
    }
    assert {k: v for k, v in tested.items() if k in aws} == aws
    explicit = properties(
        {**AWS_ENV, "TOTESYS_CDC_ENVIRONMENT": "aws", "AWS_ENDPOINT_URL": "http://127.0.0.1:54566"}
    )
    assert explicit == tested


def test_kinesis_alone_can_have_an_endpoint_in_aws():
    props = properties({**AWS_ENV, "AWS_ENDPOINT_URL_KINESIS": "https://kinesis.example.internal"})
    assert props["kinesisEndpoint"] == "https://kinesis.example.internal"
    assert "dynamoDBEndpoint" not in props and not set(LOCAL_ONLY) & set(props)


def test_the_local_properties_follow_the_setting_not_the_endpoint():
    local = properties(ENV)
    assert {k: local[k] for k in ("metricsLevel", "disableWorkerMetrics")} == {
        "metricsLevel": "NONE",
        "disableWorkerMetrics": "true",
    }
    assert set(LOCAL_ONLY) <= set(local)
    # the same endpoint, the environment left to its default: AWS's properties
    assert not set(LOCAL_ONLY) & set(properties({**ENV, "TOTESYS_CDC_ENVIRONMENT": ""}))


def test_local_properties_without_an_endpoint_are_refused():
    """The KCL would talk to real AWS with the local stack's timings and no metrics."""
    with pytest.raises(
        config.ConfigError, match="TOTESYS_CDC_ENVIRONMENT is local but AWS_ENDPOINT_URL is not set"
    ):
        DaemonSettings(
            stream_name="changes",
            application_name="app",
            executable="python -m x",
            region="eu-west-2",
            environment="local",
        )
    with pytest.raises(
        config.ConfigError,
        match="AWS_ENDPOINT_URL_KINESIS is 'http://10.0.0.5:4566', not on loopback",
    ):
        DaemonSettings(
            stream_name="changes",
            application_name="app",
            executable="python -m x",
            region="eu-west-2",
            environment="local",
            endpoint="http://127.0.0.1:54566",
            kinesis_endpoint="http://10.0.0.5:4566",
        )

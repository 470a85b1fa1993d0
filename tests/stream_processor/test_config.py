"""The processor's settings: TOTESYS_CDC_ENVIRONMENT and what follows from it (no services)."""

from __future__ import annotations

import pytest

from stream_processor.config import ConfigError, ProcessorConfig, load

REQUIRED = {"TOTESYS_CDC_BATCH_BUCKET": "b", "TOTESYS_CDC_STATE_TABLE": "s"}
LOOPBACK = "http://127.0.0.1:54566"


def test_the_environment_is_aws_unless_set():
    assert load(REQUIRED).environment == "aws"
    assert load({**REQUIRED, "TOTESYS_CDC_ENVIRONMENT": ""}).environment == "aws"
    assert ProcessorConfig(bucket="b", state_table="s").environment == "aws"
    # an endpoint alone does not make it local
    assert load({**REQUIRED, "AWS_ENDPOINT_URL": LOOPBACK}).environment == "aws"


def test_the_environment_is_read_as_a_choice():
    local = {**REQUIRED, "AWS_ENDPOINT_URL": LOOPBACK}
    assert load({**local, "TOTESYS_CDC_ENVIRONMENT": "local"}).environment == "local"
    assert load({**local, "TOTESYS_CDC_ENVIRONMENT": " Local "}).environment == "local"
    assert load({**REQUIRED, "TOTESYS_CDC_ENVIRONMENT": "AWS"}).environment == "aws"
    with pytest.raises(
        ConfigError, match="TOTESYS_CDC_ENVIRONMENT must be one of local, aws, not 'prod'"
    ):
        load({**REQUIRED, "TOTESYS_CDC_ENVIRONMENT": "prod"})
    with pytest.raises(ConfigError, match="TOTESYS_CDC_ENVIRONMENT must be one of"):
        ProcessorConfig(bucket="b", state_table="s", environment="staging")


def test_metrics_are_published_by_default_in_aws_only_whatever_the_endpoint():
    assert load(REQUIRED).publish_metrics is True
    assert load({**REQUIRED, "AWS_ENDPOINT_URL": LOOPBACK}).publish_metrics is True
    local = {**REQUIRED, "TOTESYS_CDC_ENVIRONMENT": "local", "AWS_ENDPOINT_URL": LOOPBACK}
    assert load(local).publish_metrics is False
    # the setting still overrides, both ways (the harness publishes to the emulation's)
    assert load({**local, "TOTESYS_CDC_PUBLISH_METRICS": "1"}).publish_metrics is True
    assert load({**REQUIRED, "TOTESYS_CDC_PUBLISH_METRICS": "0"}).publish_metrics is False


def test_local_without_an_endpoint_says_what_to_set():
    with pytest.raises(ConfigError) as raised:
        load({**REQUIRED, "TOTESYS_CDC_ENVIRONMENT": "local"})
    message = str(raised.value)
    assert "TOTESYS_CDC_ENVIRONMENT is local but AWS_ENDPOINT_URL is not set" in message
    assert "totesys-stack env" in message and "TOTESYS_CDC_ENVIRONMENT=aws" in message
    # a Kinesis endpoint alone leaves DynamoDB, S3 and CloudWatch on real AWS
    with pytest.raises(ConfigError, match="AWS_ENDPOINT_URL is not set"):
        load(
            {
                **REQUIRED,
                "TOTESYS_CDC_ENVIRONMENT": "local",
                "AWS_ENDPOINT_URL_KINESIS": LOOPBACK,
            }
        )


@pytest.mark.parametrize(
    ("variable", "url"),
    [
        ("AWS_ENDPOINT_URL", "https://dynamodb.eu-west-2.amazonaws.com"),
        ("AWS_ENDPOINT_URL", "http://10.0.0.5:4566"),
        ("AWS_ENDPOINT_URL_KINESIS", "http://moto:54566"),
    ],
)
def test_local_endpoints_must_be_on_loopback(variable, url):
    env = {**REQUIRED, "TOTESYS_CDC_ENVIRONMENT": "local", "AWS_ENDPOINT_URL": LOOPBACK}
    with pytest.raises(ConfigError, match=f"{variable} is '{url}', not on loopback"):
        load({**env, variable: url})


def test_local_takes_any_loopback_endpoint_and_aws_any_endpoint():
    local = {**REQUIRED, "TOTESYS_CDC_ENVIRONMENT": "local"}
    for url in (LOOPBACK, "http://localhost:4566", "http://127.0.0.2:1", "http://[::1]:4566"):
        assert load({**local, "AWS_ENDPOINT_URL": url}).endpoint_url == url
    cfg = load(
        {
            **local,
            "AWS_ENDPOINT_URL": LOOPBACK,
            "AWS_ENDPOINT_URL_KINESIS": "http://127.0.0.1:60001",
        }
    )
    assert (cfg.endpoint_url, cfg.kinesis_endpoint_url) == (LOOPBACK, "http://127.0.0.1:60001")
    remote = "https://vpce-1.kinesis.eu-west-2.vpce.amazonaws.com"
    assert load({**REQUIRED, "AWS_ENDPOINT_URL_KINESIS": remote}).kinesis_endpoint_url == remote

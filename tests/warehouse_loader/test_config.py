"""The loader's settings (no services)."""

from __future__ import annotations

import pytest

from warehouse_loader.config import ConfigError, load

WHERE = {"TOTESYS_CDC_WAREHOUSE_DSN": "host=127.0.0.1"}


def test_history_is_on_unless_turned_off():
    assert load(WHERE).history is True
    assert load({**WHERE, "TOTESYS_CDC_HISTORY": "off"}).history is False
    assert load({**WHERE, "TOTESYS_CDC_HISTORY": " On "}).history is True
    with pytest.raises(ConfigError, match="TOTESYS_CDC_HISTORY"):
        load({**WHERE, "TOTESYS_CDC_HISTORY": "no"})


def test_the_warehouse_must_be_named():
    with pytest.raises(ConfigError, match="WAREHOUSE_DSN"):
        load({})


def test_the_environment_is_aws_unless_set_and_local_needs_a_loopback_endpoint():
    assert load(WHERE).environment == "aws"
    assert load({**WHERE, "AWS_ENDPOINT_URL": "http://127.0.0.1:54566"}).environment == "aws"
    local = {**WHERE, "TOTESYS_CDC_ENVIRONMENT": "local"}
    assert load({**local, "AWS_ENDPOINT_URL": "http://127.0.0.1:54566"}).environment == "local"
    with pytest.raises(ConfigError, match="TOTESYS_CDC_ENVIRONMENT must be one of local, aws"):
        load({**WHERE, "TOTESYS_CDC_ENVIRONMENT": "lambda"})
    with pytest.raises(ConfigError, match="ENVIRONMENT is local but AWS_ENDPOINT_URL is not set"):
        load(local)
    with pytest.raises(ConfigError, match="not on loopback"):
        load({**local, "AWS_ENDPOINT_URL": "http://10.0.0.5:4566"})

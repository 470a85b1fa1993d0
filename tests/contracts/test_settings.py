"""The one settings helper: prefix, defaults, typed values, errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdc import config as cdc_config
from contracts.settings import ConfigError, Settings, check_endpoints, is_loopback
from local_stack.services import config as stack_config
from stream_processor import config as processor_config
from warehouse_loader import config as loader_config


def test_values_are_read_under_the_prefix_and_an_empty_one_is_unset(tmp_path):
    settings = Settings(
        {
            "TOTESYS_CDC_NAME": "a",
            "TOTESYS_CDC_EMPTY": "",
            "TOTESYS_CDC_N": "7",
            "TOTESYS_CDC_X": "0.5",
            "TOTESYS_CDC_DIR": str(tmp_path / "d" / ".." / "e"),
            "AWS_REGION": "eu-west-1",
            "NAME": "not ours",
        }
    )
    assert (settings.get("NAME"), settings.get("EMPTY"), settings.text("EMPTY", "dflt")) == (
        "a",
        None,
        "dflt",
    )
    assert (settings.integer("N", 1), settings.integer("MISSING", 1)) == (7, 1)
    assert (settings.number("X", 1.0), settings.raw("AWS_REGION")) == (0.5, "eu-west-1")
    assert settings.path("DIR", Path("x")) == tmp_path / "e"


def test_a_choice_ignores_case_and_blanks_and_refuses_what_is_not_one():
    settings = Settings({"TOTESYS_CDC_MODE": " Strict ", "TOTESYS_CDC_BAD": "loud"})
    assert settings.choice("MODE", "lenient", ("lenient", "strict")) == "strict"
    with pytest.raises(ConfigError, match="TOTESYS_CDC_BAD must be one of on, off, not 'loud'"):
        settings.choice("BAD", "on", ("on", "off"))


def test_a_missing_or_malformed_value_names_its_variable():
    settings = Settings({"TOTESYS_CDC_N": "many", "TOTESYS_CDC_X": "fast"})
    with pytest.raises(ConfigError, match="TOTESYS_CDC_STREAM is not set: name it"):
        settings.require("STREAM", "name it")
    with pytest.raises(ConfigError, match="TOTESYS_CDC_N must be an integer, not 'many'"):
        settings.integer("N", 1)
    with pytest.raises(ConfigError, match="TOTESYS_CDC_X must be a number, not 'fast'"):
        settings.number("X", 1.0)


def test_every_package_raises_the_one_config_error():
    assert (
        cdc_config.ConfigError
        is processor_config.ConfigError
        is loader_config.ConfigError
        is ConfigError
    )
    with pytest.raises(ConfigError, match="TOTESYS_CDC_PG_PORT must be an integer"):
        stack_config.load({"TOTESYS_CDC_PG_PORT": "fifty"})


def test_loopback_is_this_machine_only():
    for url in (
        "http://127.0.0.1:54566",
        "http://localhost:1",
        "http://127.1.2.3",
        "http://[::1]:9",
    ):
        assert is_loopback(url), url
    for url in ("http://10.0.0.5:4566", "https://moto:1", "http://169.254.169.254", "", "x"):
        assert not is_loopback(url), url


def test_the_environment_against_the_endpoints():
    # aws: any endpoint or none (a test of the AWS settings against the emulation)
    check_endpoints("aws", {"AWS_ENDPOINT_URL": None})
    check_endpoints("aws", {"AWS_ENDPOINT_URL": "http://127.0.0.1:54566"})
    check_endpoints("aws", {"AWS_ENDPOINT_URL": "https://example.internal"})
    # local: an endpoint, on loopback, each one
    check_endpoints("local", {"AWS_ENDPOINT_URL": "http://127.0.0.1:54566"})
    with pytest.raises(ConfigError, match="ENVIRONMENT is local but AWS_ENDPOINT_URL is not set"):
        check_endpoints(
            "local", {"AWS_ENDPOINT_URL": None, "AWS_ENDPOINT_URL_KINESIS": "http://127.0.0.1:1"}
        )
    with pytest.raises(
        ConfigError, match="AWS_ENDPOINT_URL_X is 'http://10.0.0.5', not on loopback"
    ):
        check_endpoints(
            "local",
            {"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_X": "http://10.0.0.5"},
        )
    with pytest.raises(ConfigError, match="TOTESYS_CDC_ENVIRONMENT must be one of local, aws"):
        check_endpoints("dev", {})

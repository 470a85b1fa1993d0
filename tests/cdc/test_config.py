"""cdc's settings: read once, from TOTESYS_CDC_* variables, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdc import config


def test_capture_settings_come_from_the_documented_variables():
    cfg = config.load_capture(
        {
            "TOTESYS_CDC_SOURCE_DSN": "dbname=x",
            "TOTESYS_CDC_STREAM_NAME": "s",
            "TOTESYS_CDC_CAPTURE_TASK_ID": "t",
            "TOTESYS_CDC_CAPTURE_SLOT": "slot",
            "TOTESYS_CDC_CAPTURE_PUBLICATION": "pub",
            "TOTESYS_CDC_CAPTURE_STATE_DIR": "/tmp/st",
            "TOTESYS_CDC_CAPTURE_POLL_INTERVAL_S": "0.5",
            "TOTESYS_CDC_CAPTURE_BATCH_RECORDS": "1",
            "TOTESYS_CDC_CAPTURE_PARTITIONING": "schema-table",
        }
    )
    assert (cfg.source_dsn, cfg.stream_name, cfg.task_id, cfg.slot_name, cfg.publication) == (
        "dbname=x",
        "s",
        "t",
        "slot",
        "pub",
    )
    assert (cfg.state_dir, cfg.poll_interval_s, cfg.batch_records) == (Path("/tmp/st"), 0.5, 1)
    assert cfg.partitioning == "schema-table"
    default = config.load_capture({"TOTESYS_CDC_SOURCE_DSN": "x", "TOTESYS_CDC_STREAM_NAME": "s"})
    assert default.partitioning == "primary-key"  # as the DMS task in terraform partitions CDC


def test_missing_or_invalid_settings_name_the_variable():
    with pytest.raises(config.ConfigError, match="TOTESYS_CDC_SOURCE_DSN"):
        config.load_capture({})
    with pytest.raises(config.ConfigError, match="TOTESYS_CDC_STREAM_NAME"):
        config.load_capture({"TOTESYS_CDC_SOURCE_DSN": "dbname=x"})
    with pytest.raises(
        config.ConfigError, match="TOTESYS_CDC_CAPTURE_BATCH_RECORDS must be an integer"
    ):
        config.load_capture(
            {
                "TOTESYS_CDC_SOURCE_DSN": "d",
                "TOTESYS_CDC_STREAM_NAME": "s",
                "TOTESYS_CDC_CAPTURE_BATCH_RECORDS": "many",
            }
        )
    with pytest.raises(config.ConfigError, match="TOTESYS_CDC_CAPTURE_PARTITIONING"):
        config.load_capture(
            {
                "TOTESYS_CDC_SOURCE_DSN": "d",
                "TOTESYS_CDC_STREAM_NAME": "s",
                "TOTESYS_CDC_CAPTURE_PARTITIONING": "table",
            }
        )

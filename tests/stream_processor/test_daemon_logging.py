"""The daemon passes the record processors' stderr through once, unchanged; a record
processor's failure still arrives as one ERROR event. (On the local stack, the real daemon's
log is checked after a run: test_kcl_processor_on_stack.py.)"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET

import pytest
from amazon_kclpy import kcl
from amazon_kclpy.v3 import processor

from stream_processor import daemon, kcl_app
from tests.fixtures import ROOT


def test_the_daemon_is_started_with_our_logback_configuration(tmp_path):
    argv = daemon.command(tmp_path / "kcl.properties")
    path = argv[argv.index("-l") + 1]
    root = ET.parse(path).getroot()
    levels = {e.get("name"): e.get("level") for e in root.iter("logger")}
    # DrainChildSTDERRTask logs every child line with log.error and prints it again bare:
    # its logger off leaves the bare copy, once.
    assert levels == {"software.amazon.kinesis.multilang.DrainChildSTDERRTask": "OFF"}
    assert root.find("root").get("level") == "INFO", "the daemon's own lines keep their levels"
    [pattern] = [p.text for p in root.iter("pattern")]
    # the time and the level first, without spaces: the metric filter for the daemon's own
    # ERROR lines matches the second space-delimited field (terraform/logs_insights.tf)
    assert pattern.startswith("%d{yyyy-MM-dd'T'HH:mm:ss.SSSZ} %level ")


def test_the_daemon_heap_is_capped_by_the_setting(tmp_path):
    from stream_processor import config

    assert "-Xmx512m" in daemon.command(tmp_path / "kcl.properties")
    cfg = config.load(
        {
            "TOTESYS_CDC_BATCH_BUCKET": "b",
            "TOTESYS_CDC_STATE_TABLE": "t",
            "TOTESYS_CDC_KCL_MAX_HEAP_MB": "768",
        }
    )
    assert cfg.kcl_max_heap_mb == 768
    assert "-Xmx768m" in daemon.command(tmp_path / "kcl.properties", cfg.kcl_max_heap_mb)


class Failing(processor.RecordProcessorBase):
    def initialize(self, initialize_input):
        raise RuntimeError("boom in initialize")

    def process_records(self, process_records_input):
        pass

    def lease_lost(self, lease_lost_input):
        pass

    def shard_ended(self, shard_ended_input):
        pass

    def shutdown_requested(self, shutdown_requested_input):
        pass


def test_an_exception_kclpy_catches_becomes_one_error_event(capsys):
    action = {
        "action": "initialize",
        "shardId": "shardId-000000000001",
        "sequenceNumber": "1",
        "subSequenceNumber": 0,
    }
    out = io.StringIO()
    kcl.KCLProcess(
        Failing(),
        input_file=io.StringIO(json.dumps(action) + "\n"),
        output_file=out,
        error_file=kcl_app.ErrorEvents(lambda: "shardId-000000000001"),
    ).run()
    lines = capsys.readouterr().err.splitlines()
    [event] = [json.loads(line) for line in lines]
    assert (event["level"], event["event"], event["shard"]) == (
        "ERROR",
        "record_processor_failed",
        "shardId-000000000001",
    )
    assert "boom in initialize" in event["detail"] and "Traceback" in event["detail"]
    assert json.loads(out.getvalue())["responseFor"] == "initialize", "kclpy carried on"


def test_a_crash_is_one_error_event(capsys):
    try:
        raise OSError("the daemon's pipe is gone")
    except OSError as exc:
        kcl_app.crashed(type(exc), exc, exc.__traceback__)
    [line] = capsys.readouterr().err.splitlines()
    event = json.loads(line)
    assert (event["level"], event["event"]) == ("ERROR", "record_processor_crashed")
    assert event["error"] == "OSError: the daemon's pipe is gone"


@pytest.mark.parametrize("text", ["", "\n"])
def test_an_empty_flush_logs_nothing(capsys, text):
    errors = kcl_app.ErrorEvents(lambda: "s")
    errors.write(text)
    errors.flush()
    assert capsys.readouterr().err == ""


def test_the_logback_configuration_ships_with_the_package():
    """The container installs the project as a wheel (Dockerfile): only package data goes in."""
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_data = pyproject["tool"]["setuptools"]["package-data"]["stream_processor"]
    assert daemon.log_configuration().name in package_data

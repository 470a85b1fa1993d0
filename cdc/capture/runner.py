"""The capture engine's process shell: configuration, signals, clear errors, exit codes."""

from __future__ import annotations

import signal
import sys
import threading

import boto3
import psycopg

from cdc import config
from cdc.capture import source
from cdc.capture.engine import CaptureEngine
from cdc.capture.kinesis import KinesisSink, SinkError
from cdc.capture.status import state_path, status_path
from contracts.events import log


def run_capture() -> int:
    """Run until SIGTERM/SIGINT; 0 after a clean stop, 1 with one clear line on failure."""
    try:
        cfg = config.load_capture()
    except config.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log("stop_requested", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        sink = KinesisSink(
            boto3.client("kinesis"), cfg.stream_name, max_batch_records=cfg.batch_records
        )
    except ValueError as exc:
        print(f"error: TOTESYS_CDC_CAPTURE_BATCH_RECORDS: {exc}", file=sys.stderr)
        return 1
    try:
        CaptureEngine(cfg, sink).run(stop)
    except (source.SourceError, SinkError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except psycopg.Error as exc:
        print(f"error: the source database failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


def reset_capture() -> int:
    try:
        cfg = config.load_capture()
        with source.connect(cfg.source_dsn) as conn:
            if source.slot_info(conn, cfg.slot_name) is not None:
                source.drop_slot(conn, cfg.slot_name)
    except (config.ConfigError, source.SourceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in (state_path(cfg.state_dir, cfg.task_id), status_path(cfg.state_dir, cfg.task_id)):
        path.unlink(missing_ok=True)
    print(f"dropped slot {cfg.slot_name} and the state of task {cfg.task_id}")
    return 0

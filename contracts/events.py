"""Structured log events: one JSON object per line, with a level and a named event.

Every component logs through ``log`` (CloudWatch Logs reads one object per line in AWS). The
processor's stdout belongs to the KCL's protocol, so events go to stderr by default; Lambda
sends a function's stdout and stderr alike to its log stream ("you can use any logging library
that writes to stdout or stderr", AWS Lambda Developer Guide, "Log and monitor Python Lambda
functions"), and ECS's awslogs driver forwards the container's stderr.

Field values must never be secrets: connection strings, passwords and secret values are not
logged anywhere in the project.
"""

from __future__ import annotations

import json
import sys
import threading
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any, TextIO

_WRITING = threading.Lock()


class Level(IntEnum):
    DEBUG = 10
    INFO = 20
    WARNING = 30
    ERROR = 40


def format_event(level: Level, event: str, fields: dict[str, Any]) -> str:
    """The line ``log`` writes (pure, for tests and readers)."""
    body = {"ts": datetime.now(UTC).isoformat(), "level": level.name, "event": event, **fields}
    return json.dumps(body, default=str)


def log(
    event: str,
    level: Level = Level.INFO,
    *,
    to: TextIO | None = None,
    **fields: Any,  # noqa: ANN401 - any JSON value
) -> None:
    """Write one event line (to ``to``, default stderr) and flush it: one write, under a
    lock, so that events from several threads (the record processor's watchdog) never share
    a line (``print`` writes the text and its newline separately)."""
    stream = to or sys.stderr
    line = format_event(level, event, fields) + "\n"
    with _WRITING:
        stream.write(line)
        stream.flush()


def warning(event: str, **fields: Any) -> None:  # noqa: ANN401
    log(event, Level.WARNING, **fields)


def error(event: str, **fields: Any) -> None:  # noqa: ANN401
    log(event, Level.ERROR, **fields)

"""What a processor's log must look like after a run (`stream-processor run`'s output: the
daemon's own lines and the record processors' JSON events, passed through once each by
stream_processor/logback.xml)."""

from __future__ import annotations

import json
from pathlib import Path


def checked_events(log: Path) -> list[dict]:
    """The log's JSON events, once it is checked: no event line twice, no ERROR line (an
    event at level ERROR, or a daemon line of level ERROR) and no daemon copy of a child's
    line. Tests with faults injected check the lines before the first fault."""
    lines = log.read_text(errors="replace").splitlines()
    events = [line for line in lines if line.startswith("{")]
    twice = sorted({line for line in events if events.count(line) > 1})
    assert not twice, f"{len(twice)} events appear more than once in {log}: {twice[:3]}"
    errors = [line for line in lines if "ERROR" in line or "Received error line" in line]
    assert not errors, f"{len(errors)} ERROR lines in {log}: {errors[:3]}"
    return [json.loads(line) for line in events]

"""Structured events: one JSON object per line, with a level and the event's name."""

from __future__ import annotations

import io
import json

from contracts.events import Level, log


def test_an_event_is_one_json_line_with_its_level_name_and_fields():
    out = io.StringIO()
    log("batch_committed", Level.WARNING, to=out, shard="s-1", rows={"dim_staff": 2})
    [line] = out.getvalue().splitlines()
    event = json.loads(line)
    assert (event["level"], event["event"], event["shard"], event["rows"]) == (
        "WARNING",
        "batch_committed",
        "s-1",
        {"dim_staff": 2},
    )
    assert "ts" in event

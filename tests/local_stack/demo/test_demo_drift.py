"""The demo's schema-drift lines (``--alter``), from a source drift and a processor log. No
services."""

from __future__ import annotations

import json

from contracts.change_records import SOURCE_TABLES
from contracts.schema_drift import drift_of_columns
from local_stack.demo.run import ALTER_COLUMN, ALTER_TABLE, drift_lines, processor_drift


def test_the_report_names_the_drift_at_the_source_and_each_one_the_processor_reported(tmp_path):
    added = {**dict.fromkeys(SOURCE_TABLES[ALTER_TABLE], ""), ALTER_COLUMN: "NCLOB"}
    source = drift_of_columns(ALTER_TABLE, added)
    event = {
        "ts": "2026-12-03T08:00:00Z",
        "level": "WARNING",
        "event": "schema_drift",
        "table": "design",
        "kind": "column_added",
        "column": "licence",
        "detail": "not in Contract A: not carried",
    }
    log = tmp_path / "processor.log"
    log.write_text(
        "daemon line, not JSON\n"
        + json.dumps(event)
        + "\n"
        + "INFO  child: "
        + json.dumps({**event, "shard": "shardId-1"})
        + "\n"
        + json.dumps({"event": "batch_committed"})
        + "\n"
    )
    events = processor_drift(log)
    assert len(events) == 2
    assert drift_lines(source, events) == [
        "schema drift at the source (`cdc monitor`): design.licence column added "
        "(not in Contract A: not carried)",
        "schema drift seen by the processor (2 schema_drift events): design.licence column added "
        "(not in Contract A: not carried)",
    ]
    assert drift_lines([], processor_drift(tmp_path / "none.log")) == [
        "schema drift at the source (`cdc monitor`): as Contract A",
        "schema drift seen by the processor: no schema_drift event in its log",
    ]

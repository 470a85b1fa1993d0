"""Repairs, on the whole pipeline as processes: after a bug fix, the fixed transform with a
bumped generation, replayed from the start of the stream, repairs what the buggy one wrote;
and `reconcile --repair` fixes rows edited in the warehouse and a lost manifest while live
traffic goes on."""

from __future__ import annotations

import json
import threading
from collections import Counter

import psycopg
import pytest
from psycopg import sql

from contracts.generation import GENERATION
from local_stack.harness.observe import fact_versions_written
from local_stack.harness.pipeline import Names, Pipeline
from local_stack.services import aws
from tests.e2e.wrong_transform_app import BUGGY_GENERATION
from warehouse_tools import repair

pytestmark = [pytest.mark.stack, pytest.mark.kcl, pytest.mark.timeout(900)]


def generations(pipeline: Pipeline, table: str) -> set[int]:
    with psycopg.connect(pipeline.warehouse_dsn) as conn:
        query = sql.SQL("SELECT DISTINCT cdc_generation FROM {}").format(sql.Identifier(table))
        return {g for (g,) in conn.execute(query)}


def test_a_fix_with_a_bumped_generation_and_a_replay_repairs_what_a_wrong_transform_wrote(
    stack_cfg,
):
    pipeline = Pipeline(stack_cfg, Names.unique("e2e-repair"))
    loaded = pipeline.create(seed=11)
    try:
        pipeline.start(record_processor="tests.e2e.wrong_transform_app")
        stats = pipeline.traffic(rate=100, duration_s=20, seed=11, allow_deletes=True)
        pipeline.quiesce()
        drift = {t.table: t for t in pipeline.observe.reconcile().tables}
        assert len(drift["dim_design"].problems.get("different", [])) > 100, drift["dim_design"]
        assert sum(t.count for name, t in drift.items() if name != "dim_design") == 0
        assert generations(pipeline, "dim_design") == {BUGGY_GENERATION}

        # The fix ships with a bumped generation; the operator replays the whole stream.
        pipeline.stop_process("processor")
        reset = pipeline.replay_reset("--trim-horizon")
        assert reset.count("->") == pipeline.cfg.stream_shards, reset
        pipeline.restart("processor")
        pipeline.quiesce(timeout_s=420)

        report = pipeline.observe.reconcile()
        assert report.differences == 0, report.to_json()
        counts = pipeline.observe.counts()
        written = fact_versions_written(
            stats.changes + Counter({(t, "load"): n for t, n in loaded.items()})
        )
        for fact, n in written.items():
            assert counts[fact] == n, (fact, counts[fact], n)  # replaced, not added
            assert generations(pipeline, fact) == {GENERATION}
        assert generations(pipeline, "dim_design") == {GENERATION}
    finally:
        pipeline.stop()
        pipeline.destroy()


def test_reconcile_repair_fixes_altered_rows_and_a_lost_manifest_under_live_traffic(stack_cfg):
    pipeline = Pipeline(stack_cfg, Names.unique("e2e-fix"))
    pipeline.create(seed=13)
    stop = threading.Event()
    try:
        pipeline.start()
        pipeline.quiesce()
        traffic = threading.Thread(
            target=lambda: pipeline.traffic(rate=100, duration_s=60, seed=13, stop=stop)
        )
        traffic.start()
        # A manifest lost for good: its event taken off the queue and the object removed.
        body = json.loads(pipeline.faults.steal_manifest_event(timeout_s=60))
        lost = body["Records"][0]["s3"]["object"]["key"]
        s3 = aws.client(pipeline.cfg, "s3")
        s3.delete_objects(
            Bucket=pipeline.names.bucket, Delete={"Objects": [{"Key": lost}], "Quiet": True}
        )
        with psycopg.connect(pipeline.warehouse_dsn) as conn:  # and rows edited by hand
            conn.execute("UPDATE dim_design SET design_name = 'Tampered' WHERE design_id <= 3")
            conn.execute("UPDATE dim_staff SET email_address = 'x@x' WHERE staff_id = 1")
        with (
            psycopg.connect(pipeline.source_dsn) as source,
            psycopg.connect(pipeline.warehouse_dsn, autocommit=True) as warehouse,
        ):
            fixed = repair.repair(source, warehouse)  # while the traffic goes on
        # (live traffic may have replaced some of the edited rows on its own meanwhile)
        assert fixed.found.differences > 0 and fixed.written > 0, fixed.rows
        stop.set()
        traffic.join(timeout=120)
        pipeline.quiesce()
        report = pipeline.observe.reconcile()
        assert report.differences == 0, report.to_json()
        with psycopg.connect(pipeline.warehouse_dsn) as conn:
            tampered = conn.execute(
                "SELECT count(*) FROM dim_design WHERE design_name = 'Tampered'"
            ).fetchone()[0]
        assert tampered == 0
    finally:
        stop.set()
        pipeline.stop()
        pipeline.destroy()

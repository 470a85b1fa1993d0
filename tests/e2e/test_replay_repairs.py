"""After a bug fix: the fixed transform, with a bumped generation, replayed from the start of
the stream, repairs what the buggy one wrote (the whole pipeline as processes)."""

from __future__ import annotations

from collections import Counter

import psycopg
import pytest
from psycopg import sql

from contracts.generation import GENERATION
from local_stack.observe import fact_versions_written
from local_stack.pipeline import Names, Pipeline
from tests.e2e.wrong_transform_app import BUGGY_GENERATION

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

"""full_load_rows_per_s and full_load_stage_ratio: a scaled ToteSys (``cdc simulate seed
--scale N``) through the whole local pipeline into an empty warehouse.

Each size runs twice on fresh resources and the same rows:

- **end to end**: one KCL worker (4 shards) and one loader runner started first and left to
  take their leases (the JVM's start is not counted); then the capture engine starts, and the
  figure is the source rows over the time from the capture's start to the last manifest
  loaded (the ledger's latest ``loaded_at``). Peak RSS (``VmHWM``) of each process is sampled
  every half second: the capture engine, the KCL JVM, the Python record processors (the
  largest of the daemon's one-per-shard children) and the loader.
- **each stage alone**: the capture engine's full load onto the stream with nothing reading
  it (its own start and finish times); then the worker started on the full stream, timed from
  when it holds every lease until it has checkpointed every record; then the loader started on
  the full queue, timed until the last manifest is loaded. ``full_load_stage_ratio`` is the
  end-to-end time over the slowest of the three (goal <= 2: the stages overlap).

Everything (PostgreSQL, the AWS emulation, the KCL's JVM) shares the machine's cores.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench.results import Figure
from bench.usage import ROLES, Usage
from local_stack.harness.pipeline import Pipeline
from local_stack.harness.provision import Names
from local_stack.services.config import StackConfig
from local_stack.services.processes import wait_until

SEED = 15
SHARDS = 4
TIMEOUT_S = 3600


def _pipeline(cfg: StackConfig, tag: str, scale: int) -> tuple[Pipeline, int, float]:
    """A fresh pipeline on a ToteSys seeded at ``scale``: (pipeline, source rows, seconds the
    whole provisioning took: generating the rows, their COPY, the warehouse, the stream…;
    ``cdc simulate seed`` reports the COPY's own rate)."""
    pipeline = Pipeline(
        dataclasses.replace(cfg, stream_shards=SHARDS),
        Names.unique(f"bench-full-{tag}"),
        settings={"TOTESYS_CDC_PUBLISH_METRICS": "0"},
    )
    started = time.perf_counter()
    written = pipeline.create(seed=SEED, scale=scale)
    return pipeline, sum(written.values()), time.perf_counter() - started


def _all_leased(pipeline: Pipeline) -> bool:
    leases = pipeline.observe.leases()
    return len(leases) == SHARDS and all(lease.owner for lease in leases)


def _last_loaded_at(pipeline: Pipeline) -> datetime:
    with psycopg.connect(pipeline.warehouse_dsn) as conn:
        return conn.execute("SELECT max(loaded_at) FROM cdc_load_ledger").fetchone()[0]


def _wait(pipeline: Pipeline, done: Callable[[], bool], what: str, log: str) -> None:
    def check() -> bool:
        pipeline.raise_if_exited()
        return done()

    wait_until(
        check, what=what, timeout_s=TIMEOUT_S, log_path=pipeline.log_path(log), interval_s=0.5
    )


def _everything_loaded(pipeline: Pipeline, ends: dict[str, str]) -> bool:
    return (
        not pipeline.observe.behind(ends)
        and not pipeline.observe.queue_depth()
        and pipeline.observe.ledger() == len(pipeline.observe.manifests())
    )


def end_to_end(cfg: StackConfig, scale: int) -> dict[str, Any]:
    pipeline, rows, seed_s = _pipeline(cfg, f"e2e-{scale}", scale)
    try:
        pipeline.start_process("processor")
        pipeline.start_process("loader")
        _wait(pipeline, lambda: _all_leased(pipeline), "every shard leased", "processor")
        with Usage(pipeline) as usage:
            started = datetime.now(UTC)
            pipeline.capture.start()
            pipeline.capture.wait_running(timeout_s=TIMEOUT_S)
            ends = pipeline.observe.stream_ends()
            _wait(
                pipeline,
                lambda: _everything_loaded(pipeline, ends),
                "every manifest loaded",
                "processor",
            )
        seconds = (_last_loaded_at(pipeline) - started).total_seconds()
        differences = pipeline.observe.reconcile().differences
        return {
            "rows": rows,
            "seconds": round(seconds, 1),
            "rows_per_s": round(rows / seconds, 1),
            "provision_with_seed_rows_per_s": round(rows / seed_s, 1),
            "manifests": len(pipeline.observe.manifests()),
            "reconcile_differences": differences,
            "peak_rss_mb": {role: round(mb, 1) for role, mb in usage.peak_mb.items()},
            "cpu_s": usage.cpu_s(),
        }
    finally:
        pipeline.stop()
        pipeline.destroy()


def stages_alone(cfg: StackConfig, scale: int) -> dict[str, dict[str, Any]]:
    """Seconds each stage takes with the one before it already finished, and the CPU seconds
    each process used meanwhile."""
    pipeline, _, _ = _pipeline(cfg, f"stages-{scale}", scale)
    seconds: dict[str, float] = {}
    cpu: dict[str, dict[str, float]] = {}
    try:
        with Usage(pipeline) as usage:
            before = usage.cpu_s()

            def spent(stage: str) -> None:
                nonlocal before
                now = usage.cpu_s()
                cpu[stage] = {k: round(v - before[k], 1) for k, v in now.items() if v > before[k]}
                before = now

            pipeline.capture.start()
            pipeline.capture.wait_running(timeout_s=TIMEOUT_S)
            status = pipeline.capture.status()
            seconds["capture"] = (
                datetime.fromisoformat(status.full_load_finished_at)
                - datetime.fromisoformat(status.full_load_started_at)
            ).total_seconds()
            spent("capture")
            ends = pipeline.observe.stream_ends()

            pipeline.start_process("processor")
            _wait(pipeline, lambda: _all_leased(pipeline), "every shard leased", "processor")
            spent("processor_start")
            leased = time.monotonic()
            _wait(
                pipeline,
                lambda: not pipeline.observe.behind(ends),
                "every record checkpointed",
                "processor",
            )
            seconds["processor"] = time.monotonic() - leased
            spent("processor")

            started = datetime.now(UTC)
            pipeline.start_process("loader")
            _wait(
                pipeline,
                lambda: _everything_loaded(pipeline, ends),
                "every manifest loaded",
                "loader",
            )
            seconds["loader"] = (_last_loaded_at(pipeline) - started).total_seconds()
            spent("loader")
        return {"seconds": {k: round(v, 1) for k, v in seconds.items()}, "cpu_s": cpu}
    finally:
        pipeline.stop()
        pipeline.destroy()


def run(cfg: StackConfig, work: Path, *, quick: bool) -> list[Figure]:  # noqa: ARG001
    small, large = (1, 2) if quick else (10, 100)
    sizes = {scale: end_to_end(cfg, scale) for scale in (small, large)}
    stages = stages_alone(cfg, large)
    alone = stages["seconds"]
    big, little = sizes[large], sizes[small]
    slowest = max(alone, key=alone.__getitem__)
    growth = {
        role: round(big["peak_rss_mb"][role] / little["peak_rss_mb"][role], 2)
        for role in ROLES
        if little["peak_rss_mb"][role]
    }
    rss = {
        f"peak_rss_mb_{role}": [little["peak_rss_mb"][role], big["peak_rss_mb"][role]]
        for role in ROLES
    }
    return [
        Figure(
            name="full_load_rows_per_s",
            value=big["rows_per_s"],
            unit="rows/s",
            baseline=f"same_pipeline_{little['rows']}_rows",
            baseline_value=little["rows_per_s"],
            params={
                "rows": big["rows"],
                "seconds": big["seconds"],
                "baseline_rows": little["rows"],
                "baseline_seconds": little["seconds"],
                "goal": ">= 10000",
                **rss,
                "peak_rss_growth": growth,
                "rss_goal": "growth <= 1.5x",
                "shards": SHARDS,
                "workers": 1,
                "loaders": 1,
                "manifests": big["manifests"],
                "reconcile_differences": [
                    little["reconcile_differences"],
                    big["reconcile_differences"],
                ],
                "provision_with_seed_rows_per_s": big["provision_with_seed_rows_per_s"],
                "cpu_s": big["cpu_s"],
            },
        ),
        Figure(
            name="full_load_stage_ratio",
            value=round(big["seconds"] / alone[slowest], 2),
            unit="x the slowest stage's time",
            baseline=f"{slowest}_alone",
            baseline_value=1.0,
            lower_is_better=True,
            params={
                "rows": big["rows"],
                "goal": "<= 2",
                "end_to_end_s": big["seconds"],
                **{f"{stage}_alone_s": s for stage, s in alone.items()},
                **{
                    f"{stage}_alone_rows_per_s": round(big["rows"] / s, 1)
                    for stage, s in alone.items()
                },
                "alone_cpu_s": stages["cpu_s"],
            },
        ),
    ]

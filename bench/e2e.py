"""e2e_latency_p50_s / _p95_s / _p99_s: commit-to-warehouse latency of the whole local
pipeline (capture → Kinesis → KCL processor → S3 → SQS → loader → warehouse), default
micro-batch settings, at a steady 200 and 1,000 row changes per second.

Latency of a change: when its fact row was written in the warehouse (``cdc_loaded_at``, the
loader's clock) minus when it was written at the source (``last_updated``, the simulator's
clock, just before its commit); both clocks are this machine's. Every fact version written
during the steady phase counts. Zero loss is checked by ``reconcile`` and by counting fact
versions against the changes committed.

The reference row is the old batch ETL: a run every 15 minutes, so a change waits for the next
run, uniformly 0-900 s (its p-th percentile is 9 p seconds), before the run's own minutes.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import click

from bench.results import RESULTS_PATH, Figure
from local_stack.demo import dashboard
from local_stack.demo.stats import percentile
from local_stack.harness.observe import fact_versions_written
from local_stack.harness.pipeline import Names, Pipeline
from local_stack.services import config as stack_config
from local_stack.services import stack
from local_stack.services.config import StackConfig

BATCH_ETL_SCHEDULE_S = 900.0
PLOT_PATH = RESULTS_PATH.with_name("e2e_latency.png")


def report_path(rate: float) -> Path:
    """The run's HTML report (local_stack.demo.dashboard.html_report), beside the results."""
    return RESULTS_PATH.with_name(f"e2e_report_{rate:g}.html")


def measure(
    cfg: StackConfig, rate: float, seconds: float, settings: dict[str, str] | None = None
) -> dict:
    pipeline = Pipeline(cfg, Names.unique(f"bench-e2e-{int(rate)}"), settings=settings)
    try:
        loaded = pipeline.create()
        pipeline.start()
        pipeline.quiesce()  # the full load is in: from here on the pipeline is steady
        manifests_before = pipeline.observe.ledger()
        since = datetime.now(UTC).replace(tzinfo=None)
        stats = pipeline.traffic(rate=rate, duration_s=seconds, seed=int(rate))
        pipeline.quiesce()
        samples = pipeline.observe.latencies(since)
        counts = pipeline.observe.counts()
        written = fact_versions_written(
            stats.changes + Counter({(t, "load"): n for t, n in loaded.items()})
        )
        lost = sum(n - counts[fact] for fact, n in written.items())
        reconciled = pipeline.observe.reconcile()
        differences = reconciled.differences
        manifests = pipeline.observe.ledger() - manifests_before  # loaded during the traffic
        report = dashboard.observe_run(
            pipeline,
            title=f"make bench: end to end at {rate:g} changes/s",
            settings={
                "rate (changes/s)": f"{rate:g}",
                "seconds": f"{seconds:g}",
                **(settings or {}),
            },
            traffic_started=since,
            reconcile=reconciled.to_json(),
        )
    finally:
        pipeline.stop()
        pipeline.destroy()
    return {
        "rate": rate,
        "seconds": seconds,
        "achieved_rate": round(stats.total_changes / stats.elapsed_s, 1),
        "changes": stats.total_changes,
        "samples": samples,
        "lost": lost,
        "reconcile_differences": differences,
        "manifests": manifests,
        "report": report,
    }


def plot(runs: list[dict], path: Path = PLOT_PATH) -> Path:
    """Latency over time, one panel per rate: every change, and its rolling p50 and p99."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, axes = plt.subplots(len(runs), 1, figsize=(9, 3.2 * len(runs)), squeeze=False)
    for ax, run in zip(axes[:, 0], runs, strict=True):
        start = run["samples"][0][0]
        xs = [(when - start).total_seconds() for when, _ in run["samples"]]
        ys = [latency for _, latency in run["samples"]]
        ax.scatter(xs, ys, s=2, alpha=0.25, label="a change")
        window = max(1, len(ys) // 60)
        centres, p50s, p99s = [], [], []
        for i in range(0, len(ys), window):
            chunk = ys[i : i + window]
            centres.append(xs[min(i + window // 2, len(xs) - 1)])
            p50s.append(percentile(chunk, 50))
            p99s.append(percentile(chunk, 99))
        ax.plot(centres, p50s, color="tab:green", label="p50")
        ax.plot(centres, p99s, color="tab:red", label="p99")
        ax.set_title(f"commit → warehouse at {run['rate']:g} changes/s")
        ax.set_xlabel("seconds into the run")
        ax.set_ylabel("latency (s)")
        ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run(cfg: StackConfig, work: Path, *, quick: bool) -> list[Figure]:  # noqa: ARG001
    seconds = 20.0 if quick else 120.0
    runs = [measure(cfg, rate, seconds) for rate in (200.0, 1000.0)]
    plot(runs)
    for r in runs:
        dashboard.html_report(r["report"], report_path(r["rate"]))
    figures = []
    for r in runs:
        latencies = [s for _, s in r["samples"]]
        for p in (50, 95, 99):
            figures.append(
                Figure(
                    f"e2e_latency_p{p}_s",
                    round(percentile(latencies, p), 3),
                    "s",
                    "batch_etl_15min_schedule",
                    BATCH_ETL_SCHEDULE_S * p / 100,
                    {
                        "rate": r["rate"],
                        "achieved_rate": r["achieved_rate"],
                        "seconds": r["seconds"],
                        "fact_versions_timed": len(latencies),
                        "lost": r["lost"],
                        "reconcile_differences": r["reconcile_differences"],
                        "plot": PLOT_PATH.name,
                        "report": report_path(r["rate"]).name,
                    },
                    lower_is_better=True,
                )
            )
    return figures


KNOBS = [
    {},
    {"TOTESYS_CDC_MAX_BATCH_AGE_S": "0.25"},
    {"TOTESYS_CDC_MAX_BATCH_AGE_S": "3"},
    {"TOTESYS_CDC_KCL_IDLE_TIME_MS": "100"},
    {"TOTESYS_CDC_KCL_IDLE_TIME_MS": "1000"},
]


@click.command()
@click.option("--rate", default=200.0, show_default=True)
@click.option("--seconds", default=30.0, show_default=True)
def sweep(rate: float, seconds: float) -> None:
    """``python -m bench.e2e``: latency under each knob setting (docs/benchmarks.md, "Tuning
    latency")."""
    cfg = stack_config.load()
    started_here = not stack.is_up(cfg)
    stack.up(cfg)
    try:
        for knobs in KNOBS:
            r = measure(cfg, rate, seconds, knobs)
            latencies = [v for _, v in r["samples"]]
            manifests = r["manifests"]
            print(
                f"{', '.join(f'{k}={v}' for k, v in knobs.items()) or 'defaults'}: "
                + ", ".join(f"p{p} {percentile(latencies, p):.2f}s" for p in (50, 95, 99))
                + f"; {manifests} manifests; lost {r['lost']}",
                flush=True,
            )
    finally:
        if started_here:
            stack.down(cfg)


if __name__ == "__main__":
    sweep()

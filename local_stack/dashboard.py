"""The demo's live terminal dashboard: per stage (capture → Kinesis → processor → S3 → loader
→ warehouse) what moved and how far behind it is, per warehouse table its rows and freshness,
and the end-to-end latency percentiles so far. ``sample`` reads the running pipeline
through ``local_stack.observe`` (the stream, the batches bucket, the processor's CloudWatch
metrics, the queue and the warehouse's ledger and tables; never a log line);
``render`` is a pure function of one sample."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg
from rich.console import Group
from rich.table import Table

from cdc.simulator.traffic import TrafficStats
from local_stack.pipeline import Pipeline
from warehouse_loader.freshness import freshness


@dataclass
class Sample:
    elapsed_s: float
    duration_s: float
    committed: int = 0
    captured: int = 0
    capture_lag_s: float = 0.0
    capture_status: str = "-"
    processed: int = 0
    processor_behind_s: float = 0.0
    rows_out: int = 0
    manifests_written: int = 0
    dead_letters: int = 0
    queue_depth: int = 0
    manifests_loaded: int = 0
    tables: dict[str, tuple[int, float | None]] = field(default_factory=dict)  # rows, age s
    latency: tuple[int, float, float, float, float] | None = None  # changes, p50/95/99, max


def sample(
    pipeline: Pipeline,
    stats: TrafficStats,
    *,
    elapsed_s: float,
    duration_s: float,
    since: datetime,
) -> Sample:
    s = Sample(elapsed_s, duration_s, committed=stats.total_changes)
    observe = pipeline.observe
    status = pipeline.capture.status()
    if status is not None:
        s.captured, s.capture_status = status.records_sent, status.status
        s.capture_lag_s = status.cdc_latency_target_s
    manifests = observe.manifests()
    s.processed = observe.records_processed(pipeline.metrics_namespace, pipeline.created_at)
    s.rows_out = sum(f.rows for m in manifests for f in m.files)
    s.manifests_written, s.dead_letters = len(manifests), observe.dead_letters()
    behind_ms = observe.millis_behind_latest(pipeline.metrics_namespace)
    s.processor_behind_s = (behind_ms or 0) / 1000
    s.queue_depth = observe.queue_depth()
    with psycopg.connect(pipeline.warehouse_dsn) as conn:
        s.manifests_loaded = conn.execute("SELECT count(*) FROM cdc_load_ledger").fetchone()[0]
        s.tables = {
            table: (rows, age.total_seconds() if age is not None else None)
            for table, (rows, _, age) in freshness(conn).items()
        }
    s.latency = observe.latency_summary(since)
    return s


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for limit, unit, size in ((120, "s", 1), (7200, " min", 60), (172800, " h", 3600)):
        if seconds < limit:
            return f"{seconds / size:.1f}{unit}" if size == 1 else f"{seconds / size:.0f}{unit}"
    return f"{seconds / 86400:.0f} days"


def render(s: Sample, title: str = "ToteSys CDC, live") -> Group:
    stages = Table(title=f"{title}: {s.elapsed_s:5.1f}s of {s.duration_s:.0f}s")
    for column in ("stage", "moved", "behind"):
        stages.add_column(column, justify="left" if column == "stage" else "right")
    stages.add_row("ToteSys commits", f"{s.committed:,} row changes", "")
    stages.add_row(
        f"capture → Kinesis ({s.capture_status})",
        f"{s.captured:,} records (with the full load)",
        f"{s.capture_lag_s:.2f}s commit → ack",
    )
    stages.add_row(
        "KCL processor",
        f"{s.processed:,} records → {s.rows_out:,} rows",
        f"{s.processor_behind_s:.1f}s behind the stream",
    )
    stages.add_row(
        "S3 micro-batches",
        f"{s.manifests_written:,} manifests, {s.dead_letters} dead letters",
        "",
    )
    stages.add_row(
        "SQS → loader", f"{s.manifests_loaded:,} manifests loaded", f"{s.queue_depth} queued"
    )
    tables = Table(title="warehouse")
    for column in ("table", "rows", "freshness"):
        tables.add_column(column, justify="left" if column == "table" else "right")
    for name, (rows, age) in s.tables.items():
        tables.add_row(name, f"{rows:,}", _age(age))
    tables.caption = "freshness: age of the newest source change loaded"
    latency = Table(title="commit → warehouse latency (facts)")
    for column in ("changes", "p50", "p95", "p99", "max"):
        latency.add_column(column, justify="right")
    if s.latency:
        count, *seconds = s.latency
        latency.add_row(f"{count:,}", *(f"{v:.2f}s" for v in seconds))
    else:
        latency.add_row("0", "-", "-", "-", "-")
    return Group(stages, tables, latency)


def html_report(
    samples: list[tuple[datetime, float]], summary: str, path: Path, title: str
) -> Path:
    """A one-page HTML report: the latency-over-time plot (PNG, inline) and a summary."""
    import base64
    import html
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.5))
    if samples:
        start = samples[0][0]
        ax.scatter(
            [(w - start).total_seconds() for w, _ in samples],
            [v for _, v in samples],
            s=3,
            alpha=0.4,
        )
    ax.set_title("commit → warehouse latency of each fact change")
    ax.set_xlabel("seconds into the traffic")
    ax.set_ylabel("latency (s)")
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=110)
    plt.close(fig)
    path.write_text(
        "<!doctype html><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<body style='font-family: sans-serif; max-width: 60em; margin: 2em auto'>"
        f"<h1>{html.escape(title)}</h1>"
        f"<img alt='latency over time' src='data:image/png;base64,"
        f"{base64.b64encode(png.getvalue()).decode()}'>"
        f"<pre>{html.escape(summary)}</pre></body>\n"
    )
    return path

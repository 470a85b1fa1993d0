"""The demo's live terminal dashboard: per stage (capture → Kinesis → processor → S3 → loader
→ warehouse) what moved and how far behind it is, per warehouse table its rows and freshness,
and the end-to-end latency percentiles so far. ``sample`` reads the running pipeline
through ``local_stack.harness.observe`` (the stream, the batches bucket, the processor's CloudWatch
metrics, the queue and the warehouse's ledger and tables; never a log line);
``render`` is a pure function of one sample."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Group
from rich.table import Table

from cdc.simulator.traffic import TrafficStats
from local_stack.demo.stats import percentile
from local_stack.harness.pipeline import Pipeline
from stream_processor import config as processor_config
from warehouse_tools.freshness import freshness


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


# --- the HTML report: one self-contained file (plots inline as PNG, no network at view time) ---

REPORT_SECTIONS = ("throughput", "tables", "latency", "reconcile", "settings")
STAGES = ("captured", "processed", "loaded")
PERCENTILES = (50, 90, 95, 99)


@dataclass
class RunReport:
    """What one run did, as data: the pure input of ``html_report``. Times are naive UTC.

    ``stages``: per stage, (when, records) events: records arriving on the stream (captured),
    records in the manifests the processor wrote (processed), records in the manifests the
    loader loaded (loaded). ``tables``: rows and freshness (age in seconds) per warehouse
    table. ``latencies``: (source change time, seconds to the warehouse) per fact version.
    ``reconcile``: ``reconcile.Report.to_json()``, None when it was not run."""

    title: str
    settings: dict[str, str]
    traffic_started: datetime | None
    stages: dict[str, list[tuple[datetime, int]]]
    tables: dict[str, tuple[int, float | None]]
    latencies: list[tuple[datetime, float]]
    reconcile: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)


def _naive_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def observe_run(
    pipeline: Pipeline,
    *,
    title: str,
    settings: dict[str, str],
    traffic_started: datetime | None,
    reconcile: dict[str, Any] | None,
    notes: list[str] | None = None,
) -> RunReport:
    """Read a finished run's report from the pipeline's parts (the stream, the batches
    bucket, the warehouse's ledger and tables): call before the pipeline is destroyed.
    ``reconcile``: the caller's ``reconcile.Report.to_json()`` (None: not run)."""
    observe = pipeline.observe
    captured = [
        (_naive_utc(r["ApproximateArrivalTimestamp"]), 1) for _, r in observe.stream_records()
    ]
    processed = [(_naive_utc(m.written_at), m.records) for m in observe.manifests()]
    with psycopg.connect(pipeline.warehouse_dsn) as conn:
        loaded = [
            (_naive_utc(at), records)
            for at, records in conn.execute("SELECT loaded_at, records FROM cdc_load_ledger")
        ]
        tables = {
            table: (rows, age.total_seconds() if age is not None else None)
            for table, (rows, _, age) in freshness(conn).items()
        }
    processor = processor_config.load(pipeline.env)
    return RunReport(
        title=title,
        settings={
            **settings,
            "shards": str(pipeline.cfg.stream_shards),
            "TOTESYS_CDC_MAX_BATCH_ROWS": str(processor.max_batch_rows),
            "TOTESYS_CDC_MAX_BATCH_BYTES": str(processor.max_batch_bytes),
            "TOTESYS_CDC_MAX_BATCH_AGE_S": str(processor.max_batch_age_s),
            "TOTESYS_CDC_KCL_IDLE_TIME_MS": str(processor.kcl_idle_time_ms),
            "run": pipeline.names.task_id,
        },
        traffic_started=traffic_started,
        stages={"captured": captured, "processed": processed, "loaded": loaded},
        tables=tables,
        latencies=observe.latencies(traffic_started or datetime.min),
        reconcile=reconcile,
        notes=notes or [],
    )


def throughput(
    stages: dict[str, list[tuple[datetime, int]]], bins: int = 60
) -> tuple[datetime | None, float, dict[str, list[float]]]:
    """(start, bin width in seconds, per stage its records per second in each bin) over the
    span of every stage's events: one time axis for all."""
    moments = [when for events in stages.values() for when, _ in events]
    if not moments:
        return None, 1.0, {stage: [] for stage in stages}
    start, end = min(moments), max(moments)
    width = max(1.0, (end - start).total_seconds() / bins)
    count = int((end - start).total_seconds() // width) + 1
    rates = {}
    for stage, events in stages.items():
        per_bin = [0.0] * count
        for when, records in events:
            per_bin[int((when - start).total_seconds() // width)] += records / width
        rates[stage] = per_bin
    return start, width, rates


def latency_percentiles(seconds: list[float]) -> dict[str, float]:
    """p50/p90/p95/p99 (nearest rank, as the benchmarks) and max; empty without samples."""
    if not seconds:
        return {}
    return {**{f"p{p}": percentile(seconds, p) for p in PERCENTILES}, "max": max(seconds)}


def _png(fig: Any) -> str:  # noqa: ANN401 - a matplotlib figure
    import base64
    import io

    from matplotlib import pyplot as plt

    out = io.BytesIO()
    fig.tight_layout()
    fig.savefig(out, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(out.getvalue()).decode()


def _figure(name: str, points: int, png: str, alt: str) -> str:
    """A plot as the report shows it: ``data-points`` says how many values it draws (the
    browser check and the suite test insist on more than none)."""
    return (
        f"<figure class='plot' data-plot='{name}' data-points='{points}'>"
        f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{png}'></figure>"
    )


def _plots(report: RunReport) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    plots = {}
    # the whole run, and (where the traffic started after a full load) the traffic alone,
    # whose rate a full load's burst would flatten
    panels = [("the whole run", report.stages)]
    if report.traffic_started is not None:
        during = {
            stage: [(when, n) for when, n in events if when >= report.traffic_started]
            for stage, events in report.stages.items()
        }
        if any(during.values()):
            panels.append(("from the start of the traffic", during))
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 3.2 * len(panels)), squeeze=False)
    for ax, (label, stages) in zip(axes[:, 0], panels, strict=True):
        start, width, rates = throughput(stages)
        for stage in STAGES:
            xs = [i * width for i in range(len(rates.get(stage, [])))]
            ax.plot(xs, rates.get(stage, []), label=stage, drawstyle="steps-post")
        if label == "the whole run" and start is not None and report.traffic_started:
            ax.axvline((report.traffic_started - start).total_seconds(), color="grey", ls=":")
        ax.set(
            xlabel=f"seconds into {label.removeprefix('from the start of ')}",
            ylabel="records / s",
            title=f"throughput per stage: {label}",
        )
        ax.legend(loc="upper right")
    points = sum(len(events) for events in report.stages.values())
    plots["throughput"] = _figure("throughput", points, _png(fig), "throughput per stage")

    seconds = [v for _, v in report.latencies]
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    if report.latencies:
        first = report.latencies[0][0]
        ax.scatter(
            [(w - first).total_seconds() for w, _ in report.latencies], seconds, s=3, alpha=0.4
        )
    ax.set(
        xlabel="seconds into the traffic",
        ylabel="latency (s)",
        title="commit → warehouse, each fact change",
    )
    plots["scatter"] = _figure("scatter", len(seconds), _png(fig), "latency over time")
    fig, ax = plt.subplots(figsize=(4.5, 3.4))
    if seconds:
        ax.hist(seconds, bins=40)
    ax.set(xlabel="latency (s)", ylabel="fact changes", title="latency distribution")
    plots["histogram"] = _figure("histogram", len(seconds), _png(fig), "latency histogram")

    names = list(report.tables)
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    ax.barh(names, [report.tables[n][0] for n in names])
    ax.invert_yaxis()
    ax.set(xlabel="rows", title="warehouse rows per table")
    plots["tables"] = _figure("tables", len(names), _png(fig), "rows per table")
    return plots


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]], cls: str) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table class='{cls}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def report_data(report: RunReport) -> dict[str, Any]:
    """The figures the page shows, embedded in it as JSON (``<script id='report-data'>``)."""
    seconds = [v for _, v in report.latencies]
    return {
        "title": report.title,
        "settings": report.settings,
        "stages": {stage: sum(n for _, n in events) for stage, events in report.stages.items()},
        "tables": {
            t: {"rows": rows, "freshness_s": age} for t, (rows, age) in report.tables.items()
        },
        "latency": {"changes": len(seconds), **latency_percentiles(seconds)},
        "reconcile": report.reconcile,
        "notes": report.notes,
    }


# The browser check (tools/report_check.py) reads what this marks on each plot; a plot that
# does not decode is a console error.
_CHECK_SCRIPT = """
window.addEventListener('load', () => {
  for (const fig of document.querySelectorAll('figure.plot')) {
    const img = fig.querySelector('img');
    const ok = img !== null && img.complete && img.naturalWidth > 0;
    fig.dataset.rendered = ok ? 'yes' : 'no';
    if (!ok) console.error('plot did not render: ' + fig.dataset.plot);
  }
  document.body.dataset.checked = 'yes';
});
"""

_STYLE = """
body { font-family: sans-serif; max-width: 72em; margin: 2em auto; color: #222; }
section { margin-bottom: 2.5em; }
.row { display: flex; gap: 1.5em; align-items: flex-start; flex-wrap: wrap; }
figure { margin: 0; }
img { max-width: 100%; }
table { border-collapse: collapse; font-size: 0.92em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.7em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.bad { color: #b00; font-weight: bold; } .good { color: #070; font-weight: bold; }
"""


def html_report(report: RunReport, path: Path) -> Path:
    """Write the report as one HTML file: throughput per stage over time, rows and freshness
    per table, the latency scatter with its histogram and percentiles, the reconcile summary
    and the settings used; the figures also as JSON in the page."""
    plots = _plots(report)
    data = report_data(report)
    latency = data["latency"]
    percentiles = _table(
        ("changes", *[k for k in latency if k != "changes"]),
        [(f"{latency['changes']:,}", *[f"{v:.2f}s" for k, v in latency.items() if k != "changes"])],
        "percentiles",
    )
    tables = _table(
        ("table", "rows", "freshness"),
        [(t, f"{rows:,}", _age(age)) for t, (rows, age) in report.tables.items()],
        "tables",
    )
    stage_totals = _table(
        ("stage", "records"), [(s, f"{n:,}") for s, n in data["stages"].items()], "stages"
    )
    if report.reconcile is None:
        verdict = "<p class='bad'>not run (the traffic was interrupted)</p>"
        reconcile = ""
    else:
        differences = report.reconcile["differences"]
        verdict = (
            "<p class='good'>no differences between the warehouse and ToteSys</p>"
            if differences == 0
            else f"<p class='bad'>{differences} differences</p>"
        )
        reconcile = _table(
            ("table", "source rows", "warehouse rows", "differences"),
            [
                (
                    t,
                    f"{d['source_rows']:,}",
                    f"{d['warehouse_rows']:,}",
                    ", ".join(f"{k}: {v['count']}" for k, v in d["differences"].items()) or "-",
                )
                for t, d in report.reconcile["tables"].items()
            ],
            "reconcile",
        )
    settings = _table(("setting", "value"), sorted(report.settings.items()), "settings")
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
    embedded = json.dumps(data, default=str).replace("</", "<\\/")
    path.write_text(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(report.title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(report.title)}</h1><ul class='notes'>{notes}</ul>"
        "<section id='throughput'><h2>Throughput per stage</h2>"
        f"<div class='row'>{plots['throughput']}{stage_totals}</div></section>"
        "<section id='tables'><h2>Warehouse tables: rows and freshness</h2>"
        f"<div class='row'>{plots['tables']}{tables}</div>"
        "<p>freshness: age of the newest source change loaded, when the report was made</p>"
        "</section>"
        "<section id='latency'><h2>Commit → warehouse latency</h2>"
        f"<div class='row'>{plots['scatter']}<div>{plots['histogram']}{percentiles}</div></div>"
        "</section>"
        f"<section id='reconcile'><h2>Reconcile</h2>{verdict}{reconcile}</section>"
        f"<section id='settings'><h2>Settings</h2>{settings}</section>"
        f"<script type='application/json' id='report-data'>{embedded}</script>"
        f"<script>{_CHECK_SCRIPT}</script></body></html>\n"
    )
    return path

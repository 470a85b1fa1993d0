"""The HTML report built from synthetic observations, read back without a browser: its
sections, its plots (each with data, inline, nothing fetched at view time) and the figures
embedded as JSON. (`make report-check` renders a real report in headless chromium.)"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timedelta
from html.parser import HTMLParser

import pytest

from local_stack.demo.dashboard import REPORT_SECTIONS, RunReport, html_report, throughput

T0 = datetime(2026, 11, 26, 6, 0, 0)


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.figures: list[dict[str, str]] = []
        self.images: list[str] = []
        self.urls: list[str] = []
        self.scripts: dict[str, str] = {}
        self._script: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a["id"])
        if tag == "figure":
            self.figures.append(a)
        if tag == "img":
            self.images.append(a["src"])
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]
        if tag == "script":
            self._script = a.get("id", "inline")

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self.scripts[self._script] = self.scripts.get(self._script, "") + data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None


def synthetic(latencies: int = 300) -> RunReport:
    """A 60 s run: a full load at the start, then 100 records/s through every stage."""
    captured = [(T0, 1)] * 500 + [(T0 + timedelta(seconds=10 + i / 100), 1) for i in range(5000)]
    processed = [(T0 + timedelta(seconds=2), 500)] + [
        (T0 + timedelta(seconds=11 + i), 100) for i in range(50)
    ]
    loaded = [(when + timedelta(seconds=1), n) for when, n in processed]
    return RunReport(
        title="synthetic <run>",
        settings={"rate (changes/s)": "100", "TOTESYS_CDC_MAX_BATCH_AGE_S": "1.0"},
        traffic_started=T0 + timedelta(seconds=10),
        stages={"captured": captured, "processed": processed, "loaded": loaded},
        tables={"dim_staff": (20, 3.5), "fact_payment": (1234, 1.2), "dim_date": (40, None)},
        latencies=[
            (T0 + timedelta(seconds=10 + i / 5), 1.0 + (i % 100) / 50) for i in range(latencies)
        ],
        reconcile={
            "differences": 1,
            "tables": {
                "fact_payment": {
                    "source_rows": 1234,
                    "warehouse_rows": 1233,
                    "differences": {"missing": {"count": 1, "sample_keys": ["77"]}},
                }
            },
        },
        notes=["reconcile: 1 DIFFERENCES between the warehouse and ToteSys"],
    )


def test_the_report_has_every_section_its_plots_and_its_figures_embedded(tmp_path):
    path = html_report(synthetic(), tmp_path / "report.html")
    text = path.read_text()
    page = Page()
    page.feed(text)
    assert page.sections == list(REPORT_SECTIONS)
    plots = {f["data-plot"]: int(f["data-points"]) for f in page.figures}
    assert plots == {"throughput": 5500 + 51 + 51, "tables": 3, "scatter": 300, "histogram": 300}
    for src in page.images:  # every plot inline, a real PNG
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert all(u.startswith("data:") for u in page.urls), "nothing is fetched at view time"
    assert "<h1>synthetic &lt;run&gt;</h1>" in text  # text is escaped

    data = json.loads(page.scripts["report-data"])
    assert data["stages"] == {"captured": 5500, "processed": 5500, "loaded": 5500}
    assert data["tables"]["fact_payment"] == {"rows": 1234, "freshness_s": 1.2}
    assert data["settings"]["TOTESYS_CDC_MAX_BATCH_AGE_S"] == "1.0"
    latency = data["latency"]
    assert latency["changes"] == 300
    assert latency["p50"] == pytest.approx(1.98) and latency["max"] == pytest.approx(2.98)
    assert latency["p50"] <= latency["p90"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    assert data["reconcile"]["differences"] == 1
    # the percentile table beside the scatter, and the reconcile verdict
    assert re.search(r"<table class='percentiles'>.*p99.*</table>", text)
    assert "1 differences" in text and "missing: 1" in text


def test_a_plot_without_data_says_so(tmp_path):
    page = Page()
    page.feed(html_report(synthetic(latencies=0), tmp_path / "r.html").read_text())
    plots = {f["data-plot"]: int(f["data-points"]) for f in page.figures}
    assert plots["scatter"] == plots["histogram"] == 0
    assert json.loads(page.scripts["report-data"])["latency"] == {"changes": 0}


def test_throughput_puts_every_stage_on_one_time_axis_in_records_per_second():
    start, width, rates = throughput(synthetic().stages, bins=60)
    assert start == T0 and width == pytest.approx(61 / 60)  # the last load, 61 s in
    assert {len(r) for r in rates.values()} == {len(rates["captured"])}
    for stage, events in synthetic().stages.items():
        assert sum(rates[stage]) * width == pytest.approx(sum(n for _, n in events))

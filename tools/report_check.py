"""``make report-check``: render the latest HTML report in a real browser (Debian's chromium,
headless) and check it: the page loads and its check script ran, every section is there,
every plot has data and decoded as an image, the page wrote nothing to the console, and the
screenshot is not blank. The screenshot is written beside the report (``<report>.png``).

The latest report is the newest of ``.local/demo-report.html`` (``make demo``) and
``bench/e2e_report_*.html`` (``make bench``), or the file given. Chromium runs with a proxy
that leads nowhere (127.0.0.1:9) and its background services off, so nothing leaves the
machine and a report that needed the network would show it. Installs nothing: without
chromium it says how to get it and exits 2.

Chromium's log (``--enable-logging=stderr``) writes every console message as a ``CONSOLE``
line without its level; the report writes to the console only when a plot fails to decode,
so any console message from the page fails the check.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import click

from local_stack.demo.dashboard import REPORT_SECTIONS

ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = (".local/demo-report.html", "bench/e2e_report_*.html")
TIMEOUT_S = 120


class CheckFailed(Exception):
    """The report does not pass; the message says what is wrong."""


def latest_report(root: Path = ROOT) -> Path | None:
    found = [p for pattern in CANDIDATES for p in root.glob(pattern)]
    return max(found, key=lambda p: p.stat().st_mtime, default=None)


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def flags(profile: Path) -> list[str]:
    """Headless, its own throw-away profile, no traffic off the machine."""
    out = [
        "--headless",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--proxy-server=http://127.0.0.1:9",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--hide-scrollbars",
    ]
    if os.geteuid() == 0:  # chromium refuses to start its sandbox as root
        out.append("--no-sandbox")
    return out


class Dom(HTMLParser):
    """What the check needs from the DOM chromium dumps after the page's load event."""

    def __init__(self) -> None:
        super().__init__()
        self.checked = False
        self.sections: list[str] = []
        self.plots: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "body":
            self.checked = a.get("data-checked") == "yes"
        elif tag == "section":
            self.sections.append(a.get("id") or "")
        elif tag == "figure" and "plot" in (a.get("class") or "").split():
            self.plots.append(a)


def check_dom(dom: str) -> list[str]:
    """What the dumped DOM shows wrong (nothing: an empty list)."""
    page = Dom()
    page.feed(dom)
    problems = []
    if not page.checked:
        problems.append("the page's load event never ran its check (did it load?)")
    missing = [s for s in REPORT_SECTIONS if s not in page.sections]
    if missing:
        problems.append(f"sections missing: {', '.join(missing)}")
    if not page.plots:
        problems.append("no plot at all")
    for plot in page.plots:
        name = plot.get("data-plot")
        if int(plot.get("data-points") or 0) <= 0:
            problems.append(f"plot '{name}' has no data")
        if plot.get("data-rendered") != "yes":
            problems.append(f"plot '{name}' did not render as an image")
    return problems


def console_messages(log: str, url: str) -> list[str]:
    """The page's console messages in chromium's log (``...:CONSOLE...] "text", source: url``)."""
    return [line for line in log.splitlines() if re.search(r":CONSOLE[:(]", line) and url in line]


def blank(screenshot: Path) -> bool:
    """True when the screenshot is one flat colour (nothing drawn)."""
    from matplotlib import image

    pixels = image.imread(screenshot)
    return float(pixels.std()) < 0.01


def run(browser: str, args: list[str], url: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [browser, *args, url], capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        raise CheckFailed(f"chromium exited {done.returncode}: {done.stderr.strip()[-800:]}")
    return done


def check(report: Path, browser: str) -> Path:
    """Render and check ``report``; return the screenshot's path. Raises ``CheckFailed``."""
    url = report.resolve().as_uri()
    screenshot = report.with_suffix(".png")
    with tempfile.TemporaryDirectory(prefix="report-check-") as profile:
        base = flags(Path(profile))
        dumped = run(browser, [*base, "--dump-dom"], url)
        shot = run(browser, [*base, "--window-size=1280,2600", f"--screenshot={screenshot}"], url)
    problems = check_dom(dumped.stdout)
    problems += [f"console: {m}" for m in console_messages(dumped.stderr + shot.stderr, url)]
    if not screenshot.exists() or screenshot.stat().st_size == 0:
        problems.append(f"no screenshot written at {screenshot}")
    elif blank(screenshot):
        problems.append(f"the screenshot is blank: {screenshot}")
    if problems:
        raise CheckFailed("\n".join(problems))
    return screenshot


@click.command()
@click.argument("report", required=False, type=click.Path(exists=True, path_type=Path))
def main(report: Path | None) -> None:
    """Render the latest report (or REPORT) in headless chromium and check it."""
    browser = chromium()
    if browser is None:
        click.echo(
            "report-check needs chromium, which is not installed. On Debian or Ubuntu: "
            "sudo apt-get install chromium (this check installs nothing itself).",
            err=True,
        )
        sys.exit(2)
    report = report or latest_report()
    if report is None:
        click.echo(
            f"no report found ({', '.join(CANDIDATES)}): run 'make demo' or 'make bench' first",
            err=True,
        )
        sys.exit(2)
    try:
        screenshot = check(report, browser)
    except CheckFailed as exc:
        click.echo(f"report-check FAILED for {report}:\n{exc}", err=True)
        sys.exit(1)
    except subprocess.TimeoutExpired:
        click.echo(f"report-check FAILED: chromium took more than {TIMEOUT_S}s", err=True)
        sys.exit(1)
    click.echo(f"report-check passed: {report} (screenshot: {screenshot})")


if __name__ == "__main__":
    main()

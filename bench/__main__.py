"""``python -m bench [--only NAME] [--quick]``: run the benchmarks on the local stack."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import click

from bench import (
    capture,
    e2e,
    e2e_max,
    full_load,
    loader,
    loader_cold_start,
    loader_history,
    loader_scaling,
    processor,
    processor_scaling,
)
from bench.results import Figure, report, run_description, write_run
from local_stack.services import config as stack_config
from local_stack.services import stack

BENCHMARKS: dict[str, Callable[..., list[Figure]]] = {
    "capture_changes_per_s": capture.run,
    "processor_records_per_s": processor.run,
    "processor_scaling_records_per_s": processor_scaling.run,
    "loader": loader.run,
    "loader_history": loader_history.run,
    "loader_cold_start": loader_cold_start.run,
    "loader_scaling_rows_per_s": loader_scaling.run,
    "e2e_latency": e2e.run,
    "full_load": full_load.run,
    "e2e_max_sustained_changes_per_s": e2e_max.run,
}


@click.command()
@click.option("--only", "only", default=None, help=f"One of: {', '.join(BENCHMARKS)}.")
@click.option("--quick", is_flag=True, help="Short runs (well under a minute each).")
def main(only: str | None, quick: bool) -> None:
    if only and only not in BENCHMARKS:
        raise click.BadParameter(f"unknown benchmark {only!r}; known: {', '.join(BENCHMARKS)}")
    cfg = stack_config.load()
    started = datetime.now(UTC)
    started_here = not stack.is_up(cfg)
    stack.up(cfg)
    figures: list[Figure] = []
    try:
        with tempfile.TemporaryDirectory(prefix="totesys-bench-") as work:
            for name, bench in BENCHMARKS.items():
                if only in (None, name):
                    figures += bench(cfg, Path(work), quick=quick)
    finally:
        if started_here:
            stack.down(cfg)
    report(figures)
    write_run(run_description(full=only is None, quick=quick, started=started))


if __name__ == "__main__":
    sys.exit(main())

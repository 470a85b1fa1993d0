"""``python -m cost_model``: the sizing and cost tables of docs/sizing.md, as markdown.

``python -m cost_model`` prints them, with the arithmetic of every cell;
``python -m cost_model --write docs/sizing.md`` replaces the generated part of that page.
``--set name=value`` overrides any named input (``--set files_per_manifest=4``,
``--set dms_instance_hour[dms.c5.large]=0.16``).

Measured figures come from the committed snapshot, ``docs/benchmarks.json`` (bench/snapshot.py),
or with ``--results bench/results.json`` from what ``make bench`` last wrote on this machine.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import snapshot
from bench.results import RESULTS_PATH
from cost_model.page import generate, write_into


def read_results(path: Path = RESULTS_PATH) -> list[dict[str, Any]]:
    """The figures ``make bench`` last wrote (bench/results.py's format, a list of figures)."""
    try:
        figures = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc
    return [f for f in figures if isinstance(f, dict) and "name" in f and "value" in f]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cost_model", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--snapshot",
        type=Path,
        default=snapshot.SNAPSHOT_PATH,
        help="the committed benchmark figures",
    )
    parser.add_argument(
        "--results", type=Path, help="this machine's bench/results.json instead of the snapshot"
    )
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE"
    )
    parser.add_argument("--write", type=Path, help="replace the generated block of this page")
    args = parser.parse_args(argv)
    try:
        figures = (
            read_results(args.results)
            if args.results
            else snapshot.figures_of(snapshot.load(args.snapshot))
        )
        generated = generate(figures, args.overrides)
        if args.write:
            write_into(args.write, generated)
        else:
            sys.stdout.write(generated)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0

"""Shared helpers of the cost model's tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import snapshot
from cost_model.inputs import Assumptions, Inputs, Measured, with_overrides


def inputs(**changes: object) -> Inputs:
    """Fixed figures (not this machine's results.json) so the arithmetic below is exact."""
    measured = Measured(
        processor_records_per_s_per_core=40_000,
        loader_rows_per_s_per_connection=100_000,
        warehouse_rows_per_s_per_core=100_000,
        capture_changes_per_s=5_000,
    )
    # Half the in-process rate for the daemon's costs: round figures for the arithmetic below.
    assumptions = Assumptions(record_bytes=750, processor_aws_efficiency=0.5)
    i = Inputs(measured=measured, assumptions=assumptions)
    return with_overrides(i, [f"{k}={v}" for k, v in changes.items()])


def figures_from(snapshot_path: Path) -> list[dict[str, Any]]:
    """A snapshot's figures, each with its run, as the cost model reads them."""
    return snapshot.figures_of(snapshot.load(snapshot_path))

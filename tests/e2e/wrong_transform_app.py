"""The production record processor with a deliberate bug, injected by wrapping: every
dim_design row's name is wrong, and its batches say they were made by the generation before
the current one (the release the fix replaces). Run by the KCL daemon as ``python -m
tests.e2e.wrong_transform_app`` (``test_repairs``)."""

from __future__ import annotations

import sys

import stream_processor.batch
import stream_processor.shard
from contracts.generation import GENERATION
from stream_processor import kcl_app
from stream_processor.transform import Output, OutRow, transform

BUGGY_GENERATION = GENERATION - 1
SUFFIX = " (wrong)"


def wrong_transform(change, view) -> Output:  # noqa: ANN001 - as transform's
    out = transform(change, view)
    rows = tuple(
        OutRow(r.table, {**r.values, "design_name": r.values["design_name"] + SUFFIX})
        if r.table == "dim_design" and r.values.get("design_name")
        else r
        for r in out.rows
    )
    return Output(rows, out.writes)


if __name__ == "__main__":
    stream_processor.shard.transform = wrong_transform
    stream_processor.batch.GENERATION = BUGGY_GENERATION
    sys.exit(kcl_app.main())

"""The generated part of docs/sizing.md: the sizing and cost tables as markdown, with the
arithmetic of every cell and every input named, between the page's sizing markers."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cost_model.cost import monthly_cost
from cost_model.inputs import (
    LIMIT_SOURCES,
    PRICE_CHECKS,
    PRICE_SOURCES,
    UNCONFIRMED,
    Inputs,
    price_check_summary,
    with_overrides,
)
from cost_model.measured import load_measured
from cost_model.sizing import number, size

RATES = (1_000, 10_000, 100_000)
BEGIN, END = "<!-- sizing:begin -->", "<!-- sizing:end -->"


def _pct(x: float) -> str:
    return f"{x:.0%}" if x < 10 else f"{x:,.0f}×"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return out


KIND_NOTE = {
    "rate": "",
    "setting": " (set by kcl_idle_time_ms, whatever the rate)",
    "ramp": " (until the stream has scaled up)",
}

SUMMARY_ROWS = (
    ("Kinesis shards", "shards"),
    ("ECS tasks (KCL workers)", "ecs_tasks"),
    ("Lambda concurrency (`loader_concurrency`)", "lambda_concurrency"),
    ("warehouse connections", "warehouse_connections"),
    ("warehouse vCPU busy loading", "warehouse_vcpu"),
    ("DMS instance", "dms"),
)


def render(i: Inputs, rates: Sequence[int] = RATES) -> str:
    sizings = [size(r, i) for r in rates]
    heads = [f"{number(r)} changes/s" for r in rates]
    out = [i.measured.basis, ""] if i.measured.basis else []
    out += ["### The table", ""]
    rows = [[label, *[_fmt(sz[key]) for sz in sizings]] for label, key in SUMMARY_ROWS]
    rows[0] = [
        rows[0][0],
        *[
            f"{sz['shards']}"
            + (f" ({sz['stream_shards']} on demand)" if sz["stream_shards"] != sz["shards"] else "")
            for sz in sizings
        ],
    ]
    rows.append(
        [
            "bites first",
            *[
                "; ".join(f"{u.limit} ({_pct(u.used)})" for u in sz.bites_first[:2])
                for sz in sizings
            ],
        ]
    )
    out += _table(["", *heads], rows)
    for sz in sizings:
        out += ["", f"### {number(sz.rate)} changes/s: the arithmetic", ""]
        out += _table(
            ["quantity", "value", "arithmetic"],
            [[k.replace("_", " "), _fmt(c.value), c.how] for k, c in sz.cells.items()],
        )
        out += ["", "Limits at this rate:", ""]
        out += _table(
            ["limit", "used", "of"],
            [[u.limit + KIND_NOTE[u.kind], _pct(u.used), u.how] for u in sz.uses],
        )
    out += ["", f"### Cost per month at {number(rates[0])} changes/s", ""]
    out += _cost_tables(rates[0], i)
    out += ["", "### Inputs", ""]
    out += _inputs(i)
    return "\n".join(out) + "\n"


def _fmt(v: Any) -> str:  # noqa: ANN401
    if isinstance(v, bool) or not isinstance(v, int | float):
        return str(v)
    return number(v)


def _cost_tables(rate: int, i: Inputs) -> list[str]:
    out: list[str] = []
    variants = [
        ("default settings (`ON_DEMAND`, batch age 1 s)", i),
        (
            "`kinesis_stream_mode = PROVISIONED`",
            dataclasses.replace(
                i, settings=dataclasses.replace(i.settings, stream_mode="PROVISIONED")
            ),
        ),
        (
            "`PROVISIONED` and `max_batch_age_s = 5`",
            dataclasses.replace(
                i,
                settings=dataclasses.replace(
                    i.settings, stream_mode="PROVISIONED", max_batch_age_s=5.0
                ),
            ),
        ),
    ]
    lines = monthly_cost(rate, i)
    out += _table(
        ["item", "arithmetic", "per month"],
        [[c.item + ("" if c.asked else " (also billed)"), c.how, f"${c.usd:,.2f}"] for c in lines],
    )
    out += ["", price_check_summary(i.prices), ""]
    totals = []
    for label, variant in variants:
        cost = monthly_cost(rate, variant)
        asked = sum(c.usd for c in cost if c.asked)
        total = sum(c.usd for c in cost)
        totals.append([label, f"${asked:,.0f}", f"${total:,.0f}"])
    out += _table(
        [
            f"at {number(rate)} changes/s",
            "Kinesis, S3, SQS, Lambda, Fargate, DMS",
            "and CloudWatch, DynamoDB",
        ],
        totals,
    )
    return out


def _inputs(i: Inputs) -> list[str]:
    m = i.measured
    out = ["Measured (this project):", ""]
    out += _table(
        ["figure", "value", "source"],
        [
            [k, number(getattr(m, k)), m.sources.get(k, "")]
            for k in (
                "processor_records_per_s_per_core",
                "loader_rows_per_s_per_connection",
                "warehouse_rows_per_s_per_core",
                "capture_changes_per_s",
            )
        ],
    )
    out += ["", "Settings (the code's and terraform's defaults):", ""]
    out += _table(
        ["setting", "value"],
        [[f.name, _fmt(getattr(i.settings, f.name))] for f in dataclasses.fields(i.settings)],
    )
    out += ["", "Assumptions (named in `cost_model/inputs.py` with their reasons):", ""]
    out += _table(
        ["assumption", "value"],
        [
            [f.name, _fmt(getattr(i.assumptions, f.name))]
            for f in dataclasses.fields(i.assumptions)
            if f.name != "dms_class_by_rate"
        ],
    )
    out += ["", "AWS limits:", ""]
    out += _table(
        ["limit", "value", "source"],
        [
            [f.name, number(getattr(i.limits, f.name)), LIMIT_SOURCES.get(f.name, "")]
            for f in dataclasses.fields(i.limits)
        ],
    )
    p = i.prices
    out += ["", f"Prices ({p.region}, as written on {p.as_of}):", ""]
    rows = []
    for f in dataclasses.fields(p):
        if f.name in ("region", "as_of"):
            continue
        value = getattr(p, f.name)
        page = PRICE_SOURCES.get(f.name.split("_")[0], "")
        checked = PRICE_CHECKS.get(f.name, UNCONFIRMED)
        if isinstance(value, Mapping):
            rows += [[f"{f.name}[{k}]", f"${v:g}", page, checked] for k, v in value.items()]
        elif f.name.endswith("_factor"):
            rows.append([f.name, f"×{value:g}", page, UNCONFIRMED])
        else:
            rows.append([f.name, f"${value:g}", page, checked])
    out += _table(["price", "USD", "page", "checked against"], rows)
    return out


def write_into(page: Path, generated: str) -> None:
    """Replace what lies between the page's sizing markers."""
    text = page.read_text()
    if BEGIN not in text or END not in text:
        raise ValueError(f"{page} has no {BEGIN} … {END} block")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    page.write_text(f"{head}{BEGIN}\n\n{generated}\n{END}{tail}")


def generate(figures: Sequence[Mapping[str, Any]], overrides: Sequence[str] = ()) -> str:
    """The page's generated part for these figures."""
    # The measured figures are read with the assumptions they are counted in.
    first = with_overrides(Inputs(load_measured(figures)), overrides)
    measured = load_measured(figures, first.assumptions)
    return render(with_overrides(dataclasses.replace(first, measured=measured), overrides))

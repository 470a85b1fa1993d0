"""The terraform configuration parsed once with python-hcl2, for the tests that check it
without terraform or an AWS account: every file, its resource, data and variable blocks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hcl2

from tests.fixtures import ROOT

TF = ROOT / "terraform"


def clean(value: Any, *, blocks: bool = False) -> Any:
    """python-hcl2's output without its quoting and bookkeeping keys (with blocks=True,
    ``__is_block__`` kept: a nested block told from an argument, as the provider schema needs)."""
    drop = {"__comments__", "__inline_comments__"} | (set() if blocks else {"__is_block__"})
    if isinstance(value, dict):
        return {
            clean(k, blocks=blocks): clean(v, blocks=blocks)
            for k, v in value.items()
            if k not in drop
        }
    if isinstance(value, list):
        return [clean(v, blocks=blocks) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def parse(path: Path, *, blocks: bool = False) -> dict[str, Any]:
    with path.open() as f:
        return clean(hcl2.load(f), blocks=blocks)


FILES = sorted(TF.rglob("*.tf"))
PARSED = {path: parse(path) for path in FILES}


def blocks(kind: str, *, under: Path = TF) -> dict[tuple[str, str], dict[str, Any]]:
    """(type, name) → body of every ``resource`` or ``data`` block in the files under a folder."""
    found = {}
    for path, doc in PARSED.items():
        if path.parent != under:
            continue
        for entry in doc.get(kind, []):
            for rtype, named in entry.items():
                for name, body in named.items():
                    found[(rtype, name)] = body
    return found


RESOURCES = blocks("resource")
DATA = blocks("data")
VARIABLES = {k: v for doc in PARSED.values() for d in doc.get("variable", []) for k, v in d.items()}


def one(rtype: str, name: str) -> dict[str, Any]:
    assert (rtype, name) in RESOURCES, f"no {rtype}.{name}"
    return RESOURCES[(rtype, name)]

"""Every resource and data block of ``terraform/`` against the AWS provider's schema at the
version versions.tf pins: only arguments and nested blocks that exist, every required one set,
literal values of the right type. The schema is the trimmed extract tools/provider_schema.py
writes from ``@cdktf/provider-aws``'s ``.jsii`` manifest (generated from ``terraform providers
schema``); what this cannot catch: docs/aws-vs-local.md, "Terraform"."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import hcl2
import pytest

from tests.terraform.fixtures import FILES, TF, clean, parse

SCHEMA = json.loads((Path(__file__).parent / "aws_provider_schema.json").read_text())
# Terraform's own meta-arguments ("The lifecycle Meta-Argument" and its siblings, Terraform
# language docs): not in a provider's schema.
META = {
    "resource": {"count", "for_each", "depends_on", "provider", "lifecycle", "provisioner"},
    "data": {"count", "for_each", "depends_on", "provider", "lifecycle"},
}
_BOOLS = {"true", "false"}


def _is_block(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, dict) and v.get("__is_block__") for v in value
    )


def _type_error(value: Any, kind: Any) -> str | None:
    """Why a literal value cannot convert to an argument's type, or None (expressions and
    templates are unknown until plan: never an error here). Terraform's conversions: a number
    or bool to a string, a numeric string to a number, "true"/"false" to a bool."""
    if value is None or kind == "any":
        return None
    if isinstance(value, str):
        if "${" in value or kind == "string":
            return None
        if kind == "number" and re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", value):
            return None
        if kind == "bool" and value in _BOOLS:
            return None
        return f"the string {value!r} where {kind} is wanted"
    if isinstance(value, bool):
        return None if kind in ("bool", "string") else f"{value} where {kind} is wanted"
    if isinstance(value, int | float):
        return None if kind in ("number", "string") else f"{value} where {kind} is wanted"
    if isinstance(value, list):
        if not (isinstance(kind, list) and kind[0] == "list"):
            return f"a list where {kind} is wanted"
        return next(filter(None, (_type_error(v, kind[1]) for v in value)), None)
    if isinstance(value, dict):
        if kind == "object":
            return None
        if not (isinstance(kind, list) and kind[0] == "map"):
            return f"an object where {kind} is wanted"
        return next(filter(None, (_type_error(v, kind[1]) for v in value.values())), None)
    return f"{value!r} where {kind} is wanted"


def block_problems(where: str, body: dict[str, Any], spec: dict[str, Any], meta: set) -> list[str]:
    """What the schema refuses in one block's body (and its nested blocks, recursively)."""
    problems = []
    attributes, blocks = spec["attributes"], spec["blocks"]
    present = set()
    for key, value in body.items():
        if key == "__is_block__" or key in meta:
            continue
        if key == "dynamic":  # dynamic "name" { for_each ...; content { ... } }
            for entry in value:
                for name, dynamic in entry.items():
                    if name not in blocks:
                        problems.append(f"{where}: no nested block {name!r} (dynamic)")
                        continue
                    present.add(name)
                    for content in dynamic.get("content", []):
                        problems += block_problems(f"{where}.{name}", content, blocks[name], set())
            continue
        present.add(key)
        if _is_block(value):
            if key not in blocks:
                what = "an argument, not a block" if key in attributes else "no such block"
                problems.append(f"{where}: {key!r} is {what}")
                continue
            if blocks[key]["max_one"] and len(value) > 1:
                problems.append(f"{where}: {key!r} allows one block, {len(value)} given")
            for nested in value:
                problems += block_problems(f"{where}.{key}", nested, blocks[key], set())
        elif key in attributes:
            error = _type_error(value, attributes[key]["type"])
            if error:
                problems.append(f"{where}.{key}: {error}")
        else:
            what = "a nested block, not an argument" if key in blocks else "no such argument"
            problems.append(f"{where}: {key!r} is {what}")
    for name, kinds in (("argument", attributes), ("block", blocks)):
        for key, entry in kinds.items():
            if entry["required"] and key not in present:
                problems.append(f"{where}: required {name} {key!r} is not set")
    return problems


def document_problems(doc: dict[str, Any]) -> list[str]:
    """Every resource and data block of one parsed file (``parse(path, blocks=True)``)."""
    problems = []
    for kind in ("resource", "data"):
        for entry in doc.get(kind, []):
            for rtype, named in entry.items():
                for name, body in named.items():
                    where = f"{'data.' if kind == 'data' else ''}{rtype}.{name}"
                    if rtype not in SCHEMA[kind]:
                        problems.append(f"{where}: no {kind} type {rtype} in the schema")
                        continue
                    problems += block_problems(where, body, SCHEMA[kind][rtype], META[kind])
    return problems


def test_the_schema_is_the_provider_version_terraform_pins():
    pinned = parse(TF / "versions.tf")["terraform"][0]["required_providers"][0]["aws"]
    version = SCHEMA["provider"]["version"]
    assert SCHEMA["provider"]["name"] == "registry.terraform.io/hashicorp/aws"
    major, minor, _ = version.split(".")
    assert pinned["version"] == f"~> {major}.{minor}.0", (pinned, version)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(TF)))
def test_every_block_matches_the_provider_schema(path: Path):
    assert document_problems(parse(path, blocks=True)) == []


def test_every_type_terraform_uses_is_in_the_schema_and_nothing_else():
    used = {"resource": set(), "data": set()}
    for path in FILES:
        doc = parse(path)
        for kind, names in used.items():
            names.update(t for entry in doc.get(kind, []) for t in entry)
    assert used == {kind: set(SCHEMA[kind]) for kind in used}, "run tools/provider_schema.py"


def _problems_after(old: str, new: str, file: str = "lambda.tf") -> list[str]:
    text = (TF / file).read_text()
    assert old in text
    return document_problems(clean(hcl2.loads(text.replace(old, new, 1)), blocks=True))


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (  # a misspelt argument, which also leaves a required one unset
            "  function_name  ",
            "  function_nmae  ",
            [
                "aws_lambda_function.loader: 'function_nmae' is no such argument",
                "aws_lambda_function.loader: required argument 'function_name' is not set",
            ],
        ),
        (  # a required argument missing
            "  role                           = aws_iam_role.loader.arn\n",
            "",
            ["aws_lambda_function.loader: required argument 'role' is not set"],
        ),
        (  # a nested block that does not exist
            "  tracing_config {",
            "  tracing {",
            ["aws_lambda_function.loader: 'tracing' is no such block"],
        ),
        (  # a nested block's argument misspelt
            '    mode = "Active"',
            '    mod = "Active"',
            [
                "aws_lambda_function.loader.tracing_config: 'mod' is no such argument",
                "aws_lambda_function.loader.tracing_config: required argument 'mode' is not set",
            ],
        ),
        (  # an argument written as a block
            "  memory_size                    = 1024\n",
            "  memory_size {\n  }\n",
            ["aws_lambda_function.loader: 'memory_size' is an argument, not a block"],
        ),
        (  # a literal of the wrong type
            "  memory_size                    = 1024\n",
            '  memory_size                    = "1 GB"\n',
            ["aws_lambda_function.loader.memory_size: the string '1 GB' where number is wanted"],
        ),
        (  # a list where a string is wanted
            '= "python3.12"',
            '= ["python3.12"]',
            ["aws_lambda_function.loader.runtime: a list where string is wanted"],
        ),
        (  # two blocks where the provider allows one
            "  tracing_config {",
            '  tracing_config {\n    mode = "PassThrough"\n  }\n  tracing_config {',
            ["aws_lambda_function.loader: 'tracing_config' allows one block, 2 given"],
        ),
    ],
)
def test_the_check_catches(old: str, new: str, expected: list[str]):
    assert _problems_after(old, new) == expected


def test_the_check_reads_dynamic_blocks_and_data_sources():
    assert _problems_after(
        '  dynamic "rule" {', '  dynamic "rules" {', "modules/bucket/main.tf"
    ) == [
        "aws_s3_bucket_lifecycle_configuration.this: no nested block 'rules' (dynamic)",
    ]
    inside = _problems_after(
        "        days = rule.value", "        dayz = rule.value", "modules/bucket/main.tf"
    )
    assert inside == [
        "aws_s3_bucket_lifecycle_configuration.this.rule.expiration: 'dayz' is no such argument"
    ]
    misspelt = _problems_after("    actions = [", "    action = [")
    assert misspelt == [
        "data.aws_iam_policy_document.lambda_assume.statement: 'action' is no such argument"
    ]

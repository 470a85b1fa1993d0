"""Extracts the AWS provider's schema for the resource and data types ``terraform/`` uses from
the ``.jsii`` manifest of the package index's ``@cdktf/provider-aws`` (npm), and writes it trimmed
to ``tests/terraform/aws_provider_schema.json`` for tests/terraform/test_provider_schema.py.

CDKTF generated that package from ``terraform providers schema -json`` of one provider release
(its package.json names it: ``cdktf.provider.version``). CDKTF was deprecated in December 2025:
the manifest is used as frozen data, never as a library.

Usage: .venv/bin/python tools/provider_schema.py [--jsii path/to/.jsii] [--package 19.65.1]
Without --jsii, ``npm pack`` fetches the package into a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "terraform" / "aws_provider_schema.json"
PACKAGE = "@cdktf/provider-aws"
# 19.65.1 is the last 19.x release, built from hashicorp/aws 5.99.1 (its package.json).
DEFAULT_VERSION = "19.65.1"

# "Represents a {@link https://.../docs/resources/lambda_function aws_lambda_function}."
_CLASS = re.compile(r"/docs/(resources|data-sources)/\w+ (aws_\w+)\}")
# "Docs at Terraform Registry: {@link https://...#function_name LambdaFunction#function_name}."
_ARG = re.compile(r"#(\w+) \w+#\w+\}")
_META = "cdktf.TerraformMetaArguments"


def used_types(root: Path = ROOT / "terraform") -> dict[str, set[str]]:
    """{"resource": {...}, "data": {...}}: the types the ``.tf`` files under root declare."""
    found: dict[str, set[str]] = {"resource": set(), "data": set()}
    for path in sorted(root.rglob("*.tf")):
        with path.open() as f:
            doc = hcl2.load(f)
        for kind, names in found.items():
            for entry in doc.get(kind, []):
                names.update(rtype.strip('"') for rtype in entry)
    return found


def _type(ref: dict[str, Any], types: dict[str, Any]) -> Any:
    """A jsii type reference as a terraform type: "string", "number", "bool", "any",
    ["list", t], ["map", t], or {"block": ...} for a struct (a nested block or an object)."""
    if "primitive" in ref:
        return {"boolean": "bool", "json": "any"}.get(ref["primitive"], ref["primitive"])
    if "union" in ref:  # cdktf writes `T | IResolvable` for values that may be expressions
        options = [t for t in ref["union"]["types"] if t.get("fqn") != "cdktf.IResolvable"]
        return _type(options[0], types) if len(options) == 1 else "any"
    if "collection" in ref:
        kind = "list" if ref["collection"]["kind"] == "array" else "map"
        return [kind, _type(ref["collection"]["elementtype"], types)]
    if ref.get("fqn") in types and types[ref["fqn"]].get("datatype"):
        return {"block": _block(types[ref["fqn"]], types)}
    return "any"


def _block(struct: dict[str, Any], types: dict[str, Any]) -> dict[str, Any]:
    """The arguments and nested blocks of one jsii struct (a config or a nested block)."""
    attributes: dict[str, Any] = {}
    blocks: dict[str, Any] = {}
    for prop in struct.get("properties", []):
        docs = prop.get("docs", {})
        text = f"{docs.get('summary', '')} {docs.get('remarks', '')}"
        match = _ARG.search(text)
        if not match:
            continue  # not a provider argument (none such in the config structs so far)
        name, required = match.group(1), not prop.get("optional", False)
        kind = _type(prop["type"], types)
        if docs.get("summary", "").endswith(" block."):
            single = isinstance(kind, dict)  # a struct, not a list of them: max_items = 1
            body = kind["block"] if single else kind[1]["block"]
            blocks[name] = {"required": required, "max_one": single, **body}
        else:
            attributes[name] = {"type": _strip(kind), "required": required}
    return {"attributes": attributes, "blocks": blocks}


def _strip(kind: Any) -> Any:
    """An attribute's type with object structure reduced to "object" (terraform checks those)."""
    if isinstance(kind, dict):
        return "object"
    if isinstance(kind, list):
        return [kind[0], _strip(kind[1])]
    return kind


def extract(manifest: dict[str, Any], wanted: dict[str, set[str]]) -> dict[str, Any]:
    """The trimmed schema of the wanted types, from a parsed ``.jsii`` manifest."""
    types = manifest["types"]
    schema: dict[str, Any] = {"resource": {}, "data": {}}
    for fqn, cls in types.items():
        if cls.get("kind") != "class" or not fqn.startswith(PACKAGE + "."):
            continue
        match = _CLASS.search(cls.get("docs", {}).get("summary", ""))
        if not match:
            continue
        kind = "resource" if match.group(1) == "resources" else "data"
        if match.group(2) not in wanted[kind]:
            continue
        config = types[cls["initializer"]["parameters"][2]["type"]["fqn"]]
        if _META not in config.get("interfaces", []):
            raise SystemExit(f"{fqn}: its config is not the shape this script reads")
        schema[kind][match.group(2)] = _block(config, types)
    missing = {k: sorted(wanted[k] - set(schema[k])) for k in schema if wanted[k] - set(schema[k])}
    if missing:
        raise SystemExit(f"not in {PACKAGE}: {missing}")
    return schema


def _fetch(version: str, into: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """npm pack's tarball of the package, its .jsii manifest and package.json."""
    subprocess.run(
        ["npm", "pack", "--silent", f"{PACKAGE}@{version}"], cwd=into, check=True, text=True
    )
    (tarball,) = into.glob("*.tgz")
    with tarfile.open(tarball) as tar:
        tar.extractall(into, filter="data")
    return (
        json.loads((into / "package" / ".jsii").read_text()),
        json.loads((into / "package" / "package.json").read_text()),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jsii", type=Path, help="an unpacked package's .jsii manifest")
    parser.add_argument("--package", default=DEFAULT_VERSION, help=f"{PACKAGE} version")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.jsii:
            manifest = json.loads(args.jsii.read_text())
            package = json.loads((args.jsii.parent / "package.json").read_text())
        else:
            manifest, package = _fetch(args.package, Path(tmp))
    schema = {
        "source": f"{PACKAGE}@{package['version']} (.jsii), written by tools/provider_schema.py",
        "provider": package["cdktf"]["provider"],
        **extract(manifest, used_types()),
    }
    OUT.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
    print(
        f"{OUT.relative_to(ROOT)}: {len(schema['resource'])} resource, {len(schema['data'])} data"
    )


if __name__ == "__main__":
    main()

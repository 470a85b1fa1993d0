"""The import contracts ``make lint`` checks (pyproject.toml's ``[tool.importlinter]``,
docs/architecture.md's layers): the repository keeps them all, and each kind of upward or
sideways import, written into a throw-away copy of the packages, breaks the contract that
forbids it and no other. Runs the real ``lint-imports``; no services."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.fixtures import ROOT

CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` as ``make lint`` runs it, on the packages under ``cwd``."""
    assert LINT_IMPORTS.exists(), f"{LINT_IMPORTS}: make install puts import-linter there"
    env = {**os.environ, "COLUMNS": "300"}  # one line per contract, however long its name
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def verdicts(output: str) -> dict[str, str]:
    """Contract name → KEPT or BROKEN, from lint-imports' summary."""
    names = {c["name"] for c in CONFIG["contracts"]}
    found = dict(
        (m["name"], m["verdict"])
        for m in re.finditer(r"^(?P<name>.+) (?P<verdict>KEPT|BROKEN)$", output, re.MULTILINE)
    )
    assert set(found) == names, output
    return found


def test_the_repository_keeps_every_contract():
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert set(verdicts(done.stdout).values()) == {"KEPT"}
    assert f"Contracts: {len(CONFIG['contracts'])} kept, 0 broken." in done.stdout


@pytest.fixture(scope="module")
def copy_of_the_packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The root packages and pyproject.toml, copied once; each case works on its own copy."""
    tree = tmp_path_factory.mktemp("packages")
    for package in CONFIG["root_packages"]:
        shutil.copytree(
            ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def contract_named(contract_id: str) -> str:
    (name,) = [c["name"] for c in CONFIG["contracts"] if c["id"] == contract_id]
    return name


# (module that gets the import, the import, the contract it breaks, what the report names)
CASES = [
    pytest.param(
        "contracts/batches.py",
        "from stream_processor import transform",
        "layers",
        "contracts.batches -> stream_processor.transform",
        id="contracts-imports-a-stage",
    ),
    pytest.param(
        "stream_processor/shard.py",
        "from warehouse_loader import load",
        "layers",
        "stream_processor.shard -> warehouse_loader.load",
        id="a-stage-imports-another-stage",
    ),
    pytest.param(
        "warehouse_loader/handler.py",
        "from local_stack.harness import observe",
        "layers",
        "warehouse_loader.handler -> local_stack.harness.observe",
        id="a-deployable-imports-the-local-stack",
    ),
    pytest.param(
        "local_stack/demo/dashboard.py",
        "from bench import results",
        "layers",
        "local_stack.demo.dashboard -> bench.results",
        id="the-local-stack-imports-bench",
    ),
    pytest.param(
        "local_stack/demo/dashboard.py",
        "from cost_model import sizing",
        "layers",
        "local_stack.demo.dashboard -> cost_model.sizing",
        id="the-local-stack-imports-the-cost-model",
    ),
    pytest.param(
        "local_stack/services/stack.py",
        "from local_stack.harness import pipeline",
        "local-stack-layers",
        "local_stack.services.stack -> local_stack.harness.pipeline",
        id="the-local-services-import-the-harness",
    ),
    pytest.param(
        "local_stack/harness/observe.py",
        "from local_stack.demo import stats",
        "local-stack-layers",
        "local_stack.harness.observe -> local_stack.demo.stats",
        id="the-harness-imports-the-demo",
    ),
    pytest.param(
        "cost_model/sizing.py",
        "from bench import results",
        "cost-model-core",
        "cost_model.sizing -> bench.results",
        id="the-cost-models-core-imports-bench",
    ),
    pytest.param(
        "contracts/events.py",
        "import boto3",
        "contracts-no-clients",
        "contracts.events -> boto3",
        id="contracts-imports-boto3",
    ),
    pytest.param(
        "cdc/capture/engine.py",
        "from cdc.monitor import local",
        "cdc-tools",
        "cdc.capture.engine -> cdc.monitor.local",
        id="the-capture-engine-imports-cdc-monitor",
    ),
    pytest.param(
        "stream_processor/shard.py",
        "from stream_processor import replay",
        "stream-processor-tools",
        "stream_processor.shard -> stream_processor.replay",
        id="the-processor-core-imports-replay",
    ),
    pytest.param(
        "warehouse_loader/load.py",
        "from warehouse_tools import reconcile",
        "layers",
        "warehouse_loader.load -> warehouse_tools.reconcile",
        id="the-load-imports-reconcile",
    ),
    pytest.param(
        "warehouse_tools/repair.py",
        "from stream_processor import transform",
        "warehouse-tools-one-stage",
        "warehouse_tools.repair -> stream_processor.transform",
        id="a-warehouse-tool-imports-another-stage",
    ),
    pytest.param(
        "warehouse_tools/reconcile.py",
        "from warehouse_tools import cli",
        "entry-points",
        "warehouse_tools.reconcile -> warehouse_tools.cli",
        id="a-warehouse-tool-imports-the-cli",
    ),
]


@pytest.mark.parametrize(("module", "statement", "contract_id", "reported"), CASES)
def test_an_import_against_the_layers_breaks_its_contract_alone(
    copy_of_the_packages: Path,
    tmp_path: Path,
    module: str,
    statement: str,
    contract_id: str,
    reported: str,
):
    tree = tmp_path / "tree"
    shutil.copytree(copy_of_the_packages, tree)
    with (tree / module).open("a") as f:
        f.write(f"\n{statement}  # deliberately against docs/architecture.md's layers\n")

    done = lint_imports(tree)

    assert done.returncode == 1, done.stdout + done.stderr
    broken = {name for name, verdict in verdicts(done.stdout).items() if verdict == "BROKEN"}
    assert broken == {contract_named(contract_id)}, done.stdout
    assert reported in done.stdout, done.stdout
    assert f"Contracts: {len(CONFIG['contracts']) - 1} kept, 1 broken." in done.stdout

"""``make package`` as docs/deploying.md says, in a clean clone of this commit, and the zip
terraform's ``loader_package_path`` points at, run by a Python 3.12 (the runtime lambda.tf
deploys) that sees only the zip and the runtime's boto3. Reaches the package index for the
wheels, as ``make install`` does; ~35 s, most of it pip."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from bench.lambda_runtime import boto3_folder, python_312
from tests.fixtures import ROOT
from tests.terraform.fixtures import VARIABLES, one

# The handler imported as Lambda's Init phase does, then every shipped module, with no bytecode
# written (Lambda's /var/task is read-only): the cold import's time and the peak RSS.
COLD_IMPORT = """
import importlib, json, pkgutil, resource, sys, time
sys.path[:0] = [sys.argv[1], sys.argv[2]]
start = time.perf_counter()
import warehouse_loader.handler
seconds = time.perf_counter() - start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
import contracts, warehouse_loader, psycopg, pyarrow
for package in (contracts, warehouse_loader):
    for module in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
outside = [m.__name__ for m in (warehouse_loader, contracts, psycopg, pyarrow)
           if not m.__file__.startswith(sys.argv[1])]
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "outside": outside,
                  "version": list(sys.version_info[:2])}))
"""


def _python_312() -> str:
    python = python_312()
    if python is None:
        pytest.fail("needs a Python 3.12 (the Lambda runtime): python3.12 on PATH or in pyenv")
    return python


def test_make_package_from_a_clean_clone_writes_the_zip_terraform_deploys(tmp_path: Path):
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", head], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    built = subprocess.run(
        ["make", "package"], cwd=clone, env=env, capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, built.stdout + built.stderr
    # terraform runs in terraform/ (docs/deploying.md): its default path is relative to that.
    zip_path = (clone / "terraform" / VARIABLES["loader_package_path"]["default"]).resolve()
    assert zip_path == clone / "dist" / "warehouse-loader.zip"
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(zip_path).extractall(unpacked)
    for left_out in ("boto3", "stream_processor", "warehouse_tools"):
        assert not (unpacked / left_out).exists(), left_out
    # nor any operator tool's module under warehouse_loader
    tools = {p.name for p in (ROOT / "warehouse_tools").glob("*.py")} - {"__init__.py"}
    assert tools and not tools & {p.name for p in (unpacked / "warehouse_loader").glob("*.py")}
    assert (unpacked / "warehouse_loader" / "migrations").is_dir()
    assert list((unpacked / "pyarrow").glob("lib.cpython-312-x86_64-linux-gnu.so"))

    run = subprocess.run(
        [
            _python_312(),
            "-I",
            "-S",
            "-B",
            "-c",
            COLD_IMPORT,
            str(unpacked),
            str(boto3_folder(tmp_path / "rt")),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    cold = json.loads(run.stdout)
    assert cold["version"] == [3, 12] and cold["outside"] == []
    # The import must fit the memory lambda.tf sets; its time is bench.loader_cold_start's.
    assert cold["peak_mb"] < one("aws_lambda_function", "loader")["memory_size"] / 2, cold

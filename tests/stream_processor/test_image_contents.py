"""The processor's container holds contracts and stream_processor with the base dependencies
only (Dockerfile): every module of both must import without psycopg, pandas, the capture
engine, the loader or the local stack."""

from __future__ import annotations

import subprocess
import sys

from tests.fixtures import ROOT

ISOLATED_IMPORT = """
import importlib, importlib.abc, pkgutil, sys

ABSENT = ("psycopg", "pandas", "sqlalchemy", "moto", "cdc", "warehouse_loader", "local_stack")

class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ABSENT:
            raise ModuleNotFoundError(f"not in the processor's image: {name}")
        return None

sys.meta_path.insert(0, Absent())
import contracts, stream_processor
for package in (contracts, stream_processor):
    for module in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
print("ok")
"""


def test_every_processor_module_imports_with_only_what_the_image_installs():
    done = subprocess.run(
        [sys.executable, "-c", ISOLATED_IMPORT], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_the_dockerfile_copies_only_the_processor_packages():
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("COPY ")]
    assert {"contracts", "stream_processor"} <= set(copied)
    assert not {"cdc", "warehouse_loader", "local_stack", "bench"} & set(copied)

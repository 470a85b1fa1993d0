"""loader_cold_start_s: the warehouse loader Lambda's cold import, from the zip ``make package``
builds (terraform's ``loader_package_path``), in fresh interpreters.

Lambda's Init phase runs the handler module's static code, and it is limited to 10 s
("Understanding the Lambda execution environment lifecycle", AWS Lambda Developer Guide).
Each round starts a new Python 3.12 (the runtime lambda.tf deploys; ``bench.lambda_runtime``
finds one) that sees only the unpacked zip and the runtime's boto3, with ``-I -S -B``: no site
packages, and no bytecode written, as /var/task is read-only, so every module the zip ships as
source is compiled at every cold start. It times ``import warehouse_loader.handler``, then
the first invocation's S3 and SQS clients, and reads the peak RSS (``VmHWM``).

Baseline, same run: the same import with every module compiled to 3.12 bytecode beforehand
(the zip's and boto3's), the import's floor when nothing is compiled at start. What
dominates comes from one more round under ``-X importtime`` (cumulative seconds of the
handler's direct imports by top-level package).

CPU: Lambda gives a function CPU in proportion to its memory, one vCPU at 1,769 MB
("Configure Lambda function memory", AWS Lambda Developer Guide); lambda.tf's ``memory_size``
(``cost_model.inputs.Settings.lambda_memory_mib``, which tests/cost_model/test_inputs.py holds
equal to it) gives the share, so a core of this machine's time scales by 1,769 / memory_size.
An on-demand function's Init runs after the request arrives ("Static initialization", AWS
Lambda Operator Guide): lazy imports would only move the cost into the first invocation, which
needs boto3, psycopg and pyarrow anyway.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import zipfile
from pathlib import Path
from typing import Any

from bench.lambda_runtime import boto3_folder, python_312
from bench.results import Figure
from cost_model.inputs import Settings
from local_stack.services.config import StackConfig

ROOT = Path(__file__).resolve().parents[1]
ZIP = ROOT / "dist" / "warehouse-loader.zip"
ONE_VCPU_MB = 1769  # "Configure Lambda function memory", AWS Lambda Developer Guide
INIT_LIMIT_S = 10.0

COLD = """
import json, sys, time
sys.path[:0] = [sys.argv[1], sys.argv[2]]
start = time.perf_counter()
import warehouse_loader.handler
imported = time.perf_counter()
import boto3
boto3.client("s3", region_name="eu-west-2")
boto3.client("sqs", region_name="eu-west-2")
clients = time.perf_counter()
with open("/proc/self/status") as status:
    hwm_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
print(json.dumps({"import_s": imported - start, "clients_s": clients - imported,
                  "peak_rss_mib": hwm_kib / 1024, "version": list(sys.version_info[:2])}))
"""


def build_zip() -> Path:
    """``make package``, as docs/deploying.md says (it reaches the package index for wheels)."""
    subprocess.run(["make", "--no-print-directory", "package"], cwd=ROOT, check=True)
    return ZIP


def _cold(python: str, task: Path, runtime: Path, *flags: str) -> dict[str, Any]:
    run = subprocess.run(
        [python, "-I", "-S", "-B", *flags, "-c", COLD, str(task), str(runtime)],
        capture_output=True,
        text=True,
        check=True,
    )
    out = json.loads(run.stdout)
    out["stderr"] = run.stderr
    return out


def import_shares(importtime: str) -> dict[str, float]:
    """Pure: from ``-X importtime`` output, the cumulative seconds of the handler's direct
    imports, summed by top-level package, largest first."""
    shares: dict[str, float] = {}
    for line in importtime.splitlines():
        found = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if found and len(found.group(2)) == 3:  # one level below warehouse_loader.handler
            top = found.group(3).split(".")[0]
            shares[top] = shares.get(top, 0.0) + int(found.group(1)) / 1e6
    return dict(sorted(shares.items(), key=lambda kv: -kv[1]))


def measure(zip_path: Path, work: Path, rounds: int) -> dict[str, Any]:
    """The cold import of ``zip_path`` in ``rounds`` fresh interpreters, as shipped and
    precompiled."""
    python = python_312()
    if python is None:
        raise RuntimeError("needs a Python 3.12 (the Lambda runtime): python3.12 or pyenv's")
    task, runtime = work / "task", work / "runtime"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    zipfile.ZipFile(zip_path).extractall(task)
    boto3_folder(work / "runtime-links")
    shutil.copytree(work / "runtime-links", runtime, symlinks=False)  # a copy to compile
    shipped = [_cold(python, task, runtime) for _ in range(rounds)]
    shares = import_shares(_cold(python, task, runtime, "-X", "importtime")["stderr"])
    for folder in (task, runtime):  # the floor: nothing left to compile at start
        subprocess.run(
            [python, "-m", "compileall", "-q", "-j", "0", str(folder)],
            check=True,
            capture_output=True,
        )
    compiled = [_cold(python, task, runtime) for _ in range(rounds)]
    return {
        "python": python,
        "version": shipped[0]["version"],
        "shipped_s": [r["import_s"] for r in shipped],
        "compiled_s": [r["import_s"] for r in compiled],
        "clients_s": [r["clients_s"] for r in shipped],
        "peak_rss_mib": [r["peak_rss_mib"] for r in shipped],
        "import_shares_s": shares,
    }


def figures(m: dict[str, Any], memory_mb: int) -> list[Figure]:
    """Pure: the two figures of a ``measure``."""
    median = statistics.median
    shipped, compiled = median(m["shipped_s"]), median(m["compiled_s"])
    vcpu = memory_mb / ONE_VCPU_MB
    params = {
        "python": ".".join(map(str, m["version"])),
        "rounds": len(m["shipped_s"]),
        "min_s": round(min(m["shipped_s"]), 3),
        "max_s": round(max(m["shipped_s"]), 3),
        "first_clients_s": round(median(m["clients_s"]), 3),
        "memory_size_mb": memory_mb,
        "lambda_vcpu": round(vcpu, 2),
        "estimated_init_s_in_lambda": round((shipped + median(m["clients_s"])) / vcpu, 2),
        "init_limit_s": INIT_LIMIT_S,
        "import_shares_s": {k: round(v, 3) for k, v in list(m["import_shares_s"].items())[:6]},
    }
    return [
        Figure(
            "loader_cold_start_s",
            round(shipped, 3),
            "s to import the handler, fresh interpreter, the zip as built",
            "same_import_all_bytecode_precompiled",
            round(compiled, 3),
            params,
            lower_is_better=True,
        ),
        Figure(
            "loader_cold_start_peak_rss_mib",
            round(median(m["peak_rss_mib"]), 1),
            "MiB peak RSS after the import and the first clients",
            "lambda_memory_size_mib",
            float(memory_mb),
            {"rounds": len(m["peak_rss_mib"]), "memory_size_mb": memory_mb},
            lower_is_better=True,
        ),
    ]


def run(cfg: StackConfig, work: Path, *, quick: bool) -> list[Figure]:  # noqa: ARG001
    m = measure(build_zip(), work / "cold-start", 3 if quick else 9)
    return figures(m, Settings().lambda_memory_mib)

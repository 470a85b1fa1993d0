"""bench.loader_cold_start on the zip ``make package`` builds: real interpreters, real numbers
(their shape and sanity, not their speed)."""

from __future__ import annotations

from pathlib import Path

from bench.loader_cold_start import build_zip, figures, import_shares, measure
from cost_model.inputs import Settings

IMPORTTIME = """\
import time: self [us] | cumulative | imported package
import time:       100 |        100 |     botocore.compat
import time:      2000 |     400000 |   boto3
import time:       500 |     200000 |   psycopg
import time:        50 |      30000 |   contracts.batches
import time:        10 |      10000 |   contracts.retry
import time:       900 |     700000 | warehouse_loader.handler
"""


def test_import_shares_sum_the_handlers_direct_imports_by_package():
    assert import_shares(IMPORTTIME) == {
        "boto3": 0.4,
        "psycopg": 0.2,
        "contracts": 0.04,
    }  # botocore.compat: inside boto3


def test_the_cold_start_of_the_zip_terraform_deploys(tmp_path: Path):
    m = measure(build_zip(), tmp_path / "cold", rounds=2)
    assert m["version"] == [3, 12]
    cold, rss = figures(m, Settings().lambda_memory_mib)
    assert cold.name == "loader_cold_start_s" and len(m["shipped_s"]) == 2
    assert cold.baseline_value > 0 and 0 < cold.value < 10, cold  # Lambda's Init limit, 10 s
    assert cold.params["min_s"] <= cold.value <= cold.params["max_s"]
    assert {"boto3", "psycopg"} <= set(cold.params["import_shares_s"]), cold.params
    assert cold.params["memory_size_mb"] == 1024 and cold.params["lambda_vcpu"] == 0.58
    # the interpreter alone is ~10 MiB, pyarrow's libraries more: the import happened
    assert 30 < rss.value < rss.baseline_value / 2, rss

"""cost_model/inputs.py: the named inputs are what the code, terraform and the measurements
say, and overrides reach every part."""

from __future__ import annotations

import dataclasses
import json
import re

import hcl2
import pytest

from cost_model.inputs import DMS_CLASSES, Assumptions, Prices, Settings, with_overrides
from stream_processor.config import ProcessorConfig
from tests.cost_model.fixtures import inputs
from tests.fixtures import ROOT


def test_the_task_memory_is_what_was_measured():
    """docs/sizing.md and terraform's processor_memory quote these: one value each."""
    a = Assumptions(record_bytes=750)
    assert a.processor_process_mib == 184  # a record processor's peak draining a backlog
    assert (a.daemon_heap_fraction, a.daemon_non_heap_mib, a.supervisor_mib) == (0.25, 170, 93)
    page = (ROOT / "docs" / "sizing.md").read_text()
    assert "184 MiB" in page and "96 MiB" not in page
    with (ROOT / "terraform" / "variables.tf").open() as f:
        variables = {k.strip('"'): v for d in hcl2.load(f)["variable"] for k, v in d.items()}
    described = variables["processor_memory"]["description"]
    assert "184 MiB" in described and "6 shards" in described


def test_the_record_size_is_a_dms_update_record_with_its_partition_key():
    """The assumed size is the DMS-shaped update record's (data, pk-only before-image,
    transaction details): compact JSON, its newline, a partition key of a 9-digit key."""
    record = json.loads((ROOT / "tests" / "fixtures" / "dms" / "update_same_key.json").read_text())
    compact = len(json.dumps(record, separators=(",", ":")).encode())
    meta = record["metadata"]
    key = f"{meta['schema-name']}.{meta['table-name']}.{10**8}"
    assert Assumptions().record_bytes == compact + 1 + len(key)
    assert 300 < Assumptions().record_bytes < 1024  # under a KiB: on demand bills it as 1 KiB


def test_the_settings_are_the_processors_and_terraforms_defaults():
    processor = ProcessorConfig(bucket="", state_table="")
    s = Settings()
    assert (s.max_batch_age_s, s.max_batch_rows, s.kcl_idle_time_ms) == (
        processor.max_batch_age_s,
        processor.max_batch_rows,
        processor.kcl_idle_time_ms,
    )
    with (ROOT / "terraform" / "variables.tf").open() as f:
        variables = {k.strip('"'): v for d in hcl2.load(f)["variable"] for k, v in d.items()}

    def default(name: str) -> object:
        value = variables[name]["default"]
        return value.strip('"') if isinstance(value, str) else value

    assert default("max_batch_age_s") == s.max_batch_age_s
    assert default("max_batch_rows") == s.max_batch_rows
    assert default("kinesis_stream_mode") == s.stream_mode
    assert default("kinesis_retention_hours") == s.retention_hours
    assert default("processor_count") == s.min_tasks
    assert default("processor_cpu") == s.task_vcpu * 1024
    assert default("processor_memory") == s.task_memory_mib
    assert default("loader_batch_size") == s.loader_batch_size
    assert default("loader_batching_window_s") == s.loader_batching_window_s
    assert default("dms_multi_az") == s.dms_multi_az
    lambda_tf = (ROOT / "terraform" / "lambda.tf").read_text()
    assert re.search(rf"\n  memory_size\s+= {s.lambda_memory_mib}\n", lambda_tf)
    assert re.search(rf"\n  timeout\s+= {s.lambda_timeout_s}\n", lambda_tf)


def test_every_dms_class_the_table_picks_has_its_size_and_the_cost_its_price():
    for _, name in Assumptions().dms_class_by_rate:
        assert name in DMS_CLASSES
    assert "dms.c5.large" in Prices().dms_instance_hour


def test_overrides_reach_every_part_and_refuse_unknown_names():
    i = inputs()
    changed = with_overrides(
        i,
        [
            "files_per_manifest=4",
            "kinesis_shard_hour=0.0175",
            "dms_instance_hour[dms.c5.large]=0.2",
            "dms_multi_az=false",
            "stream_mode=PROVISIONED",
        ],
    )
    assert changed.assumptions.files_per_manifest == 4
    assert changed.prices.kinesis_shard_hour == 0.0175
    assert changed.prices.dms_instance_hour["dms.c5.large"] == 0.2
    assert changed.prices.dms_instance_hour["dms.t3.medium"] == 0.073
    assert changed.settings.dms_multi_az is False
    assert changed.settings.stream_mode == "PROVISIONED"
    with pytest.raises(ValueError, match="no input named"):
        with_overrides(i, ["shard_count=3"])
    with pytest.raises(ValueError, match="not name=value"):
        with_overrides(i, ["files_per_manifest"])


def test_inputs_are_frozen_dataclasses():
    i = inputs()
    with pytest.raises(dataclasses.FrozenInstanceError):
        i.settings.max_batch_age_s = 3  # type: ignore[misc]

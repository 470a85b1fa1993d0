"""The pipeline under DMS's default CDC partitioning: ``schema-table`` (a task without the
object-mapping rules of ``cdc dms render``; docs/contracts.md).

Every change of a table then goes to the one shard its ``public.<table>`` key hashes to, while
its rows' load records are spread by primary key over all four shards: a row's versions arrive
on two shards, and a dimension and the table it joins (counterparty and address) change on
different shards. Versions still order a row's changes and the join state still crosses
shards, so the warehouse must come out exactly right. ``reconcile`` is the oracle, as in
test_pipeline_e2e.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter, defaultdict
from collections.abc import Iterator

import pytest

from cdc.source_schema import TABLES
from local_stack.harness.observe import fact_versions_written
from local_stack.harness.pipeline import Names, Pipeline

pytestmark = [pytest.mark.stack, pytest.mark.kcl, pytest.mark.timeout(300)]

SEED = 20261127
RATE = 30  # row changes per second: schema-table capture puts ~3 records per PutRecords call
SECONDS = 20


@pytest.fixture
def pipeline(stack_cfg) -> Iterator[Pipeline]:
    pipeline = Pipeline(
        dataclasses.replace(stack_cfg, stream_shards=4),
        Names.unique("bytable"),
        settings={"TOTESYS_CDC_CAPTURE_PARTITIONING": "schema-table"},
    )
    yield pipeline
    pipeline.stop()
    pipeline.destroy()


def test_schema_table_partitioning_loses_duplicates_and_misjoins_nothing(pipeline):
    loaded = pipeline.create(seed=SEED)
    pipeline.start()
    stats = pipeline.traffic(rate=RATE, duration_s=SECONDS, seed=SEED, allow_deletes=True)
    pipeline.quiesce(timeout_s=180)

    report = pipeline.observe.reconcile()  # dim_staff ⋈ department, dim_counterparty ⋈ address
    assert report.differences == 0, json.dumps(report.to_json(), indent=1)
    changes = Counter({(t, "load"): n for t, n in loaded.items()}) + stats.changes
    counts = pipeline.observe.counts()
    for fact, written in fact_versions_written(changes).items():
        assert counts[fact] == written, (fact, counts[fact], written)
    for action in ("edit_department", "edit_address", "edit_staff", "edit_counterparty", "pay"):
        assert stats.actions[action] > 0, action

    # The stream holds what DMS writes without object mapping.
    cdc_shards: dict[str, set[str]] = defaultdict(set)
    load_shards: dict[str, set[str]] = defaultdict(set)
    cdc = 0
    for shard, record in pipeline.observe.stream_records():
        body = json.loads(record["Data"])
        metadata = body["metadata"]
        if metadata["record-type"] != "data":
            continue
        table = metadata["table-name"]
        if metadata["operation"] == "load":
            assert metadata["partition-key-type"] == "primary-key"
            assert record["PartitionKey"] == metadata["partition-key-value"]
            load_shards[table].add(shard)
        else:
            assert metadata["partition-key-type"] == "schema-table", metadata
            assert "partition-key-value" not in metadata
            assert record["PartitionKey"] == f"public.{table}"
            cdc_shards[table].add(shard)
            cdc += 1
    assert cdc == stats.total_changes
    # Each table's changes on one shard; some of its rows' load records on others.
    assert all(len(shards) == 1 for shards in cdc_shards.values()), cdc_shards
    for table in ("department", "address", "staff", "counterparty"):
        assert load_shards[table] - cdc_shards[table], (table, load_shards[table])
    # A join across shards: counterparty's changes and its address's are on different shards.
    assert cdc_shards["counterparty"] != cdc_shards["address"], cdc_shards
    print(
        "CDC shard per table:",
        {t: sorted(cdc_shards[t])[0][-1] for t in TABLES if cdc_shards[t]},
        flush=True,
    )

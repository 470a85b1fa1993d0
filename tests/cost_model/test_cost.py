"""cost_model/cost.py: the monthly bill, checked by hand, with no service."""

from __future__ import annotations

import pytest

from cost_model.cost import monthly_cost
from cost_model.inputs import Prices
from tests.cost_model.fixtures import inputs

MONTH = 730 * 3600


def test_monthly_cost_on_a_provisioned_stream_by_hand():
    i = inputs(stream_mode="PROVISIONED")
    lines = {c.item: c.usd for c in monthly_cost(1_000, i)}
    p = Prices()
    assert lines["Kinesis provisioned: shard-hours"] == pytest.approx(
        2 * 730 * p.kinesis_shard_hour
    )
    assert lines["Kinesis provisioned: PUT payload units"] == pytest.approx(
        1_000 * MONTH / 1e6 * p.kinesis_put_payload_units_million
    )
    assert lines["Kinesis provisioned: retention 168 h"] == pytest.approx(2 * 730 * 0.02)
    # 2 manifests/s, each 8 parquet files + the manifest.
    assert lines["S3 PUTs (parquet files + manifest)"] == pytest.approx(
        2 * 9 * MONTH / 1000 * p.s3_put_1000
    )
    assert lines["SQS requests"] == pytest.approx((2 + 2 * 2 + 0.25) * MONTH / 1e6 * 0.40)
    assert lines["Lambda invocations"] == pytest.approx(2 * MONTH / 1e6 * 0.20)
    fargate = 2 * (1 * p.fargate_vcpu_hour + 2 * p.fargate_gb_hour) * 730
    assert lines["ECS Fargate (the KCL workers)"] == pytest.approx(fargate)
    assert lines["DMS instance (dms.c5.large, Multi-AZ)"] == pytest.approx(0.154 * 2 * 730)


def test_monthly_cost_on_demand_bills_records_rounded_up_to_a_kib():
    lines = {c.item: c.usd for c in monthly_cost(1_000, inputs())}
    gib = 1_000 * MONTH / 2**20  # 750-byte records billed as 1 KiB each
    assert lines["Kinesis on-demand: data in"] == pytest.approx(gib * 0.08)
    assert lines["Kinesis on-demand: data out (one consumer)"] == pytest.approx(gib * 0.04)
    # Four shards on demand: twice the manifests (and S3 PUTs) of two provisioned shards.
    assert lines["S3 PUTs (parquet files + manifest)"] == pytest.approx(
        4 * 9 * MONTH / 1000 * 0.005
    )


def test_a_batching_window_puts_several_manifests_in_an_invocation():
    lines = {
        c.item: c.usd
        for c in monthly_cost(10_000, inputs(stream_mode="PROVISIONED", loader_batching_window_s=1))
    }
    # 15 manifests/s gathered for 1 s: batches of 10 (the batch size) → 1.5 invocations/s.
    assert lines["Lambda invocations"] == pytest.approx(1.5 * MONTH / 1e6 * 0.20)

"""cost_model/sizing.py: the sizing arithmetic, checked by hand, with no service."""

from __future__ import annotations

import math

import pytest

from cost_model.sizing import size
from tests.cost_model.fixtures import inputs


@pytest.mark.parametrize(
    ("rate", "shards"),
    [(1_000, 2), (10_000, 15), (100_000, 143), (100, 1)],
)
def test_shards_are_records_per_second_over_1000_at_70_percent(rate: int, shards: int):
    # 750-byte records: 1,000 a second is 0.72 MiB/s, so records/s decides, not bytes.
    assert size(rate, inputs())["shards"] == shards == max(1, math.ceil(rate / 700))


def test_large_records_make_bytes_decide_the_shards():
    big = inputs(record_bytes=2_000, stream_mode="PROVISIONED")  # 1,000/s × 2,000 B = 1.91 MiB/s
    sz = size(1_000, big)
    assert sz["shards"] == math.ceil(1_000 * 2_000 / 2**20 / 0.7) == 3
    first = sz.bites_first[0]
    assert first.limit == "Kinesis write bytes/s per shard"


def test_an_on_demand_stream_runs_at_least_four_shards_and_each_flushes_once_a_batch_age():
    on_demand = size(1_000, inputs())
    assert (on_demand["shards"], on_demand["stream_shards"]) == (2, 4)
    assert on_demand["manifests_per_s"] == 4  # a manifest per shard per 1 s flush
    provisioned = size(1_000, inputs(stream_mode="PROVISIONED"))
    assert provisioned["stream_shards"] == 2 and provisioned["manifests_per_s"] == 2
    slower = size(1_000, inputs(stream_mode="PROVISIONED", max_batch_age_s=5))
    assert slower["manifests_per_s"] == pytest.approx(0.4)
    # A batch also flushes when max_batch_rows fill: 545 rows/s per shard, 100-row batches.
    small = size(1_000, inputs(stream_mode="PROVISIONED", max_batch_rows=100))
    assert small["manifests_per_s"] == pytest.approx(2 * 1_000 * 1.09 / 2 / 100)


def test_ecs_tasks_are_memory_or_cpu_plus_one_between_the_floor_and_the_shards():
    # A 2048 MiB task: the supervisor (93), the JVM (a quarter as heap, 512, + 170 outside it)
    # and record processors of 184 MiB: (2048 - 93 - 682) // 184 = 6 shards a task.
    # 100k changes/s: 143 shards → 24 tasks; CPU: 100,000 / (40,000 × 0.5) = 5 vCPU / 0.6 → 9
    # tasks. The larger, + 1 → 25.
    assert size(100_000, inputs())["ecs_tasks"] == 25
    assert "= 6 shard processes per task" in size(100_000, inputs()).cells["ecs_tasks"].how
    # CPU-bound when the processor is slow: 100,000 / (4,000 × 0.5) = 50 vCPU / 0.6 → 84 + 1.
    assert size(100_000, inputs(processor_records_per_s_per_core=4_000))["ecs_tasks"] == 85
    # Bigger tasks: 2 vCPU, 4 GiB (a 1,024 MiB heap) hold (4096 - 93 - 1194) // 184 = 15 shards
    # (→ 10) and 1.2 vCPU of work each (→ 5): 10 + 1.
    assert size(100_000, inputs(task_memory_mib=4096, task_vcpu=2))["ecs_tasks"] == 11
    # At low rates the floor (processor_count) holds, even above the shard count.
    assert size(100, inputs(stream_mode="PROVISIONED"))["ecs_tasks"] == 2
    # Never more tasks than shards beyond the floor: a shard is leased by one worker.
    tiny_tasks = inputs(task_memory_mib=1024, processor_process_mib=400, stream_mode="PROVISIONED")
    sz = size(10_000, tiny_tasks)  # (1024 - 93 - 426) // 400 = 1 a task → 15 + 1, capped
    assert sz["ecs_tasks"] == sz["shards"] == 15
    # A task too small for one record processor is refused, not sized.
    with pytest.raises(ValueError, match="holds no"):
        size(1_000, inputs(task_memory_mib=1024, processor_process_mib=600))


def test_lambda_concurrency_is_manifests_per_second_times_load_time_with_headroom():
    i = inputs(stream_mode="PROVISIONED")
    sz = size(10_000, i)  # 15 shards, 15 manifests/s of 726.7 rows
    rows = 10_000 * 1.09 / 15
    load = (400 + 8 * 500 + rows) / 100_000 + 9 * 0.02
    assert sz["load_s"] == pytest.approx(load)
    assert sz["lambda_concurrency"] == math.ceil(15 * load * 2.0) == 7
    assert sz["warehouse_connections"] == 7 + 5
    # Never below the SQS event source's minimum maximum concurrency.
    assert size(100, i)["lambda_concurrency"] == 2
    # The warehouse does all of the load but the S3 GETs.
    expected = (15 * (400 + 8 * 500) + 10_000 * 1.09) / 100_000 / 0.6
    assert sz["warehouse_vcpu"] == pytest.approx(expected)


def test_the_loader_batch_size_keeps_a_full_batch_inside_half_the_timeout():
    sz = size(1_000, inputs())
    assert sz["loader_batch_size_max"] == math.floor(120 / (2 * sz["load_s"]))


def test_the_dms_class_and_parallel_apply_threads_follow_the_rate():
    assert size(1_000, inputs())["dms"] == "dms.c5.large, ParallelApplyThreads 4"
    assert size(10_000, inputs())["dms"] == "dms.c5.xlarge, ParallelApplyThreads 15"
    big = size(100_000, inputs())
    assert big["dms"] == "dms.r5.4xlarge, ParallelApplyThreads 32"  # the documented maximum
    assert "split the tables" in big.cells["dms"].how


def test_what_bites_first_is_the_rate_driven_limit_nearest_its_maximum():
    provisioned = size(1_000, inputs(stream_mode="PROVISIONED"))
    assert provisioned.bites_first[0].limit == "Kinesis write records/s per shard"
    assert provisioned.bites_first[0].used == pytest.approx(0.5)
    # On demand, 2 tasks on 4 shards: losing one leaves the other with all 4 of its 6.
    on_demand = size(1_000, inputs())
    assert on_demand.bites_first[0].limit == "ECS task memory after losing a task"
    assert on_demand.bites_first[0].used == pytest.approx(4 / 6)
    kinds = {u.limit: u.kind for u in on_demand.uses}
    assert kinds["Kinesis GetRecords calls per shard"] == "setting"  # 4 of 5 whatever the rate
    assert all(u.kind == "rate" for u in on_demand.bites_first)
    # The workers' CPU is counted with a task lost, as their memory is: 10,000 / 4,000 = 2.5
    # vCPU → 5 tasks + 1; 2.5 of the 5 vCPU left.
    slow = size(10_000, inputs(processor_records_per_s_per_core=8_000))
    cpu = {u.limit: u for u in slow.uses}["ECS task CPU after losing a task"]
    assert slow["ecs_tasks"] == 6 and cpu.used == pytest.approx(2.5 / 5)
    # At 100k changes/s a 4-vCPU warehouse is the first to give.
    assert size(100_000, inputs()).bites_first[0].limit.startswith("Warehouse CPU")

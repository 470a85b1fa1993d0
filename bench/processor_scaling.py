"""processor_scaling_records_per_s: the real KCL daemon and record processors draining a backlog
on a 4-shard stream, with one worker (the baseline) and with two, in the same run.

Each run: a fresh pipeline (stream, bucket, lease table) and the workers started together on
the empty stream; once every shard is leased (the JVMs' start and the leader's first
assignment take tens of seconds, not counted; in ``params``), the backlog (the processor
benchmark's Contract A records, spread over the shards by partition key) is put on the stream
as fast as PutRecords takes it, and the figure is the backlog over the time from then until
every record is checkpointed (moto numbers a shard's records from 1, so a checkpoint counts
them). The workers process while the backlog is still arriving, as they would in production.
CPU seconds over that time are read per worker process group (the daemon's JVM and its Python
record processors) and for the local AWS emulation, which serves every Kinesis, DynamoDB and S3
call of the workers, and the backlog's puts, on the same two cores.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import Counter
from pathlib import Path

from bench.processor import records
from bench.results import Figure
from local_stack.harness.pipeline import Pipeline
from local_stack.harness.provision import Names
from local_stack.services import aws
from local_stack.services.config import StackConfig
from local_stack.services.processes import cpu_seconds, wait_until

SHARDS = 4
TRICKLE = 100  # records per half second while the leases spread
PUT_BATCH = 500  # PutRecords' most records per call


def fill(pipeline: Pipeline, backlog: list[bytes]) -> None:
    kinesis = pipeline.observe.kinesis
    for start in range(0, len(backlog), PUT_BATCH):
        chunk = backlog[start : start + PUT_BATCH]
        kinesis.put_records(
            StreamName=pipeline.names.stream,
            Records=[
                {"Data": data, "PartitionKey": f"k{start + i}"} for i, data in enumerate(chunk)
            ],
        )


def drain(cfg: StackConfig, backlog: list[bytes], workers: int) -> dict[str, object]:
    """Start ``workers`` KCL workers on an empty stream; once each holds leases, put the
    rest of ``backlog`` on the stream and measure until every record is checkpointed."""
    count = len(backlog)
    pipeline = Pipeline(
        dataclasses.replace(cfg, stream_shards=SHARDS),
        Names.unique(f"bench-pscale-{workers}"),
        settings={"TOTESYS_CDC_PUBLISH_METRICS": "0"},
    )
    pipeline.create(seed=11)
    try:
        names = [Pipeline.instance("processor", n) for n in range(1, workers + 1)]
        started = time.monotonic()
        for name in names:
            pipeline.start_process(name)

        def owners() -> Counter[str | None]:
            return Counter(lease.owner for lease in pipeline.observe.leases())

        def checkpointed() -> int:
            return sum(_position(lease.checkpoint) for lease in pipeline.observe.leases())

        wait_until(
            lambda: _all_leased(owners()),
            what="every shard leased",
            timeout_s=180,
            log_path=pipeline.log_path("processor"),
        )
        # The leader deals new leases out as it sees fit and moves them between workers only
        # by their throughput (it reads no CPU here): a trickle of the backlog until every
        # worker holds a lease.
        sent = 0
        while (
            len(set(owners()) - {None}) < workers
            and time.monotonic() < started + 300
            and sent < count // 2
        ):
            fill(pipeline, backlog[sent : sent + TRICKLE])
            sent += TRICKLE
            time.sleep(0.5)
        leased, before = time.monotonic(), checkpointed()
        spread = dict(owners())
        worker_cpu = sum(cpu_seconds(pipeline.procs[name].pid) for name in names)
        aws_cpu = cpu_seconds(aws.pid(cfg) or 0)
        fill(pipeline, backlog[sent:])
        wait_until(
            lambda: checkpointed() == len(backlog),
            what="every record checkpointed",
            timeout_s=900,
            log_path=pipeline.log_path("processor"),
            interval_s=0.5,
        )
        took = time.monotonic() - leased
        worker_cpu = sum(cpu_seconds(pipeline.procs[name].pid) for name in names) - worker_cpu
        aws_cpu = cpu_seconds(aws.pid(cfg) or 0) - aws_cpu
        return {
            "records_per_s": round((len(backlog) - before) / took, 1),
            "measured_records": len(backlog) - before,
            "seconds": round(took, 1),
            "until_leased_s": round(leased - started, 1),
            "leases_per_worker": sorted(spread.values(), reverse=True),
            "worker_cpu_s": round(worker_cpu, 1),
            "emulation_cpu_s": round(aws_cpu, 1),
        }
    finally:
        pipeline.stop()
        pipeline.destroy()


def _all_leased(owners: Counter[str | None]) -> bool:
    return sum(owners.values()) == SHARDS and None not in owners


def _position(checkpoint: str | None) -> int:
    """Records of a shard checkpointed so far (moto numbers a shard's records 1, 2, 3…)."""
    return 0 if checkpoint in (None, "TRIM_HORIZON", "LATEST") else int(checkpoint)


def run(cfg: StackConfig, work: Path, *, quick: bool) -> list[Figure]:  # noqa: ARG001
    count = 60_000 if quick else 300_000
    backlog = records(count)
    one = drain(cfg, backlog, 1)
    two = drain(cfg, backlog, 2)
    return [
        Figure(
            name="processor_scaling_records_per_s",
            value=two["records_per_s"],
            unit="records/s",
            baseline="one_worker",
            baseline_value=one["records_per_s"],
            params={
                "records": count,
                "shards": SHARDS,
                "workers": 2,
                "cores": len(os.sched_getaffinity(0)),
                **{f"two_{k}": v for k, v in two.items() if k != "records_per_s"},
                **{f"one_{k}": v for k, v in one.items() if k != "records_per_s"},
            },
        )
    ]

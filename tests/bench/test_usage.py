"""bench.usage finds the processes it charges CPU to: the traffic writers the benchmark spawns
and the stack's own PostgreSQL, on the real local stack."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import psycopg
import pytest

from bench.usage import Usage, _postmaster_pid
from cdc import source_schema
from cdc.simulator import dataset, traffic, writer
from local_stack.services.config import SOURCE
from local_stack.services.processes import children_of

pytestmark = pytest.mark.stack


def test_a_spawned_writer_and_the_clusters_backends_are_charged_to_their_roles(
    stack_cfg, fresh_database
):
    dsn = fresh_database("totesys")
    with psycopg.connect(dsn) as conn:
        source_schema.create(conn)
        writer.load_dataset(conn, dataset.generate(7, dataset.SMALL))
    # Usage reads only these three attributes of a pipeline: none of its processes run here.
    pipeline = SimpleNamespace(cfg=stack_cfg, capture=SimpleNamespace(proc=None), procs={})
    postmaster = _postmaster_pid(pipeline, SOURCE)
    assert postmaster is not None and children_of(postmaster)  # the cluster's own processes
    stats: list[traffic.TrafficStats] = []
    with Usage(pipeline, interval_s=0.1) as usage:
        writing = threading.Thread(
            target=lambda: stats.append(
                traffic.run_writers(
                    dsn, rate=300, duration_s=3, writers=1, seed=2, always_spawn=True
                )
            )
        )
        writing.start()
        writing.join()
    cpu = usage.cpu_s()
    assert stats and stats[0].total_changes >= 300
    assert cpu["traffic_writers"] > 0  # a process of its own, not this one
    assert cpu["postgresql"] > 0
    assert cpu["record_processor"] == cpu["capture"] == 0

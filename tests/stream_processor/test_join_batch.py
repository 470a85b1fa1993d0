"""A batch's join-state plan (``join_batch.plan_batch``): each joined row put once, at its
newest version, and only the reads the batch needs. That a batched join state gives the same
warehouse as change by change is a property of ``test_transform.py``."""

from __future__ import annotations

from stream_processor.decode import decode
from stream_processor.join_batch import plan_batch
from tests.stream_processor.fixtures import DEPT, SALE, STAFF, record


def test_a_batch_plans_each_joined_row_once_at_its_newest_version():
    changes = [
        decode(record("staff", {**STAFF, "department_id": 1}, "insert", commit=0x10)),
        decode(record("staff", {**STAFF, "department_id": 2}, "update", commit=0x20)),
        decode(record("department", {**DEPT, "department_id": 2}, "update", commit=0x30)),
        decode(record("sales_order", SALE, "insert", commit=0x40)),
    ]
    p = plan_batch(changes)
    assert set(p.puts) == {("staff", STAFF["staff_id"]), ("department", 2)}
    assert p.puts[("staff", STAFF["staff_id"])][1]["department_id"] == 2
    assert p.members == {
        ("department", 1): {STAFF["staff_id"]},
        ("department", 2): {STAFF["staff_id"]},
    }
    assert p.row_reads == {("department", 1), ("department", 2)}
    assert p.member_reads == {("department", 2)}

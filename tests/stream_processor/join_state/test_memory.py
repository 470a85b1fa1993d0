"""What only the memory join state does (the contract both stores keep is
``test_interface_contract``): the change-by-change side a batch's snapshot is transformed
against (``transform.JoinView`` reads, the transform's writes applied)."""

from __future__ import annotations

import pytest

from stream_processor.join_state.memory import MemoryJoinState
from stream_processor.transform import AddMember, Put
from tests.stream_processor.fixtures import STAFF


def test_applied_writes_move_a_row_forward_only_and_read_back_typed():
    state = MemoryJoinState()
    state.apply([Put("staff", 10, 5, STAFF), Put("staff", 10, 3, {**STAFF, "first_name": "Old"})])
    assert state.get("staff", 10) == (5, STAFF)  # timestamps come back as datetimes
    state.apply([Put("staff", 10, 9, None)])
    assert state.get("staff", 10) == (9, None) and state.get("staff", 99) is None


def test_applied_memberships_are_read_back_and_a_reader_cannot_change_them():
    state = MemoryJoinState()
    state.apply([AddMember("department", 1, 10), AddMember("department", 1, 11)])
    members = state.members("department", 1)
    members.add(12)
    assert state.members("department", 1) == {10, 11} and state.members("department", 2) == set()


def test_anything_but_a_join_state_write_is_refused():
    with pytest.raises(TypeError, match="not a join-state write"):
        MemoryJoinState().apply(["staff 10"])

"""The join-state contract (``interface.JoinState``), run against both stores: memory and
DynamoDB must behave alike, as a batch's snapshot and the shared state are read the same way."""

from __future__ import annotations

import pytest

from stream_processor.join_state.codec import decode_image
from stream_processor.join_state.dynamodb import DynamoJoinState, ensure_table
from stream_processor.join_state.interface import BatchWrites, JoinState
from stream_processor.join_state.memory import MemoryJoinState
from tests.fixtures import unique_name
from tests.stream_processor.fixtures import ADDRESS, STAFF


# the DynamoDB store reaches the stack through getfixturevalue, which collection cannot see
@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.stack)])
def state(request) -> JoinState:
    if request.param == "memory":
        return MemoryJoinState()
    ddb = request.getfixturevalue("aws_client")("dynamodb")
    name = unique_name("join-state")
    ensure_table(ddb, name)
    return DynamoJoinState(ddb, name)


def version_of_row(state, table: str, key: int) -> tuple[int, dict | None] | None:
    found = state.get_many({(table, key)}).get((table, key))
    return None if found is None else (found[0], decode_image(table, found[1]))


def test_join_state_only_moves_forward_and_keeps_tombstones(state):
    state.write_many(BatchWrites(puts={("staff", 10): (5, STAFF)}))
    state.write_many(BatchWrites(puts={("staff", 10): (3, {**STAFF, "first_name": "Old"})}))
    assert version_of_row(state, "staff", 10) == (5, STAFF)
    state.write_many(BatchWrites(puts={("staff", 10): (9, None)}))
    assert version_of_row(state, "staff", 10) == (9, None)
    assert version_of_row(state, "staff", 99) is None


def test_join_state_remembers_every_child_of_a_parent(state):
    state.write_many(BatchWrites(members={("department", 1): {10, 11}}))
    state.write_many(BatchWrites(members={("department", 1): {10}}))
    assert state.members_many({("department", 1), ("department", 2)}) == {
        ("department", 1): {10, 11}
    }


def test_bulk_writes_and_reads_span_many_calls_and_never_move_a_row_back(state):
    state.write_many(BatchWrites(puts={("staff", 7): (50, STAFF)}))  # newer than the batch's: stays
    writes = BatchWrites(
        puts={
            ("staff", 7): (40, {**STAFF, "first_name": "Old"}),
            ("staff", 8): (41, None),
            **{("address", k): (60 + k, {**ADDRESS, "address_id": k}) for k in range(150)},
        },
        members={("department", 1): {7, 8}, ("address", 3): {20}},
    )
    state.write_many(writes)
    keys = {("staff", 7), ("staff", 8), ("staff", 9)} | {("address", k) for k in range(150)}
    found = state.get_many(keys)  # more than one BatchGetItem's 100 keys
    assert len(found) == 152 and ("staff", 9) not in found
    assert found[("staff", 7)][0] == 50 and found[("staff", 8)][0] == 41
    assert state.members_many({("department", 1), ("address", 3), ("address", 4)}) == {
        ("department", 1): {7, 8},
        ("address", 3): {20},
    }

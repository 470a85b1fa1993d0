"""Join state for a whole batch of changes in three round trips instead of three per change.

``transform`` talks to the join state change by change: write its own side, then read the
other. Against DynamoDB that is a network round trip per call, and joined-dimension changes
then bound a shard's throughput (a few hundred changes per second locally). Here the same
protocol is kept for a batch (one ``process_records`` call) as a whole:

1. every write of the batch lands in the shared store first (``put`` and ``add_member``, one
   call per distinct item, issued concurrently);
2. then everything the batch's changes will read is fetched (strongly consistent batch
   reads): the parents their children reference, the members of changed parents, then those
   members' rows;
3. ``transform`` runs change by change against that snapshot (``BatchView``), its own writes
   applied to the snapshot too.

Why this stays correct: the argument of ``join_state`` is "each worker writes its side before it
reads the other"; here every write of a batch happens before every read of that batch, so
whichever of two racing batches writes second reads what the first wrote. Reading a parent
version newer than the one current at a change's position only produces rows the warehouse
orders by (version, joined version) anyway; the newest combination always wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from stream_processor.decode import Change
from stream_processor.join_state import Image, MemoryJoinState
from stream_processor.transform import JOINS

RowKey = tuple[str, int]  # (source table, key)


@dataclass
class Plan:
    """What a batch of changes will write to and read from the join state."""

    puts: dict[RowKey, tuple[int, Image | None]] = field(default_factory=dict)  # newest only
    members: dict[RowKey, set[int]] = field(default_factory=dict)  # parent → children to add
    row_reads: set[RowKey] = field(default_factory=set)
    member_reads: set[RowKey] = field(default_factory=set)


def plan(changes: Sequence[Change]) -> Plan:
    """Pure: the join-state writes and reads of ``changes`` (non-joined tables need none). A
    change too malformed to plan is left out; ``transform`` dead-letters it."""
    out = Plan()
    for change in changes:
        for join in JOINS:
            if change.table not in (join.child, join.parent):
                continue
            image = None if change.operation == "delete" else change.image
            current = out.puts.get((change.table, change.key))
            if current is None or change.version > current[0]:
                out.puts[(change.table, change.key)] = (change.version, image)
            if image is None:
                continue
            if change.table == join.child:
                parent_key = image.get(join.fk)
                if isinstance(parent_key, int):
                    out.members.setdefault((join.parent, parent_key), set()).add(change.key)
                    out.row_reads.add((join.parent, parent_key))
            else:
                out.member_reads.add((join.parent, change.key))
    return out


class BulkJoinState(Protocol):
    """A shared join state that can do a batch's writes and reads in bulk."""

    def write_many(self, plan: Plan) -> None: ...

    def get_many(self, keys: set[RowKey]) -> dict[RowKey, tuple[int, str]]:
        """(version, encoded image) of each key found."""

    def members_many(self, parents: set[RowKey]) -> dict[RowKey, set[int]]: ...


class BatchView(MemoryJoinState):
    """The snapshot one batch's changes are transformed against (a ``JoinState``)."""


def prepare(store: BulkJoinState, changes: Sequence[Change]) -> BatchView:
    """Steps 1 and 2 above; returns the view for step 3."""
    p = plan(changes)
    write(store, p)
    return read(store, p)


def write(store: BulkJoinState, p: Plan) -> None:
    if p.puts or p.members:
        store.write_many(p)


def read(store: BulkJoinState, p: Plan) -> BatchView:
    view = BatchView()
    if not (p.row_reads or p.member_reads):
        return view
    view.children = store.members_many(p.member_reads)
    children = {
        (join.child, child)
        for join in JOINS
        for (parent_table, _), kids in view.children.items()
        if parent_table == join.parent
        for child in kids
    }
    view.rows = store.get_many(p.row_reads | children)
    return view

"""The join state for a whole batch of changes in three round trips instead of three per change.

``transform`` needs the join state change by change: its own side written, then the other
read. Against DynamoDB that is a network round trip per call, and joined-dimension changes
then bound a shard's throughput (a few hundred changes per second locally). Here the same
protocol is kept for a batch (one ``process_records`` call) as a whole:

1. every write of the batch lands in the shared store first (``put`` and ``add_member``, one
   call per distinct item, issued concurrently);
2. then everything the batch's changes will read is fetched (strongly consistent batch
   reads): the parents their children reference, the members of changed parents, then those
   members' rows;
3. ``transform`` runs change by change against that snapshot (``BatchView``), the writes it
   returns applied to the snapshot too.

Why this stays correct: the argument of ``join_state.interface`` is "each worker writes its
side before it reads the other"; here every write of a batch happens before every read of that
batch, so whichever of two racing batches writes second reads what the first wrote. Reading a
parent version newer than the one current at a change's position only produces rows the
warehouse orders by (version, joined version) anyway; the newest combination always wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from stream_processor.decode import Change
from stream_processor.join_state.interface import BatchWrites, JoinState, RowKey
from stream_processor.join_state.memory import MemoryJoinState
from stream_processor.transform import JOINED_SOURCES, JOINS, Put, join_writes

# The source tables some joined dimension's rows reference (department, address).
PARENTS = frozenset(j.parent for j in JOINS)


@dataclass
class Plan(BatchWrites):
    """What a batch of changes will write to (``BatchWrites``) and read from the join state."""

    row_reads: set[RowKey] = field(default_factory=set)
    member_reads: set[RowKey] = field(default_factory=set)


def plan_batch(changes: Sequence[Change]) -> Plan:
    """Pure: the join-state writes (``transform.join_writes``, the newest put per row) and
    reads of ``changes``; non-joined tables need none."""
    out = Plan()
    for change in changes:
        if change.table not in JOINED_SOURCES:
            continue
        for w in join_writes(change):
            if isinstance(w, Put):
                current = out.puts.get((w.table, w.key))
                if current is None or w.version > current[0]:
                    out.puts[(w.table, w.key)] = (w.version, w.image)
            else:
                out.members.setdefault((w.parent_table, w.parent_key), set()).add(w.child_key)
                out.row_reads.add((w.parent_table, w.parent_key))
        if change.table in PARENTS and change.operation != "delete":
            out.member_reads.add((change.table, change.key))
    return out


class BatchView(MemoryJoinState):
    """The snapshot one batch's changes are transformed against (a ``transform.JoinView``)."""


def prepare(store: JoinState, changes: Sequence[Change]) -> BatchView:
    """Steps 1 and 2 above; returns the view for step 3."""
    p = plan_batch(changes)
    write(store, p)
    return read(store, p)


def write(store: JoinState, p: Plan) -> None:
    if p.puts or p.members:
        store.write_many(p)


def read(store: JoinState, p: Plan) -> BatchView:
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

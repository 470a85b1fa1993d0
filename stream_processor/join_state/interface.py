"""What the processor asks of the join state: a batch's writes, then its reads, in bulk.

dim_staff joins staff to department, dim_counterparty joins counterparty to its legal
address; either side may arrive first, on any shard, at any worker. The store keeps, per
row, its newest image (a put only ever moves a row forward in version; a delete is kept as
a tombstone) and, per parent, the children that reference it (a membership only grows).

Why two workers racing on the two sides of a join cannot both miss each other: each writes
its own side *before* reading the other (``join_batch`` writes a whole batch first), and the
store is linearizable (DynamoDB strongly consistent reads; a dict in memory). Whichever write
lands second, its writer reads the first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from stream_processor.transform import AddMember, Image, Put, Write

RowKey = tuple[str, int]  # (source table, key)


@dataclass
class BatchWrites:
    """What a batch of changes writes to the join state."""

    puts: dict[RowKey, tuple[int, Image | None]] = field(default_factory=dict)  # newest only
    members: dict[RowKey, set[int]] = field(default_factory=dict)  # parent → children to add

    def writes(self) -> list[Write]:
        """These writes as the transform's own write values."""
        return [Put(t, k, v, image) for (t, k), (v, image) in self.puts.items()] + [
            AddMember(t, k, child) for (t, k), kids in self.members.items() for child in kids
        ]


class JoinState(Protocol):
    """A shared join state that does a batch's writes and reads in bulk."""

    def write_many(self, writes: BatchWrites) -> None:
        """Every put (a row moves forward in version only) and membership of ``writes``."""

    def get_many(self, keys: set[RowKey]) -> dict[RowKey, tuple[int, str]]:
        """(version, image encoded by ``codec.encode_image``) of each key found."""

    def members_many(self, parents: set[RowKey]) -> dict[RowKey, set[int]]:
        """The children of each parent that has any."""

"""Dead letters, operated: listed, shown and redriven through the current code.

A redrive reads the letters chosen (by reason, cause, time), runs their raw records through
today's decode and transform (``shard.process``, against the shared join state), and writes an
ordinary micro-batch for the loader under a deterministic shard id, ``redrive-<digest of the
letters' keys>``: redriving the same set again writes the same objects. Versions keep their
order in the warehouse, so a redriven old record never overwrites a newer one. Each letter
that now lands is moved under ``dead-letters-redriven/`` with what became of it; one that still
fails stays where it is. Nothing is deleted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from contracts.batches import (
    DEAD_LETTER_PREFIX,
    DeadLetter,
    DeadLetterError,
    ObjectStore,
    redriven_key,
)
from contracts.events import log
from stream_processor.batch import Batch, encode_files, put_files, write_manifest
from stream_processor.join_state.interface import BatchWrites, JoinState, RowKey
from stream_processor.shard import Failure, process


def letters(
    store: ObjectStore,
    *,
    reason: str | None = None,
    cause: str | None = None,
    since: datetime | None = None,
) -> Iterator[tuple[str, DeadLetter]]:
    """(key, letter) of every dead letter not yet redriven, oldest position first, filtered by
    a substring of its reason, its cause, and the time it was dead-lettered."""
    for key in store.keys(DEAD_LETTER_PREFIX + "/"):
        try:
            letter = DeadLetter.from_json(store.get(key))
        except DeadLetterError as exc:
            raise DeadLetterError(f"{key}: {exc}") from None
        if reason is not None and reason not in letter.reason:
            continue
        if cause is not None and letter.cause != cause:
            continue
        if since is not None and letter.dead_lettered_at < since:
            continue
        yield key, letter


@dataclass
class RedriveResult:
    shard_id: str
    manifest_key: str | None = None
    landed: list[str] = field(default_factory=list)  # letters now in the warehouse's batch
    still_failing: dict[str, str] = field(default_factory=dict)  # key → today's reason
    rows: dict[str, int] = field(default_factory=dict)


def redrive_shard_id(keys: list[str]) -> str:
    return "redrive-" + hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:12]


def redrive(
    store: ObjectStore,
    state: JoinState,
    chosen: list[tuple[str, DeadLetter]],
    *,
    dry_run: bool = False,
    compression: str = "zstd",
    strict: bool = False,
) -> RedriveResult:
    """Redrive ``chosen`` (see the module's docstring). ``dry_run``: say what would land and
    what still fails, writing nothing (the join state is only read). ``strict``: the schema
    policy (TOTESYS_CDC_SCHEMA_CHANGES), as the shards apply it."""
    ordered = sorted(chosen, key=lambda kl: (kl[1].shard_id, int(kl[1].sequence_number)))
    result = RedriveResult(redrive_shard_id([k for k, _ in ordered]))
    if not ordered:
        return result
    source = _ReadOnly(state) if dry_run else state
    outcomes = process(source, [letter.raw for _, letter in ordered], strict=strict)
    batch = Batch(result.shard_id)
    for position, ((key, _), outcome) in enumerate(zip(ordered, outcomes, strict=True), 1):
        if isinstance(outcome, Failure):
            result.still_failing[key] = f"{outcome.cause}: {outcome.reason}"
            continue
        result.landed.append(key)
        batch.add_record(str(position), outcome if isinstance(outcome, tuple) else ())
    encoded, refused = encode_files(batch, compression)
    for position, reason in refused.items():  # rows parquet cannot hold: still failing
        key = ordered[int(position) - 1][0]
        result.landed.remove(key)
        result.still_failing[key] = f"processor_error: {reason}"
    result.rows = {table: len(rows) for table, rows in batch.rows.items()}
    if dry_run or batch.empty:
        return result
    files = put_files(batch, encoded, store)
    result.manifest_key = write_manifest(batch, files, store) if files else None
    moved_at = datetime.now(UTC).isoformat()
    for key, letter in ordered:
        if key in result.landed:
            note = {"at": moved_at, "manifest": result.manifest_key, "shard": result.shard_id}
            store.put(
                redriven_key(key),
                replace(letter, redriven=note).to_json(),
                "application/json",
            )
            store.delete(key)
    log(
        "dead_letters_redriven",
        shard=result.shard_id,
        manifest=result.manifest_key,
        landed=len(result.landed),
        still_failing=len(result.still_failing),
    )
    return result


class _ReadOnly:
    """A join state whose writes are dropped (a dry run reads, never writes)."""

    def __init__(self, state: JoinState) -> None:
        self.state = state

    def write_many(self, writes: BatchWrites) -> None:
        return None

    def get_many(self, keys: set[RowKey]) -> dict[RowKey, tuple[int, str]]:
        return self.state.get_many(keys)

    def members_many(self, parents: set[RowKey]) -> dict[RowKey, set[int]]:
        return self.state.members_many(parents)

"""Rejected rows, redriven: loaded again through the loader's own path once fixed.

The fix is either in the warehouse (a migration widening the column, a constraint dropped)
or in the letter (the value corrected in place in S3). A redrive loads the chosen letters'
rows with ``load.load_tables``, in one transaction per transform generation, recorded in the
load ledger as ``loader-rejected-redrive/<digest of the letters' keys and contents>``; every
row keeps its version and generation, so a redriven row never overwrites a newer one, and a
row loaded already changes nothing (a dimension's equal version, a fact's (key, version)).
A letter whose row now loads moves under ``loader-rejected-redriven/`` with the ledger key it
went in; one still refused stays, rewritten (before the load commits) with today's reason and
one more attempt, which also changes its digest, so a redrive after the next fix loads it.
A second redrive of the same letters finds them moved: a no-op.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import psycopg

from contracts.batches import REJECTED_PREFIX, ObjectStore
from contracts.events import log
from warehouse_loader import rejected
from warehouse_loader.load import Refusal, load_tables
from warehouse_loader.rejected import RejectedRow

REDRIVE_SHARD = "loader-rejected-redrive"


@dataclass
class RedriveResult:
    ledger_keys: list[str] = field(default_factory=list)  # one load per generation
    landed: list[str] = field(default_factory=list)  # letters now in the warehouse
    still_refused: dict[str, str] = field(default_factory=dict)  # key → today's reason
    rows: dict[str, int] = field(default_factory=dict)  # rows loaded per table


def ledger_key(chosen: list[tuple[str, RejectedRow]]) -> str:
    digest = hashlib.sha256()
    for key, letter in sorted(chosen, key=lambda kl: kl[0]):
        digest.update(key.encode() + b"\n" + letter.to_json() + b"\n")
    return f"{REJECTED_PREFIX}-redrive/{digest.hexdigest()[:16]}"


def redrive(
    conn: psycopg.Connection,
    store: ObjectStore,
    chosen: list[tuple[str, RejectedRow]],
    *,
    history: bool = True,
) -> RedriveResult:
    """Redrive ``chosen`` (see the module's docstring). Each letter's row is checked against
    its table's schema first (``rejected.RejectedLetterError`` names the first that does not
    fit: nothing is loaded)."""
    result = RedriveResult()
    by_generation: dict[int, list[tuple[str, RejectedRow]]] = {}
    for key, letter in sorted(chosen, key=lambda kl: kl[0]):
        by_generation.setdefault(letter.generation, []).append((key, letter))
    for generation, group in sorted(by_generation.items()):
        per_table: dict[str, list[tuple[str, RejectedRow]]] = {}
        for key, letter in group:
            per_table.setdefault(letter.table, []).append((key, letter))
        tables = {t: rejected.rows_of([letter for _, letter in kl]) for t, kl in per_table.items()}
        ledger = ledger_key(group)
        refused_again: dict[str, str] = {}

        def set_aside(
            refusals: list[Refusal],
            per_table: dict = per_table,
            refused_again: dict = refused_again,
        ) -> None:
            for refusal in refusals:  # the letter stays, with today's reason
                key, letter = per_table[refusal.table][refusal.position]
                again = replace(
                    letter,
                    sqlstate=refusal.sqlstate,
                    error=refusal.error,
                    reason=refusal.message,
                    attempts=letter.attempts + 1,
                )
                store.put(key, again.to_json(), "application/json")
                refused_again[key] = f"{refusal.error}: {refusal.message}"

        loaded = load_tables(
            conn,
            tables,
            ledger_key=ledger,
            generation=generation,
            shard_id=REDRIVE_SHARD,
            records=len(group),
            history=history,
            refused=set_aside,
        )
        # skipped: these very letters were loaded by an earlier redrive that stopped before
        # moving them (a refused one would have been rewritten, changing the digest)
        result.ledger_keys.append(ledger)
        result.still_refused.update(refused_again)
        moved_at = datetime.now(UTC).isoformat()
        for key, letter in group:
            if key in refused_again:
                continue
            note = {"at": moved_at, "ledger_key": ledger, "already_loaded": loaded.skipped}
            store.put(
                rejected.redriven_key(key),
                replace(letter, redriven=note).to_json(),
                "application/json",
            )
            store.delete(key)
            result.landed.append(key)
            result.rows[letter.table] = result.rows.get(letter.table, 0) + 1
    log(
        "rejected_rows_redriven",
        ledger_keys=result.ledger_keys,
        landed=len(result.landed),
        still_refused=len(result.still_refused),
    )
    return result

"""The SQL of one load, built by pure functions with ``psycopg.sql`` (no database needed to
test what they build), one module per kind of statement:

- ``plan``: how a published table is loaded (``TablePlan``), the lock order (``WRITE_ORDER``)
  and what the statements share;
- ``stage``: the session-private staging tables, for dimensions and for facts alike;
- ``dimension``: dim_date's rows and a dimension's merge, inferred members included;
- ``fact``: a fact table's fast ``COPY`` and its merge;
- ``history``: a dimension's versions and its history (SCD type 2).

Inside a manifest's transaction:

1. per dimension file: ``CREATE TEMP TABLE`` a staging table like the table, with its
   ``NOT NULL`` and ``CHECK`` constraints, ``ON COMMIT DROP``, and ``COPY`` the file's rows
   into it (session-private: no shared row is touched); a fact file is staged only if its
   fast path below fails;
2. the writes, in the **lock order** (``WRITE_ORDER``: ``contracts.star_schema``'s table order,
   and within a table the rows sorted by the table's key), so that concurrent loaders never
   wait on each other in a cycle (docs/warehouse-loader.md, Concurrent loaders):
   - ``dim_date``: every date the manifest's facts reference, sorted (``ensure_dates``);
   - each dimension, in one statement (``merge_dimension`` with ``inferred=True``): the
     newest staged version per key, upserted only where it is newer than the stored row
     (joined dimensions compare (version, joined version)) or the stored row is an inferred
     member (a delete flags the row and keeps its attributes), and an **inferred member** for
     every key the facts reference that the dimension does not hold: one sorted pass over the
     table's keys, never two; then, unless history is off, its versions and history
     (``record_versions``, ``rebuild_history``);
   - facts: each (key, version) inserted once, sorted by (key, version): a plain ``COPY``
     into the fact table in a savepoint first (``copy_into_facts``), then, when that meets a
     version already loaded (a replay, an overlapping batch, a concurrent loader), the rows
     staged and ``ON CONFLICT DO UPDATE`` (a newer generation only: ``merge_facts``).
"""

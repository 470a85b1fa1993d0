"""A dimension's history (SCD type 2; docs/warehouse-loader.md, Dimension history). Every
version of a dimension row the loader receives is kept in ``cdc_<dimension>_versions`` (once
per (key, version, joined version, inferred), a newer generation replacing it); the history
of a key is a function of that set alone, recomputed for the keys a load touched, so any
delivery order, with duplicates, gives the same history. The history table's columns follow
from the plan's spec (``contracts.star_schema.history_spec``), as the dimension's do."""

from __future__ import annotations

from psycopg import sql

from contracts.star_schema import Kind, TableSpec, history_spec
from warehouse_loader.merge_sql.dimension import incoming_rows
from warehouse_loader.merge_sql.plan import GENERATION, TablePlan, column_list

# The query parameter of the keys whose history is made again (``integer[]``).
KEYS = sql.Placeholder("keys")


def versions_table(p: TablePlan) -> str:
    return f"cdc_{p.table}_versions"


def _history(p: TablePlan) -> TableSpec:
    """The history table's spec, from the plan's (a spec outside ``STAR_SCHEMA`` included)."""
    if p.is_fact:
        raise ValueError(f"{p.table} is a fact table: it has no history")
    return history_spec(p.spec)


def history_table(p: TablePlan) -> str:
    return _history(p).name


def _version_order(p: TablePlan) -> sql.Composable:
    """A key's versions in the current dimension's guard order: (version, joined version);
    an inferred member (version 0) before a real full-load version 0."""
    joined = p.spec.kind is Kind.JOINED
    return sql.SQL(", ").join(
        [
            sql.SQL("cdc_version"),
            *([sql.SQL("coalesce(cdc_joined_version, -1)")] if joined else []),
            sql.SQL("cdc_is_inferred DESC"),
        ]
    )


def version_identity(p: TablePlan) -> sql.Composable:
    """The columns (and expression) a version is stored once by: the conflict target of
    ``record_versions`` and the versions table's unique index."""
    joined = p.spec.kind is Kind.JOINED
    return sql.SQL(", ").join(
        [
            sql.Identifier(p.spec.key),
            sql.SQL("cdc_version"),
            *([sql.SQL("(coalesce(cdc_joined_version, -1))")] if joined else []),
            sql.SQL("cdc_is_inferred"),
        ]
    )


def _guard(p: TablePlan, alias: str) -> sql.Composable:
    """A row's place in the guard order, (version, joined version), as a row value."""
    joined = p.spec.kind is Kind.JOINED
    return sql.SQL("({})").format(
        sql.SQL(", ").join(
            [
                sql.Identifier(alias, "cdc_version"),
                *(
                    [
                        sql.SQL("coalesce({}, -1)").format(
                            sql.Identifier(alias, "cdc_joined_version")
                        )
                    ]
                    if joined
                    else []
                ),
            ]
        )
    )


def _position(p: TablePlan) -> sql.Composable:
    """Where a version stands in commit order: its version, or for a joined row the later of
    its two sides' versions."""
    if p.spec.kind is Kind.JOINED:
        return sql.SQL("greatest(cdc_version, coalesce(cdc_joined_version, 0))")
    return sql.SQL("cdc_version")


def _newer_generation_replaces(p: TablePlan) -> sql.Composed:
    """The versions table's guard: a version is stored once by its identity (key, version,
    joined version, inferred: ``version_identity``, so the dimension's version and joined
    version are already equal), and a newer generation replaces the stored one's columns;
    an equal or older generation changes nothing."""
    replace = sql.SQL(", ").join(
        sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c))
        for c in (*p.columns, "cdc_generation")
        if c not in (p.spec.key, "cdc_version", "cdc_joined_version")
    )
    return sql.SQL(
        "ON CONFLICT ({identity}) DO UPDATE SET {replace} "
        "WHERE {v}.cdc_generation < EXCLUDED.cdc_generation"
    ).format(identity=version_identity(p), replace=replace, v=sql.Identifier(versions_table(p)))


def record_versions(p: TablePlan, *, staged: bool = True, inferred: bool = False) -> sql.Composed:
    """Every staged version, and each inferred member the dimension's merge made (their
    keys the ``inferred`` parameter: ``dimension.merge_dimension_counted``'s, never the keys
    the facts reference, some of which the merge left alone), into the versions table, sorted
    by key: each once, an equal one changing nothing and a newer generation replacing it; and
    the history of each key whose versions changed, in the same statement, one of two ways:

    - **appended** (the usual case: one new version of the key, newer than its open history
      row's, or a key with no history yet): the rows ``rebuild_history`` would make, without
      remaking the key's history. The version takes effect at the running maximum of the
      positions and times of the key's versions up to it (``rebuild_history``'s step 4):
      as it is the key's newest, the maximum of its own and of those stored before. If it
      starts a new row (its flags, or a live version's attributes, differ from the open
      row's: step 2), the open row ends there and the version's row is added (a delete's
      with the open row's attributes: step 3); if not, it becomes the open row's newest
      version (its bookkeeping);
    - **to rebuild** (several versions of the key at once, a late version, a newer
      generation's replay, an open row that is an inferred member): the key's history rows
      are deleted, and ``rebuild_history`` makes them again in a next statement, where these
      writes are visible.

    Returns (the keys to rebuild, sorted, as one array; how many keys were appended to).

    Run right after the dimension's merge (``dimension.merge_dimension``): that statement has
    locked the current row of every staged key and of every member it made (a member is made
    where the dimension holds no row, so the versions table holds none either), and this
    statement writes versions of those keys only, so two loads of the same key do this one
    after the other, each seeing what the other committed. (A referenced key the dimension
    already held, written while history was off, has no version here; the merge did not lock
    it, so neither does this.)"""
    history = _history(p)
    versions, cols, key = sql.Identifier(versions_table(p)), column_list(p.columns), p.spec.key
    sources = incoming_rows(p, versions, staged=staged, inferred=inferred)
    if not sources:
        raise ValueError(f"versions of {p.table} need staged rows or inferred members")
    attributes = [c.name for c in p.spec.attributes]
    bookkeeping = [c.name for c in history.columns if c.is_bookkeeping]

    def of(alias: str, names: list[str]) -> sql.Composable:
        return sql.SQL(", ").join(sql.Identifier(alias, c) for c in names)

    return sql.SQL(
        "WITH written AS (INSERT INTO {v} ({cols}, cdc_is_inferred, cdc_generation) "
        "SELECT DISTINCT ON ({identity}) {cols}, cdc_is_inferred, {generation} "
        "FROM ({sources}) AS incoming ORDER BY {identity} "
        "{guard} RETURNING {key}, {attrs}, {book}), "
        "open AS (SELECT {key}, {attrs}, {book} FROM {h} "
        "WHERE {key} IN (SELECT {key} FROM written) AND valid_to_version IS NULL), "
        "keys AS (SELECT w.{key}, count(*) > 1 OR coalesce(bool_or(o.cdc_is_inferred "
        "OR {w_at} <= {o_at}), false) AS rebuild "
        "FROM written AS w LEFT JOIN open AS o USING ({key}) GROUP BY w.{key}), "
        "gone AS (DELETE FROM {h} WHERE {key} IN (SELECT {key} FROM keys WHERE rebuild)), "
        "new AS (SELECT w.*, {open_attrs}, o.{key} IS NOT NULL AS continues, "
        "o.{key} IS NULL OR o.cdc_is_deleted IS DISTINCT FROM w.cdc_is_deleted "
        "OR o.cdc_is_inferred IS DISTINCT FROM w.cdc_is_inferred "
        "OR (NOT w.cdc_is_deleted AND ({w_attrs}) IS DISTINCT FROM ({o_attrs})) AS starts "
        "FROM written AS w JOIN keys AS k USING ({key}) LEFT JOIN open AS o USING ({key}) "
        "WHERE NOT k.rebuild), "
        # the versions stored before this statement (its snapshot), of keys with a history
        "effect AS (SELECT n.*, greatest(s.at, {position}) AS at, "
        "greatest(s.at_time, n.cdc_source_updated_at) AS at_time FROM new AS n LEFT JOIN ("
        "SELECT {key}, max({position}) AS at, max(cdc_source_updated_at) AS at_time FROM {v} "
        "WHERE {key} IN (SELECT {key} FROM new WHERE continues) GROUP BY {key}"
        ") AS s USING ({key})), "
        "closed AS (UPDATE {h} AS h SET "
        "valid_to = CASE WHEN e.starts THEN e.at_time ELSE h.valid_to END, "
        "valid_to_version = CASE WHEN e.starts THEN e.at ELSE h.valid_to_version END, "
        "{extend} FROM effect AS e WHERE e.continues AND h.{key} = e.{key} "
        "AND h.valid_to_version IS NULL), "
        "added AS (INSERT INTO {h} ({key}, {attrs}, valid_from, valid_to, valid_from_version, "
        "valid_to_version, {book}) "
        "SELECT {key}, {kept}, at_time, NULL, at, NULL, {book} FROM effect WHERE starts "
        "ORDER BY {key}) "
        "SELECT coalesce(array_agg({key} ORDER BY {key}) FILTER (WHERE rebuild), '{{}}'), "
        "count(*) FILTER (WHERE NOT rebuild) FROM keys"
    ).format(
        v=versions,
        cols=cols,
        identity=version_identity(p),
        generation=GENERATION,
        sources=sql.SQL(" UNION ALL ").join(sources),
        guard=_newer_generation_replaces(p),
        key=sql.Identifier(key),
        attrs=column_list(attributes),
        book=column_list(bookkeeping),
        h=sql.Identifier(history.name),
        w_at=_guard(p, "w"),
        o_at=_guard(p, "o"),
        open_attrs=sql.SQL(", ").join(
            sql.SQL("{} AS {}").format(sql.Identifier("o", c), sql.Identifier(f"open_{c}"))
            for c in attributes
        ),
        w_attrs=of("w", attributes),
        o_attrs=of("o", attributes),
        position=_position(p),
        extend=sql.SQL(", ").join(
            sql.SQL("{c} = CASE WHEN e.starts THEN h.{c} ELSE e.{c} END").format(
                c=sql.Identifier(c)
            )
            for c in bookkeeping
        ),
        kept=sql.SQL(", ").join(
            sql.SQL("CASE WHEN cdc_is_deleted THEN {o} ELSE {c} END").format(
                o=sql.Identifier(f"open_{c}"), c=sql.Identifier(c)
            )
            for c in attributes
        ),
    )


def rebuild_history(p: TablePlan, into: str | None = None) -> sql.Composed:
    """The history rows of the keys the ``keys`` parameter lists (``integer[]``), from their
    versions, inserted in key order (their old rows are gone: ``record_versions``) into the
    history table, or into ``into`` (a table like it: ``reconcile`` compares the two). One sort
    of the versions, by key and guard order (``_version_order``), then windows over it:

    1. a key's inferred member counts only while it has no real version (the real row
       replaces it);
    2. a version starts a new row (an *island*) when its flags differ from the version
       before it, or (a live version) its attributes do: a delete keeps the attributes of the
       version before it, as the current dimension does, so consecutive deletes are one row;
    3. each island is one row: it starts where its first version took effect and carries its
       last version's bookkeeping (so the open row is the current dimension row), and a
       delete's row the attributes of the island before it;
    4. where a version takes effect is the running maximum, over the key's versions in that
       order, of the commit position (``greatest(version, joined version)``: a joined row
       takes effect with the later of its two sides' changes) and of the source's
       ``last_updated``; a row ends where the next one starts (``valid_to`` NULL: current).
    """
    h = _history(p)
    key = sql.Identifier(p.spec.key)
    attributes = column_list([c.name for c in p.spec.attributes])
    bookkeeping = column_list([c.name for c in h.columns if c.is_bookkeeping])
    kept = sql.SQL(", ").join(
        sql.SQL("CASE WHEN cdc_is_deleted THEN lag({c}) OVER k ELSE {c} END").format(
            c=sql.Identifier(c.name)
        )
        for c in p.spec.attributes
    )
    v = sql.Identifier(versions_table(p))
    return sql.SQL(
        "INSERT INTO {h} ({key}, {attributes}, valid_from, valid_to, valid_from_version, "
        "valid_to_version, {bookkeeping}) "
        # 3, 4: the island's row, a delete's with the attributes of the island before it
        "SELECT {key}, {kept}, valid_from, lead(valid_from) OVER k, valid_from_version, "
        "lead(valid_from_version) OVER k, {bookkeeping} FROM ("
        # 3: an island's last version, with where its first took effect
        " SELECT *, CASE WHEN starts THEN at ELSE lag(at) OVER w END AS valid_from_version, "
        " CASE WHEN starts THEN at_time ELSE lag(at_time) OVER w END AS valid_from FROM ("
        "  SELECT *, coalesce(lead(starts) OVER w, true) AS last FROM ("
        # 2, 4
        "   SELECT *, lag(cdc_version) OVER w IS NULL"
        "   OR cdc_is_deleted IS DISTINCT FROM lag(cdc_is_deleted) OVER w"
        "   OR cdc_is_inferred IS DISTINCT FROM lag(cdc_is_inferred) OVER w"
        "   OR (NOT cdc_is_deleted AND ({attributes}) IS DISTINCT FROM lag(({attributes})) OVER w)"
        "   AS starts, max({position}) OVER (w ROWS UNBOUNDED PRECEDING) AS at,"
        "   max(cdc_source_updated_at) OVER (w ROWS UNBOUNDED PRECEDING) AS at_time,"
        # 1: a member sorts first (version 0, then inferred first) and is the key's only one
        "   cdc_is_inferred AND lead(cdc_version) OVER w IS NOT NULL AS replaced FROM {v}"
        "   WHERE {key} = ANY({keys}::integer[])"
        "   WINDOW w AS (PARTITION BY {key} ORDER BY {order})"
        "  ) AS versions WINDOW w AS (PARTITION BY {key} ORDER BY {order})"
        " ) AS marked WHERE NOT replaced AND (starts OR last)"
        " WINDOW w AS (PARTITION BY {key} ORDER BY {order})"
        ") AS islands WHERE last WINDOW k AS (PARTITION BY {key} ORDER BY {order}) "
        "ORDER BY {key}, {order}"
    ).format(
        h=sql.Identifier(into or h.name),
        key=key,
        attributes=attributes,
        bookkeeping=bookkeeping,
        kept=kept,
        position=_position(p),
        v=v,
        keys=KEYS,
        order=_version_order(p),
    )


def seed_versions(p: TablePlan) -> sql.Composed:
    """For the keys the ``keys`` parameter lists: lock their current rows (in key order, as a
    load does), add each current row to the versions (a version the loader received with
    history off), replacing a stored one of the same identity an older generation wrote (a
    newer generation's replay received with history off; ``record_versions``' guard), and
    delete their history rows; returns the keys, sorted, for ``rebuild_history``.
    ``reconcile --repair``'s way to make a history consistent again."""
    history = _history(p)
    columns = column_list([*p.columns, "cdc_is_inferred", "cdc_generation"])
    key = sql.Identifier(p.spec.key)
    return sql.SQL(
        "WITH locked AS (SELECT {cols} FROM {d} WHERE {key} = ANY({keys}::integer[]) "
        "ORDER BY {key} FOR NO KEY UPDATE), "
        "seeded AS (INSERT INTO {v} ({cols}) SELECT {cols} FROM locked ORDER BY {key} "
        "{guard}), "
        "gone AS (DELETE FROM {h} WHERE {key} = ANY({keys}::integer[])) "
        "SELECT coalesce(array_agg({key} ORDER BY {key}), '{{}}') FROM locked"
    ).format(
        cols=columns,
        d=sql.Identifier(p.table),
        key=key,
        keys=KEYS,
        v=sql.Identifier(versions_table(p)),
        guard=_newer_generation_replaces(p),
        h=sql.Identifier(history.name),
    )

"""The SQL of one load, built by pure functions with ``psycopg.sql`` (no database needed to
test what they build).

Inside a manifest's transaction:

1. per dimension file: ``CREATE TEMP TABLE`` a staging table like the table, with its
   ``NOT NULL`` and ``CHECK`` constraints, ``ON COMMIT DROP``, and ``COPY`` the file's rows
   into it (session-private: no shared row is touched); a fact file is staged only if its
   fast path below fails;
2. the writes, in the **lock order** (``WRITE_ORDER``: ``contracts.star_schema``'s table order,
   and within a table the rows sorted by the table's key), so that concurrent loaders never
   wait on each other in a cycle (docs/warehouse-loader.md, Concurrent loaders):
   - ``dim_date``: every date the manifest's facts reference, sorted (``ensure_dates``);
   - each dimension, in one statement (``merge`` with ``inferred=True``): the newest staged
     version per key, upserted only where it is newer than the stored row (joined dimensions
     compare (version, joined version)) or the stored row is an inferred member (a delete
     flags the row and keeps its attributes), and an **inferred member** for every key the
     facts reference that the dimension does not hold: one sorted pass over the table's keys,
     never two;
   - facts: each (key, version) inserted once, sorted by (key, version): a plain ``COPY``
     into the fact table in a savepoint first (``copy_into_facts``), then, when that meets a
     version already loaded (a replay, an overlapping batch, a concurrent loader), the rows
     staged and ``ON CONFLICT DO UPDATE`` (a newer generation only).
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from contracts.star_schema import (
    HISTORIES,
    PUBLISHED,
    SPECS,
    Kind,
    TableSpec,
    date_columns,
    dimension_references,
    spec,
)


@dataclass(frozen=True)
class TablePlan:
    """How one published table is loaded, from its spec (``contracts.star_schema``)."""

    spec: TableSpec

    @property
    def table(self) -> str:
        return self.spec.name

    @property
    def stage(self) -> str:
        return f"stage_{self.spec.name}"

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.spec.published)

    @property
    def is_fact(self) -> bool:
        return self.spec.is_fact

    @property
    def date_columns(self) -> tuple[str, ...]:
        return date_columns(self.spec)


# The query parameters of the statements that write rows: the manifest's generation, and the
# keys the facts reference (a dimension's inferred members).
GENERATION = sql.Placeholder("generation")
INFERRED = sql.Placeholder("inferred")

# The order a load writes tables in: contracts.star_schema's (dim_date, the dimensions, the
# facts). Every load takes its row locks table by table in this order and, within a table, in
# key order, so two loads never hold what the other waits for.
WRITE_ORDER: tuple[str, ...] = tuple(s.name for s in SPECS)


def table_plan(table: str | TableSpec) -> TablePlan:
    """The plan of a published table, by name or from a spec (a spec need not be one of
    ``STAR_SCHEMA``'s: the merge SQL follows from whatever spec it is given)."""
    found = table if isinstance(table, TableSpec) else None
    if found is None:
        if table not in PUBLISHED:
            raise ValueError(f"no table {table!r} among the published tables")
        found = spec(table)
    return TablePlan(found)


def _cols(names: tuple[str, ...] | list[str]) -> sql.Composable:
    return sql.SQL(", ").join(map(sql.Identifier, names))


def create_stage(p: TablePlan) -> sql.Composed:
    """A staging table that refuses what the table would: ``LIKE`` the table with its
    ``NOT NULL`` and ``CHECK`` constraints (and the defaults and identity of the columns a
    batch does not carry, so they satisfy theirs), without its indexes and foreign keys. A
    row the warehouse refuses for its data is therefore refused by the staging ``COPY``,
    where the loader can set it aside (``load.copy_rows``), never by the merge that follows:
    that statement writes staged rows and inferred members (a key and version 0) only."""
    return sql.SQL(
        "CREATE TEMP TABLE {stage} "
        "(LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY) ON COMMIT DROP"
    ).format(stage=sql.Identifier(p.stage), table=sql.Identifier(p.table))


def copy_into_stage(p: TablePlan) -> sql.Composed:
    """CSV as pyarrow writes it: NULL is an unquoted empty field, an empty string is quoted."""
    return sql.SQL("COPY {stage} ({cols}) FROM STDIN WITH (FORMAT csv)").format(
        stage=sql.Identifier(p.stage), cols=_cols(p.columns)
    )


def ensure_dates() -> sql.Composed:
    """dim_date rows for the dates passed as one ``date[]`` parameter (ISO weekday, English
    names), inserted in date order. The loader collects the distinct dates of all the
    manifest's facts from their Arrow columns (far cheaper than a UNION over every staged row)
    and ensures them in this one statement, before any other table is written."""
    return sql.SQL(
        "INSERT INTO dim_date "
        "(date_id, year, month, day, day_of_week, day_name, month_name, quarter) "
        "SELECT d, extract(year FROM d), extract(month FROM d), extract(day FROM d), "
        "extract(isodow FROM d), to_char(d, 'FMDay'), to_char(d, 'FMMonth'), "
        "extract(quarter FROM d) FROM unnest(%s::date[]) AS d ORDER BY d "
        "ON CONFLICT (date_id) DO NOTHING"
    )


def references(p: TablePlan) -> dict[str, str]:
    """Fact column → the dimension it references (dim_date's aside): the keys that need an
    inferred member where the dimension does not hold them yet."""
    return dict(dimension_references(p.spec))


def copy_into_facts(p: TablePlan) -> sql.Composed:
    """COPY straight into a fact table (its columns and ``cdc_generation``; ``cdc_loaded_at``
    takes its default): the fast path for a batch of versions the warehouse has not seen (the
    usual case), rows sent sorted by (key, version). The (key, version) unique index refuses
    the whole COPY if any version is there already; the loader then stages the rows and uses
    ``merge``."""
    if not p.is_fact:
        raise ValueError(f"{p.table} is not a fact table")
    return sql.SQL("COPY {t} ({cols}, cdc_generation) FROM STDIN WITH (FORMAT csv)").format(
        t=sql.Identifier(p.table), cols=_cols(p.columns)
    )


def _members(p: TablePlan, where: sql.Identifier) -> sql.Composed:
    """The inferred members of the keys the ``inferred`` parameter lists that table ``where``
    does not hold, as rows of the plan's columns and ``cdc_is_inferred``: a member knows its
    key only (``(NULL::dimension).column`` is a NULL of the column's type)."""
    member = {
        p.spec.key: sql.SQL("k"),
        "cdc_version": sql.SQL("0"),
        "cdc_is_deleted": sql.SQL("false"),
    }
    return sql.SQL(
        "SELECT {values}, true AS cdc_is_inferred FROM unnest({keys}::integer[]) AS k "
        "WHERE NOT EXISTS (SELECT FROM {w} WHERE {w}.{key} = k)"
    ).format(
        values=sql.SQL(", ").join(
            sql.SQL("{v} AS {c}").format(
                v=member.get(
                    c, sql.SQL("(NULL::{t}).{c}").format(t=sql.Identifier(p.table), c=name)
                ),
                c=name,
            )
            for c in p.columns
            for name in (sql.Identifier(c),)
        ),
        keys=INFERRED,
        w=where,
        key=sql.Identifier(p.spec.key),
    )


def merge(p: TablePlan, *, staged: bool = True, inferred: bool = False) -> sql.Composed:
    """The statement that moves staged rows into the table, stamped with the manifest's
    generation (the ``generation`` parameter), in key order; returns one row per row written,
    with ``inserted`` true for a new row and false for an update, and (dimensions)
    ``inferred`` true for an inferred member made, and the row's key.

    Rows are ordered by (version, joined version, generation): a newer generation replaces a
    row of an equal version (a replay after a fix to the transform), an older one never
    overwrites a newer one, and no generation brings an older version back.

    A dimension's statement may also take (``inferred``) the keys the manifest's facts
    reference, as one ``integer[]`` parameter, ``inferred``: each key the table does not hold
    becomes an inferred member (``cdc_is_inferred``, key and version 0 only) in the same
    sorted pass as the staged rows, so a load locks a table's keys in one increasing order
    however its rows and references interleave. A key already committed when the statement
    starts is left alone (no lock, no wait, even while another load updates it); a staged row
    of the same key wins; an inferred member never overwrites a row, and a real row always
    replaces an inferred member. ``staged=False``:
    inferred members only (the manifest has no file of this dimension)."""
    table, stage, key = (
        sql.Identifier(p.table),
        sql.Identifier(p.stage),
        sql.Identifier(p.spec.key),
    )
    cols = _cols(p.columns)
    if p.is_fact:
        if inferred or not staged:
            raise ValueError(f"{p.table} is a fact table: it has staged rows and no members")
        replace = sql.SQL(", ").join(
            sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c))
            for c in p.columns
            if c not in (p.spec.key, "cdc_version")
        )
        return sql.SQL(
            "INSERT INTO {t} ({cols}, cdc_generation) "
            "SELECT DISTINCT ON ({key}, cdc_version) {cols}, {generation} FROM {s} "
            "ORDER BY {key}, cdc_version "
            "ON CONFLICT ({key}, cdc_version) DO UPDATE SET {replace}, "
            "cdc_generation = EXCLUDED.cdc_generation, cdc_loaded_at = clock_timestamp() "
            "WHERE {t}.cdc_generation < EXCLUDED.cdc_generation "
            "RETURNING (xmax = 0) AS inserted"
        ).format(t=table, cols=cols, key=key, s=stage, generation=GENERATION, replace=replace)
    if not (staged or inferred):
        raise ValueError(f"a merge into {p.table} needs staged rows or inferred members")
    attributes = [c for c in p.columns if c != p.spec.key and not c.startswith("cdc_")]
    keep_on_delete = sql.SQL(", ").join(
        sql.SQL(
            "{c} = CASE WHEN EXCLUDED.cdc_is_deleted THEN {t}.{c} ELSE EXCLUDED.{c} END"
        ).format(c=sql.Identifier(c), t=table)
        for c in attributes
    )
    bookkeeping = [c for c in p.columns if c.startswith("cdc_")]
    set_bookkeeping = sql.SQL(", ").join(
        sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in bookkeeping
    )
    # per key: a staged row before an inferred member, then the newest version first
    newest = [key, sql.SQL("cdc_is_inferred"), sql.SQL("cdc_version DESC")]
    if p.spec.kind is Kind.JOINED:
        newest.append(sql.SQL("cdc_joined_version DESC NULLS LAST"))
        newer = sql.SQL(
            "({t}.cdc_version, coalesce({t}.cdc_joined_version, -1), {t}.cdc_generation) < "
            "(EXCLUDED.cdc_version, coalesce(EXCLUDED.cdc_joined_version, -1), "
            "EXCLUDED.cdc_generation)"
        ).format(t=table)
    else:
        newer = sql.SQL(
            "({t}.cdc_version, {t}.cdc_generation) < "
            "(EXCLUDED.cdc_version, EXCLUDED.cdc_generation)"
        ).format(t=table)
    sources = []
    if staged:
        sources.append(
            sql.SQL("SELECT {cols}, false AS cdc_is_inferred FROM {s}").format(cols=cols, s=stage)
        )
    if inferred:
        sources.append(_members(p, table))
    return sql.SQL(
        "INSERT INTO {t} ({cols}, cdc_is_inferred, cdc_generation) "
        "SELECT DISTINCT ON ({key}) {cols}, cdc_is_inferred, {generation} "
        "FROM ({sources}) AS incoming ORDER BY {newest} "
        "ON CONFLICT ({key}) DO UPDATE SET {attrs}, {book}, "
        "cdc_generation = EXCLUDED.cdc_generation, "
        "cdc_is_inferred = false, cdc_loaded_at = clock_timestamp() "
        "WHERE NOT EXCLUDED.cdc_is_inferred AND ({newer} OR {t}.cdc_is_inferred) "
        "RETURNING (xmax = 0) AS inserted, {t}.cdc_is_inferred AS inferred, {t}.{key}"
    ).format(
        t=table,
        cols=cols,
        key=key,
        sources=sql.SQL(" UNION ALL ").join(sources),
        newest=sql.SQL(", ").join(newest),
        attrs=keep_on_delete,
        book=set_bookkeeping,
        newer=newer,
        generation=GENERATION,
    )


def merge_counted(p: TablePlan, *, staged: bool = True, inferred: bool = False) -> sql.Composed:
    """``merge`` wrapped to return one row instead of a row per row written: (staged rows
    inserted, staged rows written, inferred members inserted, the keys of those members,
    sorted, as one array: the only members ``record_versions`` may record)."""
    if p.is_fact:
        return sql.SQL(
            "WITH written AS ({merge}) "
            "SELECT count(*) FILTER (WHERE inserted), count(*), 0, '{{}}'::integer[] FROM written"
        ).format(merge=merge(p))
    return sql.SQL(
        "WITH written AS ({merge}) SELECT count(*) FILTER (WHERE inserted AND NOT inferred), "
        "count(*) FILTER (WHERE NOT inferred), count(*) FILTER (WHERE inferred), "
        "coalesce(array_agg({key} ORDER BY {key}) FILTER (WHERE inferred), '{{}}') FROM written"
    ).format(merge=merge(p, staged=staged, inferred=inferred), key=sql.Identifier(p.spec.key))


# Dimension history (docs/warehouse-loader.md, Dimension history). Every version of a
# dimension row the loader receives is kept in ``cdc_<dimension>_versions`` (once per (key,
# version, joined version, inferred), a newer generation replacing it); the history of a key
# is a function of that set alone, recomputed for the keys a load touched, so any delivery
# order, with duplicates, gives the same history.
KEYS = sql.Placeholder("keys")


def versions_table(p: TablePlan) -> str:
    return f"cdc_{p.table}_versions"


def history_table(p: TablePlan) -> str:
    return HISTORIES[p.table].name


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
    """Every staged version, and each inferred member the dimension's ``merge`` made (their
    keys the ``inferred`` parameter: ``merge_counted``'s, never the keys the facts
    reference, some of which the merge left alone), into the versions table, sorted by key:
    each once, an equal one changing nothing and a newer generation replacing it; and the
    history of each key whose versions changed, in the same statement, one of two ways:

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

    Run right after the dimension's ``merge``: that statement has locked the current row of
    every staged key and of every member it made (a member is made where the dimension holds
    no row, so the versions table holds none either), and this statement writes versions of
    those keys only, so two loads of the same key do this one after the other, each seeing
    what the other committed. (A referenced key the dimension already held, written while
    history was off, has no version here; the merge did not lock it, so neither does this.)"""
    if p.is_fact:
        raise ValueError(f"{p.table} is a fact table: it has no history")
    versions, cols, key = sql.Identifier(versions_table(p)), _cols(p.columns), p.spec.key
    sources = []
    if staged:
        sources.append(
            sql.SQL("SELECT {cols}, false AS cdc_is_inferred FROM {s}").format(
                cols=cols, s=sql.Identifier(p.stage)
            )
        )
    if inferred:
        sources.append(_members(p, versions))
    if not sources:
        raise ValueError(f"versions of {p.table} need staged rows or inferred members")
    attributes = [c.name for c in p.spec.attributes]
    bookkeeping = [c.name for c in HISTORIES[p.table].columns if c.is_bookkeeping]

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
        attrs=_cols(attributes),
        book=_cols(bookkeeping),
        h=sql.Identifier(history_table(p)),
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
    if p.is_fact:
        raise ValueError(f"{p.table} is a fact table: it has no history")
    h = HISTORIES[p.table]
    key = sql.Identifier(p.spec.key)
    attributes = _cols([c.name for c in p.spec.attributes])
    bookkeeping = _cols([c.name for c in h.columns if c.is_bookkeeping])
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
    if p.is_fact:
        raise ValueError(f"{p.table} is a fact table: it has no history")
    columns = _cols([*p.columns, "cdc_is_inferred", "cdc_generation"])
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
        h=sql.Identifier(history_table(p)),
    )

"""``warehouse-loader migrations new NAME``: the migration that brings the warehouse's DDL to
the specs (``contracts.star_schema``) after a column was added to one of them.

What the existing migrations make is read from their text (``warehouse_tools.ddl``, the
reader the DDL contract test uses), not from a database: the command needs nothing running,
the result depends on the migration files alone (the same on every machine and in CI), and
``tests/contracts/test_star_schema_ddl.py`` then holds the new file to the specs like every
other. (Applying the migrations to a scratch database and reading ``information_schema``
would see exactly what PostgreSQL makes, but needs a server to write a file;
``tests/contracts/test_star_schema_on_postgres.py`` already makes that check on a real one.)

For every table the specs declare, the columns the migrations make must be the start of the
spec's columns, with the same types; the spec's further columns are added, in order, with
``ALTER TABLE ... ADD COLUMN``:

- the table itself (a dimension or a fact);
- for a dimension, its history (``HISTORIES``) and its versions table
  (``cdc_<dimension>_versions``, migration 0006: the dimension's columns but
  ``cdc_loaded_at``, text unbounded);
- the as-of view of every fact the change touches (the fact's own columns, ``f.*``, or the
  attributes of a dimension it references): dropped and created again from
  ``as_of_columns``, since a view's columns are fixed when it is made.

Only what can be done safely while the pipeline runs is generated: a nullable column without
a default, which ``ADD COLUMN`` adds without rewriting the table and which old batches load as
NULL (``load.read_file``). Anything else (a NOT NULL column, a new table, a column dropped,
retyped or inserted before existing ones) is refused with the reason: write that migration by
hand. Identifiers are quoted with ``psycopg.sql``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from psycopg import sql

from contracts.star_schema import (
    HISTORIES,
    SPECS,
    Column,
    Kind,
    TableSpec,
    as_of_columns,
    history_spec,
)
from warehouse_loader import migrations
from warehouse_tools import ddl

# The folder migrations.available() reads: warehouse_loader/migrations/, beside migrations.py.
MIGRATIONS_DIR = Path(migrations.__file__).with_name("migrations")


class NotGenerated(Exception):
    """The specs differ from the migrations in a way this generator does not write."""


def pg_type(column: Column, *, bounded: bool = True) -> str:
    """The PostgreSQL type a spec column is stored as (the DDL test's ``pg_type``): text of a
    ``length`` is ``varchar(n)`` where ``bounded`` (current tables; histories and versions
    tables hold unbounded text)."""
    t = column.type
    if pa.types.is_decimal(t):
        return f"numeric({t.precision},{t.scale})"
    if pa.types.is_string(t):
        return f"varchar({column.length})" if bounded and column.length else "text"
    if pa.types.is_timestamp(t):
        return "timestamptz" if t.tz else "timestamp(3)"
    found = {
        pa.int32(): "integer",
        pa.int64(): "bigint",
        pa.bool_(): "boolean",
        pa.date32(): "date",
        pa.time32("ms"): "time(3)",
    }.get(t)
    if found is None:
        raise NotGenerated(f"{column.name}: no PostgreSQL type for {t}")
    return found


def versions_columns(dimension: TableSpec) -> tuple[Column, ...]:
    """The columns of ``cdc_<dimension>_versions`` (migration 0006): the dimension's but
    ``cdc_loaded_at``, in its order."""
    return tuple(c for c in dimension.columns if c.name != "cdc_loaded_at")


@dataclass(frozen=True)
class Target:
    """A table the specs declare: its name, its columns, and whether text keeps its length."""

    name: str
    columns: tuple[Column, ...]
    bounded: bool


def targets(specs: tuple[TableSpec, ...] = SPECS) -> list[Target]:
    out = []
    for spec in specs:
        out.append(Target(spec.name, spec.columns, bounded=True))
        if spec.kind in (Kind.DIMENSION, Kind.JOINED):
            out.append(Target(history_spec(spec).name, history_spec(spec).columns, bounded=False))
            out.append(Target(f"cdc_{spec.name}_versions", versions_columns(spec), bounded=False))
    return out


def _add_column(table: str, column: Column, bounded: bool) -> sql.Composed:
    if not column.nullable:
        raise NotGenerated(
            f"{table}.{column.name} is NOT NULL: a running pipeline's old batches cannot fill it "
            "and existing rows need a value; write this migration by hand"
        )
    reference = (
        sql.SQL(" REFERENCES {} DEFERRABLE").format(sql.Identifier(column.references))
        if column.references and bounded
        else sql.SQL("")
    )
    return sql.SQL("ALTER TABLE {t} ADD COLUMN {c} {type}{ref}").format(
        t=sql.Identifier(table),
        c=sql.Identifier(column.name),
        type=sql.SQL(pg_type(column, bounded=bounded)),
        ref=reference,
    )


def as_of_view(fact: TableSpec, specs: tuple[TableSpec, ...] = SPECS) -> sql.Composed:
    """``fact_<name>_as_of`` (migration 0006): each fact version with the attributes of the
    dimension rows valid at its version, from their histories."""
    by_name = {s.name: s for s in specs}
    aliases: dict[str, str] = {}  # fact column → its dimension's alias
    selected = [sql.SQL("f.*")]
    joins = []
    for view_column, fact_column, dimension, attribute in as_of_columns(fact, by_name):
        alias = dimension.removeprefix("dim_")
        if fact_column not in aliases:
            aliases[fact_column] = alias
            a, key = sql.Identifier(alias), sql.Identifier(by_name[dimension].key)
            joins.append(
                sql.SQL(
                    "LEFT JOIN {h} AS {a}\n    ON {a}.{key} = f.{fk}\n"
                    "    AND {a}.valid_from_version <= f.cdc_version\n"
                    "    AND ({a}.valid_to_version IS NULL OR f.cdc_version < {a}.valid_to_version)"
                ).format(
                    h=sql.Identifier(HISTORIES[dimension].name),
                    a=a,
                    key=key,
                    fk=sql.Identifier(fact_column),
                )
            )
        selected.append(
            sql.SQL("{a}.{c} AS {v}").format(
                a=sql.Identifier(aliases[fact_column]),
                c=sql.Identifier(attribute),
                v=sql.Identifier(view_column),
            )
        )
    return sql.SQL("CREATE VIEW {view} AS SELECT\n    {cols}\nFROM {fact} AS f\n{joins}").format(
        view=sql.Identifier(f"{fact.name}_as_of"),
        cols=sql.SQL(",\n    ").join(selected),
        fact=sql.Identifier(fact.name),
        joins=sql.SQL("\n").join(joins),
    )


def statements(
    existing: dict[str, ddl.DdlTable], specs: tuple[TableSpec, ...] = SPECS
) -> list[str]:
    """The statements that take the tables ``existing`` (what the migrations make) to
    ``specs``; empty when they agree. ``NotGenerated`` for a difference not generated."""
    out: list[sql.Composed] = []
    changed: set[str] = set()
    for target in targets(specs):
        table = existing.get(target.name)
        if table is None:
            raise NotGenerated(f"{target.name} is a new table: write its migration by hand")
        have = [c.name for c in table.columns]
        want = [c.name for c in target.columns]
        if want[: len(have)] != have:
            raise NotGenerated(
                f"{target.name}: the migrations make {have}, the spec {want}; only columns "
                "appended after the existing ones are generated (an ADD COLUMN appends)"
            )
        for mine, theirs in zip(target.columns, table.columns, strict=False):
            if theirs.type != pg_type(mine, bounded=target.bounded):
                raise NotGenerated(
                    f"{target.name}.{mine.name}: {theirs.type} in the migrations, "
                    f"{pg_type(mine, bounded=target.bounded)} in the spec: write it by hand"
                )
        for column in target.columns[len(have) :]:
            out.append(_add_column(target.name, column, target.bounded))
            changed.add(target.name)
    for fact in (s for s in specs if s.is_fact):
        referenced = set(fact.references.values())
        touched = {fact.name, *(h for d, h in _history_names(specs) if d in referenced)}
        if touched & changed:
            view = sql.Identifier(f"{fact.name}_as_of")
            out.append(sql.SQL("DROP VIEW IF EXISTS {}").format(view))
            out.append(as_of_view(fact, specs))
    return [s.as_string(None) for s in out]


def _history_names(specs: tuple[TableSpec, ...]) -> list[tuple[str, str]]:
    return [
        (s.name, history_spec(s).name) for s in specs if s.kind in (Kind.DIMENSION, Kind.JOINED)
    ]


def migrated(available: list[migrations.Migration] | None = None) -> dict[str, ddl.DdlTable]:
    """The tables the migrations make, read from their text."""
    found = migrations.available() if available is None else available
    return ddl.parse(*(m.sql for m in found))


@dataclass(frozen=True)
class NewMigration:
    version: int
    name: str
    sql: str

    @property
    def filename(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"


def new_migration(
    name: str,
    specs: tuple[TableSpec, ...] = SPECS,
    available: list[migrations.Migration] | None = None,
) -> NewMigration | None:
    """The next migration, named ``name``, from the specs' difference with the migrations
    (``available``: the package's by default); None when there is none."""
    if not migrations.FILE_PATTERN.match(f"0000_{name}.sql"):
        raise NotGenerated(f"{name!r}: a migration's name is lower case letters, digits and _")
    found = migrations.available() if available is None else available
    todo = statements(migrated(found), specs)
    if not todo:
        return None
    version = max((m.version for m in found), default=0) + 1
    header = (
        f"-- Generated by `warehouse-loader migrations new {name}` (warehouse_tools/evolve.py)\n"
        "-- from the difference between contracts/star_schema.py and migrations 0001-"
        f"{version - 1:04d}.\n-- New nullable columns: batches of the previous spec load them "
        "as NULL; `warehouse-loader backfill`\n-- fills the existing rows (docs/contracts.md, "
        "Adding a column).\n\n"
    )
    return NewMigration(version, name, header + ";\n".join(todo) + ";\n")


def write(migration: NewMigration, folder: Path = MIGRATIONS_DIR) -> Path:
    """Write ``migration`` into ``folder``; refuses to overwrite a file."""
    path = folder / migration.filename
    with open(path, "x") as out:
        out.write(migration.sql)
    return path

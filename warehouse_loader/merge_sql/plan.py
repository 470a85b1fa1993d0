"""How a published table is loaded, from its spec, and what every statement of a load
shares: the lock order, the generation parameter, a column list."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from psycopg import sql

from contracts.star_schema import PUBLISHED, SPECS, TableSpec, date_columns, spec


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


# The query parameter of the statements that write rows: the manifest's generation.
GENERATION = sql.Placeholder("generation")

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


def column_list(names: Iterable[str]) -> sql.Composed:
    """``"a", "b", ...``: the columns as quoted identifiers."""
    return sql.SQL(", ").join(map(sql.Identifier, names))

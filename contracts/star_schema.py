"""Contract B: the star schema, one declarative spec per warehouse table (docs/architecture.md,
Contract B).

Everything else is derived from these specs: the Arrow schema of each published table
(``arrow_schema``), the merge keys and foreign-key references the loader uses, the fact → source
map the harness counts with, and the per-table builders of the processor's transform. The
warehouse's DDL (``warehouse_loader/migrations``) is written by hand and checked against the
specs by ``tests/contracts/test_star_schema_ddl.py`` (no database needed).

Column order is the warehouse's. Bookkeeping columns start with ``cdc_``; three columns are the
warehouse's own and never in a batch (``Column.published`` false): a fact's surrogate
``*_record_id``, ``cdc_is_inferred`` and ``cdc_loaded_at``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cache

import pyarrow as pa

INT = pa.int32()
TEXT = pa.string()
DATE = pa.date32()
TIME = pa.time32("ms")
TIMESTAMP = pa.timestamp("ms")
LOADED_AT = pa.timestamp("us", tz="UTC")
BOOL = pa.bool_()
MONEY = pa.decimal128(10, 2)
VERSION = pa.decimal128(38, 0)
RECORD_ID = pa.int64()


class Kind(StrEnum):
    DATE = "date"  # dim_date: made by the loader for every date a fact references
    DIMENSION = "dimension"  # one source table, one row per source key
    JOINED = "joined_dimension"  # a source table joined to another (its "parent")
    FACT = "fact"  # one row per captured version of a source row


@dataclass(frozen=True)
class From:
    """The value of a source column: of the table feeding the row, or (``joined``) of the
    parent row a joined dimension joins to."""

    column: str
    joined: bool = False


@dataclass(frozen=True)
class Derived:
    """A value computed from a source column by a named rule of the transform:
    ``iso4217_name`` (currency code → ISO 4217 name), ``date_of`` / ``time_of`` (a timestamp's
    date / time of day)."""

    rule: str
    column: str


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    nullable: bool = True
    source: From | Derived | None = None  # business columns; None: key or bookkeeping
    references: str | None = None  # the dimension table this column is a foreign key to
    published: bool = True  # False: the warehouse sets it; never in a batch
    # text: at most this many characters (the DDL's varchar(n)); None: unbounded text
    length: int | None = None

    @property
    def is_bookkeeping(self) -> bool:
        return self.name.startswith("cdc_")


@dataclass(frozen=True)
class Join:
    """How a joined dimension's source (the child) reaches its parent: ``child.fk`` →
    ``parent``'s primary key."""

    parent: str
    fk: str


@dataclass(frozen=True)
class TableSpec:
    name: str
    kind: Kind
    key: str  # dimension: the primary key; fact: the source key (unique with cdc_version)
    columns: tuple[Column, ...]
    source: str | None = None  # the ToteSys table feeding it (a joined dimension's child)
    join: Join | None = None
    record_id: str | None = None  # facts: the warehouse's surrogate key

    @property
    def is_fact(self) -> bool:
        return self.kind is Kind.FACT

    @property
    def published(self) -> tuple[Column, ...]:
        """The columns of the table's batch files, in order."""
        return tuple(c for c in self.columns if c.published)

    @property
    def attributes(self) -> tuple[Column, ...]:
        """Business columns other than the key."""
        return tuple(c for c in self.columns if c.source is not None)

    @property
    def references(self) -> dict[str, str]:
        """column → the dimension table it references (dim_date included)."""
        return {c.name: c.references for c in self.columns if c.references}

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    def with_column(self, column: Column, after: str) -> TableSpec:
        """A copy with ``column`` inserted after the column named ``after``."""
        names = [c.name for c in self.columns]
        at = names.index(after) + 1
        return replace(self, columns=(*self.columns[:at], column, *self.columns[at:]))


def _copied(*names: str, joined: bool = False, prefix: str = "") -> tuple[Column, ...]:
    """Nullable text columns copied from same-named source columns (``prefix`` + name)."""
    return tuple(Column(prefix + n, TEXT, source=From(n, joined)) for n in names)


def _dimension_bookkeeping(joined: bool = False) -> tuple[Column, ...]:
    return (
        Column("cdc_version", VERSION, nullable=False),
        *((Column("cdc_joined_version", VERSION),) if joined else ()),
        Column("cdc_is_deleted", BOOL, nullable=False),
        Column("cdc_is_inferred", BOOL, nullable=False, published=False),
        Column("cdc_source_updated_at", TIMESTAMP),
        Column("cdc_loaded_at", LOADED_AT, nullable=False, published=False),
        GENERATION_COLUMN,
    )


# The transform generation (contracts.generation) that wrote the row: the loader stamps the
# manifest's on every row, so batch files do not carry it.
GENERATION_COLUMN = Column("cdc_generation", INT, nullable=False, published=False)
_FACT_BOOKKEEPING = (
    Column("cdc_version", VERSION, nullable=False),
    Column("cdc_operation", TEXT, nullable=False),
    Column("cdc_is_deleted", BOOL, nullable=False),
    Column("cdc_source_updated_at", TIMESTAMP),
    Column("cdc_loaded_at", LOADED_AT, nullable=False, published=False),
    GENERATION_COLUMN,
)
_FACT_STAMPS = (
    Column("created_date", DATE, source=Derived("date_of", "created_at"), references="dim_date"),
    Column("created_time", TIME, source=Derived("time_of", "created_at")),
    Column(
        "last_updated_date",
        DATE,
        source=Derived("date_of", "last_updated"),
        references="dim_date",
    ),
    Column("last_updated_time", TIME, source=Derived("time_of", "last_updated")),
)


def _id(name: str, column: str | None = None, references: str | None = None) -> Column:
    """A nullable integer copied from ``column`` (default: same name)."""
    return Column(name, INT, source=From(column or name), references=references)


def _date(name: str) -> Column:
    """A business date (text in ToteSys, decoded to a date) referencing dim_date."""
    return Column(name, DATE, source=From(name), references="dim_date")


def _money(name: str) -> Column:
    return Column(name, MONEY, source=From(name))


def _fact(name: str, source: str, record_id: str, *business: Column) -> TableSpec:
    key = f"{source}_id"
    return TableSpec(
        name,
        Kind.FACT,
        key,
        (
            Column(record_id, RECORD_ID, nullable=False, published=False),
            Column(key, INT, nullable=False),
            *_FACT_STAMPS,
            *business,
            *_FACT_BOOKKEEPING,
        ),
        source=source,
        record_id=record_id,
    )


def _dimension(name: str, source: str, key: str, *attributes: Column) -> TableSpec:
    return TableSpec(
        name,
        Kind.DIMENSION,
        key,
        (Column(key, INT, nullable=False), *attributes, *_dimension_bookkeeping()),
        source=source,
    )


SPECS: tuple[TableSpec, ...] = (
    TableSpec(
        "dim_date",
        Kind.DATE,
        "date_id",
        (
            Column("date_id", DATE, nullable=False),
            Column("year", INT, nullable=False),
            Column("month", INT, nullable=False),
            Column("day", INT, nullable=False),
            Column("day_of_week", INT, nullable=False),  # ISO 8601: Monday = 1
            Column("day_name", TEXT, nullable=False, length=10),
            Column("month_name", TEXT, nullable=False, length=10),
            Column("quarter", INT, nullable=False),
        ),
    ),
    TableSpec(
        "dim_staff",
        Kind.JOINED,
        "staff_id",
        (
            Column("staff_id", INT, nullable=False),
            *_copied("first_name", "last_name"),
            *_copied("department_name", "location", joined=True),
            *_copied("email_address"),
            *_dimension_bookkeeping(joined=True),
        ),
        source="staff",
        join=Join("department", "department_id"),
    ),
    _dimension(
        "dim_location",
        "address",
        "location_id",
        *_copied(
            "address_line_1",
            "address_line_2",
            "district",
            "city",
            "postal_code",
            "country",
            "phone",
        ),
    ),
    _dimension(
        "dim_currency",
        "currency",
        "currency_id",
        Column("currency_code", TEXT, source=From("currency_code"), length=3),
        Column("currency_name", TEXT, source=Derived("iso4217_name", "currency_code")),
    ),
    _dimension(
        "dim_design", "design", "design_id", *_copied("design_name", "file_location", "file_name")
    ),
    TableSpec(
        "dim_counterparty",
        Kind.JOINED,
        "counterparty_id",
        (
            Column("counterparty_id", INT, nullable=False),
            *_copied("counterparty_legal_name"),
            *_copied(
                "address_line_1",
                "address_line_2",
                "district",
                "city",
                "postal_code",
                "country",
                joined=True,
                prefix="counterparty_legal_",
            ),
            Column("counterparty_legal_phone_number", TEXT, source=From("phone", joined=True)),
            *_dimension_bookkeeping(joined=True),
        ),
        source="counterparty",
        join=Join("address", "legal_address_id"),
    ),
    _dimension(
        "dim_payment_type", "payment_type", "payment_type_id", *_copied("payment_type_name")
    ),
    _dimension(
        "dim_transaction",
        "transaction",
        "transaction_id",
        *_copied("transaction_type"),
        _id("sales_order_id"),
        _id("purchase_order_id"),
    ),
    _fact(
        "fact_sales_order",
        "sales_order",
        "sales_record_id",
        _id("sales_staff_id", "staff_id", "dim_staff"),
        _id("counterparty_id", references="dim_counterparty"),
        Column("units_sold", INT, source=From("units_sold")),
        _money("unit_price"),
        _id("currency_id", references="dim_currency"),
        _id("design_id", references="dim_design"),
        _date("agreed_payment_date"),
        _date("agreed_delivery_date"),
        _id("agreed_delivery_location_id", references="dim_location"),
    ),
    _fact(
        "fact_purchase_order",
        "purchase_order",
        "purchase_record_id",
        _id("staff_id", references="dim_staff"),
        _id("counterparty_id", references="dim_counterparty"),
        Column("item_code", TEXT, source=From("item_code")),
        Column("item_quantity", INT, source=From("item_quantity")),
        _money("item_unit_price"),
        _id("currency_id", references="dim_currency"),
        _date("agreed_delivery_date"),
        _date("agreed_payment_date"),
        _id("agreed_delivery_location_id", references="dim_location"),
    ),
    _fact(
        "fact_payment",
        "payment",
        "payment_record_id",
        _id("transaction_id", references="dim_transaction"),
        _id("counterparty_id", references="dim_counterparty"),
        _money("payment_amount"),
        _id("currency_id", references="dim_currency"),
        _id("payment_type_id", references="dim_payment_type"),
        Column("paid", BOOL, source=From("paid")),
        _date("payment_date"),
    ),
)

STAR_SCHEMA: dict[str, TableSpec] = {spec.name: spec for spec in SPECS}
TABLES: tuple[str, ...] = tuple(STAR_SCHEMA)
# The tables the processor publishes in batches: dim_date is the loader's alone (it is derived
# from the dates the facts reference, in the load transaction that needs them).
PUBLISHED: tuple[str, ...] = tuple(s.name for s in SPECS if s.kind is not Kind.DATE)
FACTS: tuple[str, ...] = tuple(s.name for s in SPECS if s.is_fact)
# Each fact table and the ToteSys table whose every captured change is one of its rows.
FACT_SOURCES: dict[str, str] = {s.name: s.source for s in SPECS if s.is_fact and s.source}
KEYS: dict[str, str] = {s.name: s.key for s in SPECS}


def spec(table: str) -> TableSpec:
    try:
        return STAR_SCHEMA[table]
    except KeyError:
        raise KeyError(f"no table {table!r} in the star schema") from None


def arrow_schema(table: TableSpec) -> pa.Schema:
    """The explicit Arrow schema of a table's batch files (never inferred from data)."""
    return pa.schema([pa.field(c.name, c.type, nullable=c.nullable) for c in table.published])


@cache
def schema_of(table: str) -> pa.Schema:
    """``arrow_schema`` of a table of ``STAR_SCHEMA`` by name."""
    return arrow_schema(spec(table))


def date_columns(table: TableSpec) -> tuple[str, ...]:
    """The columns whose every value must have its dim_date row."""
    return tuple(c for c, target in table.references.items() if target == "dim_date")


def dimension_references(table: TableSpec) -> dict[str, str]:
    """column → dimension table, for every reference but dim_date's (inferred members)."""
    return {c: t for c, t in table.references.items() if t != "dim_date"}


def check(specs: tuple[TableSpec, ...] = SPECS) -> list[str]:
    """Inconsistencies within the specs themselves (an empty list when sound)."""
    problems: list[str] = []
    names = {s.name for s in specs}
    for s in specs:
        columns = [c.name for c in s.columns]
        if len(set(columns)) != len(columns):
            problems.append(f"{s.name}: a column name is repeated")
        if s.key not in columns:
            problems.append(f"{s.name}: key {s.key} is not a column")
        for c in s.columns:
            if c.references and c.references not in names:
                problems.append(f"{s.name}.{c.name} references unknown table {c.references}")
            if c.length is not None and (c.type != TEXT or c.length < 1):
                problems.append(f"{s.name}.{c.name}: a length is for text columns, at least 1")
            if isinstance(c.source, From) and c.source.joined and s.join is None:
                problems.append(f"{s.name}.{c.name} reads a joined row but {s.name} joins none")
        if (s.kind is Kind.JOINED) != (s.join is not None):
            problems.append(f"{s.name}: a joined dimension needs a join, and only it")
    return problems


# Dimension history (docs/warehouse-loader.md, Dimension history): additive, beside the
# current tables above, which stay exactly as they are. Not published: the loader alone
# writes them, from the same batches.
VALIDITY: tuple[Column, ...] = (
    # when the version took effect, as far as the batches tell (the source's last_updated)
    Column("valid_from", TIMESTAMP, published=False),
    Column("valid_to", TIMESTAMP, published=False),
    # the same interval in commit order (the versions' form): what the as-of views join on
    Column("valid_from_version", VERSION, nullable=False, published=False),
    Column("valid_to_version", VERSION, published=False),
)


def history_spec(dimension: TableSpec) -> TableSpec:
    """``dim_<name>_history``: the dimension's key and attributes, the validity interval, then
    its bookkeeping columns but ``cdc_loaded_at``. Its text columns are unbounded ``text``
    whatever the dimension's length (migration 0006): every value the dimension holds fits.

    An attribute added after the bookkeeping (docs/contracts.md, Adding a column: an ``ALTER
    TABLE ... ADD COLUMN`` appends) comes after the history's bookkeeping too, where the same
    ``ADD COLUMN`` puts it on the history: everything from the dimension's first bookkeeping
    column on keeps the dimension's order."""
    first = next(
        (i for i, c in enumerate(dimension.columns) if c.is_bookkeeping), len(dimension.columns)
    )
    columns = (
        *dimension.columns[:first],
        *VALIDITY,
        *(c for c in dimension.columns[first:] if c.name != "cdc_loaded_at"),
    )
    return replace(
        dimension,
        name=f"{dimension.name}_history",
        columns=tuple(replace(c, published=False, length=None) for c in columns),
    )


# Every dimension but dim_date has a history, by the dimension's name.
HISTORIES: dict[str, TableSpec] = {
    s.name: history_spec(s) for s in SPECS if s.kind in (Kind.DIMENSION, Kind.JOINED)
}


def as_of_columns(
    fact: TableSpec, dimensions: dict[str, TableSpec] | None = None
) -> tuple[tuple[str, str, str, str], ...]:
    """The dimension columns ``fact_<name>_as_of`` adds to the fact's: (view column, fact
    column, dimension, dimension column) for every attribute of every dimension the fact
    references (dim_date aside), named ``<dimension>_<attribute>`` unless the attribute
    already starts with the dimension's name (``design_name``, not ``design_design_name``).
    ``dimensions``: the dimensions' specs by name (default ``STAR_SCHEMA``'s)."""
    out = []
    for column, dimension in dimension_references(fact).items():
        prefix = dimension.removeprefix("dim_") + "_"
        found = spec(dimension) if dimensions is None else dimensions[dimension]
        for attribute in found.attributes:
            name = attribute.name
            out.append(
                (name if name.startswith(prefix) else prefix + name, column, dimension, name)
            )
    return tuple(out)

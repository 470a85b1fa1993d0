"""Small table specs, outside ``STAR_SCHEMA``, that the merge SQL is built for in these
tests: a plain dimension, a joined dimension and a fact referencing the first. Their
bookkeeping columns are the real tables' of the same kind, so the statements built for them
are built exactly as for the real ones."""

from __future__ import annotations

from contracts.star_schema import (
    DATE,
    INT,
    MONEY,
    RECORD_ID,
    TEXT,
    Column,
    From,
    Join,
    Kind,
    TableSpec,
    spec,
)
from warehouse_loader.merge_sql.plan import TablePlan, table_plan


def _bookkeeping(like: str) -> tuple[Column, ...]:
    return tuple(c for c in spec(like).columns if c.is_bookkeeping)


COLOUR = TableSpec(
    "dim_colour",
    Kind.DIMENSION,
    "colour_id",
    (
        Column("colour_id", INT, nullable=False),
        Column("colour_name", TEXT, source=From("name")),
        Column("hex_code", TEXT, source=From("hex")),
        *_bookkeeping("dim_currency"),
    ),
    source="colour",
)
SHELF = TableSpec(
    "dim_shelf",
    Kind.JOINED,
    "shelf_id",
    (
        Column("shelf_id", INT, nullable=False),
        Column("shelf_label", TEXT, source=From("label")),
        Column("aisle_name", TEXT, source=From("name", joined=True)),
        *_bookkeeping("dim_staff"),
    ),
    source="shelf",
    join=Join("aisle", "aisle_id"),
)
SALE = TableSpec(
    "fact_sale",
    Kind.FACT,
    "sale_id",
    (
        Column("sale_record_id", RECORD_ID, nullable=False, published=False),
        Column("sale_id", INT, nullable=False),
        Column("sold_date", DATE, source=From("sold_date"), references="dim_date"),
        Column("colour_id", INT, source=From("colour_id"), references="dim_colour"),
        Column("amount", MONEY, source=From("amount")),
        *_bookkeeping("fact_payment"),
    ),
    source="sale",
    record_id="sale_record_id",
)


def colour() -> TablePlan:
    return table_plan(COLOUR)


def shelf() -> TablePlan:
    return table_plan(SHELF)


def sale() -> TablePlan:
    return table_plan(SALE)

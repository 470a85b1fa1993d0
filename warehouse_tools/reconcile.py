"""Reconciliation: the warehouse checked against a ToteSys snapshot.

What the warehouse must hold is computed straight from the source tables with plain SQL (not
with the stream processor's code, so a fault in the pipeline cannot hide itself):

- dimensions, exactly: every source row present with the same attributes and not flagged
  deleted; every warehouse row absent from the source flagged deleted; no inferred member left;
- facts: the latest version of every source row present and equal to it; a fact whose source
  row is gone ends in a deleted version; no (key, version) twice;
- ``dim_date``: a correct row for every date a fact references;
- each dimension's history (``history_differences``), against the warehouse itself: its
  intervals contiguous and non-overlapping, one open row per key equal to the current
  dimension row, no history for a key the dimension lacks, and every row what the key's
  versions give (the full rebuild, compared row for row).

Calendar rows are computed here in Python, independently of the loader's SQL that makes them;
currency names come from the same ISO 4217 library the processor uses (pycountry), looked up
here without the processor's code.

``compare`` is pure (rows in, differences out); ``reconcile`` reads both databases.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import psycopg
import pycountry
from psycopg import sql
from psycopg.rows import dict_row

from contracts.star_schema import HISTORIES, KEYS, STAR_SCHEMA, date_columns
from warehouse_loader.merge_sql.history import rebuild_history, versions_table
from warehouse_loader.merge_sql.plan import table_plan

# Each warehouse table's business columns, as a query over the ToteSys snapshot.
_STAMPS = sql.SQL(
    "created_at::date AS created_date, created_at::time(3) AS created_time, "
    "last_updated::date AS last_updated_date, last_updated::time(3) AS last_updated_time"
)
_QUERIES = {
    "dim_staff": "SELECT s.staff_id, s.first_name, s.last_name, d.department_name, d.location, "
    "s.email_address FROM staff s LEFT JOIN department d USING (department_id)",
    "dim_location": "SELECT address_id AS location_id, address_line_1, address_line_2, district, "
    "city, postal_code, country, phone FROM address",
    "dim_currency": "SELECT currency_id, currency_code FROM currency",
    "dim_design": "SELECT design_id, design_name, file_location, file_name FROM design",
    "dim_counterparty": "SELECT c.counterparty_id, c.counterparty_legal_name, "
    "a.address_line_1 AS counterparty_legal_address_line_1, "
    "a.address_line_2 AS counterparty_legal_address_line_2, "
    "a.district AS counterparty_legal_district, a.city AS counterparty_legal_city, "
    "a.postal_code AS counterparty_legal_postal_code, a.country AS counterparty_legal_country, "
    "a.phone AS counterparty_legal_phone_number "
    "FROM counterparty c LEFT JOIN address a ON a.address_id = c.legal_address_id",
    "dim_payment_type": "SELECT payment_type_id, payment_type_name FROM payment_type",
    "dim_transaction": "SELECT transaction_id, transaction_type, sales_order_id, "
    'purchase_order_id FROM "transaction"',
    "fact_sales_order": "SELECT sales_order_id, {stamps}, staff_id AS sales_staff_id, "
    "counterparty_id, units_sold, unit_price, currency_id, design_id, "
    "agreed_payment_date::date, agreed_delivery_date::date, agreed_delivery_location_id "
    "FROM sales_order",
    "fact_purchase_order": "SELECT purchase_order_id, {stamps}, staff_id, counterparty_id, "
    "item_code, item_quantity, item_unit_price, currency_id, agreed_delivery_date::date, "
    "agreed_payment_date::date, agreed_delivery_location_id FROM purchase_order",
    "fact_payment": "SELECT payment_id, {stamps}, transaction_id, counterparty_id, "
    "payment_amount, currency_id, payment_type_id, paid, payment_date::date FROM payment",
}
# The source row's last_updated (a joined dimension's: its own side's), carried beside the
# business columns for ``repair``; ``compare_all`` sets it aside.
_UPDATED_AT = {"dim_staff": "s.last_updated", "dim_counterparty": "c.last_updated"}


def expected_sql(table: str, query: str) -> sql.Composed:
    """``_QUERIES``' query for ``table`` with the source row's last_updated beside it."""
    return sql.SQL(
        query.replace(
            " FROM ",
            f", {_UPDATED_AT.get(table, 'last_updated')} AS cdc_source_updated_at FROM ",
            1,
        )
    ).format(stamps=_STAMPS)


EXPECTED_SQL = {table: expected_sql(table, q) for table, q in _QUERIES.items()}
SOURCE_UPDATED_AT = "cdc_source_updated_at"

Rows = dict[Any, dict[str, Any]]  # key → column → value


def business_columns(table: str) -> list[str]:
    """The columns Contract B lists (docs/architecture.md): no bookkeeping, no surrogate id."""
    spec = STAR_SCHEMA[table]
    return [c.name for c in spec.columns if not c.is_bookkeeping and c.name != spec.record_id]


_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def expected_date(day: date) -> dict[str, Any]:
    """dim_date's row for ``day``: ISO weekday (Monday = 1), English names whatever the
    process's locale."""
    return {
        "date_id": day,
        "year": day.year,
        "month": day.month,
        "day": day.day,
        "day_of_week": day.isoweekday(),
        "day_name": _DAY_NAMES[day.weekday()],
        "month_name": _MONTH_NAMES[day.month - 1],
        "quarter": (day.month - 1) // 3 + 1,
    }


def iso4217_name(code: str | None) -> str | None:
    found = pycountry.currencies.get(alpha_3=code.upper()) if code else None
    return None if found is None else found.name


@dataclass
class TableDiff:
    table: str
    source_rows: int = 0
    warehouse_rows: int = 0
    problems: dict[str, list[Any]] = field(default_factory=dict)  # kind → keys

    def add(self, kind: str, key: Any) -> None:  # noqa: ANN401 - a key of any table
        self.problems.setdefault(kind, []).append(key)

    @property
    def count(self) -> int:
        return sum(len(keys) for keys in self.problems.values())


@dataclass
class Report:
    tables: list[TableDiff]

    @property
    def differences(self) -> int:
        return sum(t.count for t in self.tables)

    def to_json(self, samples: int = 5) -> dict[str, Any]:
        return {
            "differences": self.differences,
            "tables": {
                t.table: {
                    "source_rows": t.source_rows,
                    "warehouse_rows": t.warehouse_rows,
                    "differences": {
                        kind: {"count": len(keys), "sample_keys": [str(k) for k in keys[:samples]]}
                        for kind, keys in sorted(t.problems.items())
                    },
                }
                for t in self.tables
            },
        }


def compare_dimension(
    table: str, expected: Rows, stored: Rows, flags: Mapping[Any, tuple[bool, bool]]
) -> TableDiff:
    """``flags``: key → (deleted, inferred) of each stored row."""
    diff = TableDiff(table, len(expected), len(stored))
    for key, row in sorted(expected.items()):
        if key not in stored:
            diff.add("missing", key)
            continue
        deleted, inferred = flags[key]
        if inferred:
            diff.add("still_inferred", key)
        elif deleted:
            diff.add("deleted_but_in_source", key)
        elif stored[key] != row:
            diff.add("different", key)
    for key in sorted(stored.keys() - expected.keys()):
        deleted, inferred = flags[key]
        if inferred:
            diff.add("still_inferred", key)
        elif not deleted:
            diff.add("not_deleted_but_gone_from_source", key)
    return diff


def compare_fact(
    table: str,
    expected: Rows,
    latest: Rows,
    deleted: Mapping[Any, bool],
    duplicated: Iterable[Any],
    versions: int,
) -> TableDiff:
    """``latest``: key → business columns of the newest stored version; ``deleted``: whether
    that version is a delete; ``duplicated``: (key, version) pairs stored more than once."""
    diff = TableDiff(table, len(expected), versions)
    for key, row in sorted(expected.items()):
        if key not in latest:
            diff.add("missing", key)
        elif deleted[key]:
            diff.add("deleted_but_in_source", key)
        elif latest[key] != row:
            diff.add("latest_version_different", key)
    for key in sorted(latest.keys() - expected.keys()):
        if not deleted[key]:
            diff.add("no_delete_version_but_gone_from_source", key)
    for pair in duplicated:
        diff.add("duplicated_version", pair)
    return diff


def compare_dates(referenced: set[date], stored: Rows) -> TableDiff:
    diff = TableDiff("dim_date", len(referenced), len(stored))
    for day in sorted(referenced):
        if day not in stored:
            diff.add("missing", day)
        elif stored[day] != expected_date(day):
            diff.add("different", day)
    return diff


def _keyed(rows: Iterable[dict[str, Any]], key: str) -> Rows:
    return {row[key]: row for row in rows}


def expected_rows(
    source: psycopg.Connection, tables: Iterable[str] | None = None
) -> dict[str, Rows]:
    """Every warehouse table's expected business rows (and each source row's last_updated, as
    ``cdc_source_updated_at``), from one consistent source snapshot; ``tables``: only
    those."""
    out = {}
    chosen = EXPECTED_SQL if tables is None else {t: EXPECTED_SQL[t] for t in tables}
    with source.transaction():
        source.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        for table, query in chosen.items():
            rows = source.cursor(row_factory=dict_row).execute(query).fetchall()  # type: ignore[arg-type]
            if table == "dim_currency":
                rows = [{**r, "currency_name": iso4217_name(r["currency_code"])} for r in rows]
            out[table] = _keyed(rows, KEYS[table])
    return out


def reconcile(source: psycopg.Connection, warehouse: psycopg.Connection) -> Report:
    return compare_all(expected_rows(source), warehouse)


def compare_all(expected_with_stamps: dict[str, Rows], warehouse: psycopg.Connection) -> Report:
    """The warehouse against ``expected_rows``' rows."""
    expected = {
        table: {k: {c: v for c, v in r.items() if c != SOURCE_UPDATED_AT} for k, r in rows.items()}
        for table, rows in expected_with_stamps.items()
    }
    tables = []
    referenced: set[date] = set()
    cur = warehouse.cursor(row_factory=dict_row)
    for table, rows in expected.items():
        key, columns = KEYS[table], business_columns(table)
        cols = sql.SQL(", ").join(map(sql.Identifier, columns))
        if table.startswith("dim_"):
            stored = cur.execute(
                sql.SQL("SELECT {cols}, cdc_is_deleted, cdc_is_inferred FROM {t}").format(
                    cols=cols, t=sql.Identifier(table)
                )
            ).fetchall()
            flags = {r[key]: (r.pop("cdc_is_deleted"), r.pop("cdc_is_inferred")) for r in stored}
            tables.append(compare_dimension(table, rows, _keyed(stored, key), flags))
            continue
        latest = cur.execute(
            sql.SQL(
                "SELECT DISTINCT ON ({k}) {cols}, cdc_is_deleted FROM {t} ORDER BY {k}, "
                "cdc_version DESC"
            ).format(k=sql.Identifier(key), cols=cols, t=sql.Identifier(table))
        ).fetchall()
        deleted = {r[key]: r.pop("cdc_is_deleted") for r in latest}
        duplicated = [
            (r[key], int(r["cdc_version"]))
            for r in cur.execute(
                sql.SQL(
                    "SELECT {k}, cdc_version FROM {t} GROUP BY {k}, cdc_version HAVING count(*) > 1"
                ).format(k=sql.Identifier(key), t=sql.Identifier(table))
            )
        ]
        versions = cur.execute(
            sql.SQL("SELECT count(*) AS n FROM {t}").format(t=sql.Identifier(table))
        ).fetchone()["n"]
        for column in date_columns(STAR_SCHEMA[table]):
            referenced |= {
                r["d"]
                for r in cur.execute(
                    sql.SQL("SELECT DISTINCT {c} AS d FROM {t} WHERE {c} IS NOT NULL").format(
                        c=sql.Identifier(column), t=sql.Identifier(table)
                    )
                )
            }
        tables.append(compare_fact(table, rows, _keyed(latest, key), deleted, duplicated, versions))
    dates = cur.execute(
        sql.SQL("SELECT {cols} FROM dim_date").format(
            cols=sql.SQL(", ").join(map(sql.Identifier, business_columns("dim_date")))
        )
    ).fetchall()
    tables.insert(0, compare_dates(referenced, _keyed(dates, "date_id")))
    return Report(tables + history_differences(warehouse))


def _history_checks(dimension: str) -> dict[str, sql.Composed]:
    """Kind of difference → the query of the keys that have it, for one dimension's history.
    The open row is compared on every column the history shares with the dimension but
    ``cdc_loaded_at``, a deleted row's attributes aside: the dimension keeps whatever it held
    when the delete arrived, the history the attributes of the version before the delete."""
    history = HISTORIES[dimension]
    key = sql.Identifier(history.key)
    h, d = sql.Identifier(history.name), sql.Identifier(dimension)
    attributes = [c.name for c in STAR_SCHEMA[dimension].attributes]
    # the key and the bookkeeping: everything else the history shares with the dimension
    book = [c.name for c in history.columns if c.name not in attributes and c.source is None]
    book = [c for c in book if not c.startswith("valid_")]

    def row(alias: str, columns: list[str]) -> sql.Composed:
        return sql.SQL("({})").format(
            sql.SQL(", ").join(
                sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(c)) for c in columns
            )
        )

    return {
        "history_interval_not_contiguous": sql.SQL(
            "SELECT DISTINCT {key} FROM (SELECT {key}, valid_from_version, valid_to_version, "
            "valid_to, lead(valid_from_version) OVER w AS next_version, "
            "lead(valid_from) OVER w AS next_from FROM {h} WINDOW w AS (PARTITION BY {key} "
            "ORDER BY valid_from_version, valid_to_version NULLS LAST, valid_from NULLS FIRST, "
            "valid_to NULLS LAST)) AS intervals "
            "WHERE valid_to_version IS DISTINCT FROM next_version "
            "OR valid_to IS DISTINCT FROM next_from OR valid_to_version < valid_from_version "
            "ORDER BY {key}"
        ).format(key=key, h=h),
        "history_open_row_missing_or_different": sql.SQL(
            "SELECT d.{key} FROM {d} AS d LEFT JOIN {h} AS o "
            "ON o.{key} = d.{key} AND o.valid_to_version IS NULL "
            "WHERE o.{key} IS NULL OR {dbook} IS DISTINCT FROM {obook} "
            "OR (NOT d.cdc_is_deleted AND {dattrs} IS DISTINCT FROM {oattrs}) ORDER BY d.{key}"
        ).format(
            key=key,
            d=d,
            h=h,
            dbook=row("d", book),
            obook=row("o", book),
            dattrs=row("d", attributes),
            oattrs=row("o", attributes),
        ),
        "history_without_dimension_row": sql.SQL(
            "SELECT DISTINCT {key} FROM {h} AS o WHERE NOT EXISTS "
            "(SELECT FROM {d} AS d WHERE d.{key} = o.{key}) ORDER BY {key}"
        ).format(key=key, h=h, d=d),
    }


def history_differences(warehouse: psycopg.Connection) -> list[TableDiff]:
    """Each dimension's history checked against itself and the current dimension (one
    ``TableDiff`` per history, named after it; keys as ``problems``)."""
    out = []
    for dimension, history in HISTORIES.items():
        count = sql.SQL("SELECT count(*) FROM {}")
        diff = TableDiff(
            history.name,
            warehouse.execute(count.format(sql.Identifier(dimension))).fetchone()[0],
            warehouse.execute(count.format(sql.Identifier(history.name))).fetchone()[0],
        )
        for kind, query in _history_checks(dimension).items():
            for (key,) in warehouse.execute(query):
                diff.add(kind, key)
        for key in _history_not_from_versions(warehouse, dimension):
            diff.add("history_not_as_its_versions_give", key)
        out.append(diff)
    return out


def _history_not_from_versions(warehouse: psycopg.Connection, dimension: str) -> list[int]:
    """The keys whose stored history differs, row for row, from the one its versions give
    (``merge_sql.history.rebuild_history`` for every key, into a temporary table, rolled
    back): the checks above see the intervals' shape and the open row; this one sees a wrong
    row in the middle, whichever way the loads wrote it."""
    p = table_plan(dimension)
    history = sql.Identifier(HISTORIES[dimension].name)
    rebuilt = sql.Identifier("rebuilt_history")
    key = sql.Identifier(p.spec.key)
    with warehouse.transaction(force_rollback=True):
        warehouse.execute(
            sql.SQL("CREATE TEMPORARY TABLE {} (LIKE {}) ON COMMIT DROP").format(rebuilt, history)
        )
        keys = warehouse.execute(
            sql.SQL("SELECT coalesce(array_agg(DISTINCT {}), '{{}}') FROM {}").format(
                key, sql.Identifier(versions_table(p))
            )
        ).fetchone()[0]
        warehouse.execute(rebuild_history(p, into="rebuilt_history"), {"keys": keys})
        return [
            k
            for (k,) in warehouse.execute(
                sql.SQL(
                    "SELECT DISTINCT {key} FROM ((TABLE {h} EXCEPT ALL TABLE {r}) UNION ALL "
                    "(TABLE {r} EXCEPT ALL TABLE {h})) AS different ORDER BY {key}"
                ).format(key=key, h=history, r=rebuilt)
            )
        ]

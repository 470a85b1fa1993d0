"""Making Contract A records, as AWS DMS writes them to Kinesis for the ToteSys source.

Task settings (``cdc.dms_task``): ``MessageFormat=json-unformatted`` (one line of JSON and a
newline per record), transaction details, partition value with schema and table, table-alter
operations and control details on. Pure: values in, records out.

The record's shape is Contract A (``contracts.change_records``). How DMS fills it:

- Data records are partitioned as the task's table mappings say (``partitioning``):
  ``primary-key`` (the DMS task in ``cdc.dms_task`` has an object-mapping rule per table that
  asks for it): the Kinesis partition key is ``partition-key-value``, ``public.<table>.<key>``
  (``PartitionIncludeSchemaTable``); ``schema-table`` (DMS's default for CDC records of a task
  without such rules): ``insert``/``update``/``delete`` records carry ``partition-key-type:
  schema-table`` and no ``partition-key-value`` (``IncludePartitionValue`` leaves it out for
  that type), and the Kinesis partition key is ``<schema>.<table>``, so a table's changes all
  land on one shard. ``load`` records go by primary key either way. Sources: "Using Amazon
  Kinesis Data Streams as a target", AWS DMS User Guide,
  https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Target.Kinesis.html (endpoint settings;
  the two forms of partition key, ``SchemaName.TableName`` and a field's value), and records
  published from PostgreSQL-source tasks (``load`` with ``primary-key``, CDC with
  ``schema-table``; docs/capture.md, Records in DMS's own shapes).
- Control records (``record-type: control``) carry ``control.table-def`` (the table's columns
  *after* the change, each ``{"nullable", "type"}`` with DMS's type name, and ``primary-key``;
  ``IncludeControlDetails``), ``partition-key-type: task-id`` and ``partition-key-value`` the
  task id; their Kinesis partition key is ``<task id>.<schema>.<table>`` (the same page: "The
  partition-key value for a control record that is for a specific table is
  TaskId.SchemaName.TableName"). Operations (``IncludeTableAlterOperations``): ``create-table``
  (the full load), and for an ``ALTER TABLE`` under CDC ``add-column``, ``drop-column``,
  ``rename-column`` and ``column-type-change`` (``alter_operations``). Sources: "KinesisSettings",
  AWS DMS API Reference,
  https://docs.aws.amazon.com/dms/latest/APIReference/API_KinesisSettings.html
  (IncludeTableAlterOperations: "rename-table, drop-table, add-column, drop-column, and
  rename-column"; IncludeControlDetails: "table definition, column definition, and table and
  column changes"); "DDL statements supported by AWS DMS", AWS DMS User Guide,
  https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Introduction.SupportedDDL.html (add,
  drop and rename column, "Change column data type"); ``column-type-change`` is the name
  issue 24 gives the last (no retrieved page spelt it out, so a consumer must not depend on
  it alone: the table-def is the truth). A ``create-table`` record DMS published from an RDS
  PostgreSQL source to Kinesis has exactly this layout (``{"id": {"type": "INT32",
  "nullable": false}, ...}``, ``"primary-key": ["id"]``, ``partition-key-value`` the task id;
  crate/cratedb-toolkit, tests/io/kinesis/data.py), and DMS's own ``awsdms_apply_exceptions``
  record (docs/capture.md, Records in DMS's own shapes) shows it may add ``length`` or
  ``precision`` to a column, which this encoder leaves out.

Values, as DMS writes a PostgreSQL source's types into JSON (the choices this project makes
where the DMS documentation is silent are marked *):

| PostgreSQL | JSON | example |
|---|---|---|
| smallint, integer, bigint | number | ``17`` |
| numeric(p, s) | string, exactly as stored* | ``"3.80"`` |
| boolean (source endpoint ``MapBooleanAsBoolean=true``) | true / false | ``true`` |
| timestamp(3) | ISO 8601 UTC, µs only when non-zero* | ``"2026-05-05T02:29:18.266000Z"`` |
| date | ``YYYY-MM-DD`` | ``"2026-05-06"`` |
| text, varchar, enum | string | ``"SALES_RECEIPT"`` |
| NULL | null | ``null`` |

Versions: ``contracts.change_records.version_of``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from contracts.change_records import (
    BOOL,
    DATE_TEXT,
    INT,
    NULLABLE,
    NUMERIC,
    SOURCE_TABLES,
    TEXT,
    TIMESTAMP,
    format_lsn,
    primary_key,
)

# PostgreSQL type OIDs (pg_type.oid), stable across versions.
INT_OIDS = {20: "INT64", 21: "INT16", 23: "INT32"}
BOOL_OID = 16
NUMERIC_OID = 1700
TIMESTAMP_OID = 1114
TIMESTAMPTZ_OID = 1184
DATE_OID = 1082

# How data records are partitioned (the module docstring): DMS's two behaviours for this task.
PRIMARY_KEY = "primary-key"
SCHEMA_TABLE = "schema-table"
PARTITIONINGS = (PRIMARY_KEY, SCHEMA_TABLE)


class EncodingError(ValueError):
    """A source value that cannot be written in DMS's encoding."""


def dms_timestamp(moment: datetime) -> str:
    """A DMS timestamp: UTC, microseconds when there are any, 'Z'."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    # isoformat: six digits of microseconds when there are any, none otherwise (strftime, the
    # same text, was a fifth of the capture engine's time at a full load)
    return moment.isoformat() + "Z"


def encode_value(type_oid: int, text: str | None) -> Any:  # noqa: ANN401 - any JSON value
    """One column value, from PostgreSQL's text output to DMS's JSON value."""
    if text is None:
        return None
    try:
        if type_oid in INT_OIDS:
            return int(text)
        if type_oid == BOOL_OID:
            return {"t": True, "f": False, "true": True, "false": False}[text]
        if type_oid in (TIMESTAMP_OID, TIMESTAMPTZ_OID):
            return dms_timestamp(datetime.fromisoformat(text))
    except (ValueError, KeyError) as exc:
        raise EncodingError(f"cannot encode {text!r} as type oid {type_oid}: {exc}") from exc
    return text  # numeric, date, text, varchar, enums: PostgreSQL's own text


def dms_type(type_oid: int) -> str:
    if type_oid in INT_OIDS:
        return INT_OIDS[type_oid]
    return {
        BOOL_OID: "BOOLEAN",
        NUMERIC_OID: "NUMERIC",
        TIMESTAMP_OID: "TIMESTAMP",
        TIMESTAMPTZ_OID: "TIMESTAMP",
        DATE_OID: "DATE",
    }.get(type_oid, "STRING")


@dataclass(frozen=True)
class ColumnDef:
    name: str
    type_oid: int
    nullable: bool


@dataclass(frozen=True)
class TableDef:
    """A captured table's columns (in order) and primary key."""

    schema: str
    table: str
    columns: tuple[ColumnDef, ...]
    primary_key: tuple[str, ...]

    def to_control(self) -> dict[str, Any]:
        return {
            "columns": {
                c.name: {"nullable": c.nullable, "type": dms_type(c.type_oid)} for c in self.columns
            },
            "primary-key": list(self.primary_key),
        }


@dataclass(frozen=True)
class TransactionPosition:
    """Where a CDC record sits in the source's history (IncludeTransactionDetails)."""

    xid: int
    record_id: int  # 1-based position of the record within its transaction
    commit_lsn: int
    change_lsn: int
    commit_time: datetime
    previous: tuple[int, int] | None  # (transaction-id, transaction-record-id) of the record before

    @property
    def stream_position(self) -> str:
        return f"{format_lsn(self.commit_lsn)}.{self.record_id}.{format_lsn(self.change_lsn)}"


@dataclass(frozen=True)
class OutRecord:
    """One Kinesis record: its partition key and bytes."""

    partition_key: str
    data: bytes
    table: str
    operation: str


def partition_key_value(table: TableDef, row: Mapping[str, Any]) -> str:
    """``public.payment.17``: PartitionIncludeSchemaTable prefixes schema and table."""
    key = ".".join(str(row[k]) for k in table.primary_key)
    return f"{table.schema}.{table.table}.{key}"


def _serialise(record: Mapping[str, Any]) -> bytes:
    """Compact JSON, UTF-8, one line (orjson: the same bytes as the standard library's
    ``json.dumps(separators=(",", ":"), ensure_ascii=False)`` for these values, in a fraction
    of the time)."""
    return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)


def data_record(
    table: TableDef,
    operation: str,
    values: Sequence[str | None],
    *,
    now: datetime,
    position: TransactionPosition | None = None,
    partitioning: str = PRIMARY_KEY,
) -> OutRecord:
    """A data record from a row's text values (in ``table.columns`` order), partitioned as
    ``partitioning`` says (``load`` records always by primary key)."""
    if partitioning not in PARTITIONINGS:
        raise ValueError(f"partitioning must be one of {PARTITIONINGS}, not {partitioning!r}")
    if len(values) != len(table.columns):
        raise EncodingError(f"{table.table}: {len(values)} values for {len(table.columns)} columns")
    data = {c.name: encode_value(c.type_oid, v) for c, v in zip(table.columns, values, strict=True)}
    metadata: dict[str, Any] = {
        "timestamp": dms_timestamp(now),
        "record-type": "data",
        "operation": operation,
    }
    if partitioning == SCHEMA_TABLE and operation != "load":
        partition = f"{table.schema}.{table.table}"
        metadata["partition-key-type"] = SCHEMA_TABLE
    else:
        partition = partition_key_value(table, data)
        metadata["partition-key-type"] = PRIMARY_KEY
        metadata["partition-key-value"] = partition
    metadata["schema-name"] = table.schema
    metadata["table-name"] = table.table
    if position is not None:
        metadata["transaction-id"] = position.xid
        metadata["transaction-record-id"] = position.record_id
        if position.previous is not None:
            metadata["prev-transaction-id"], metadata["prev-transaction-record-id"] = (
                position.previous
            )
        metadata["commit-timestamp"] = dms_timestamp(position.commit_time)
        metadata["stream-position"] = position.stream_position
    return OutRecord(
        partition, _serialise({"data": data, "metadata": metadata}), table.table, operation
    )


# The control operations this encoder writes (the module docstring cites DMS's names).
CONTROL_OPERATIONS = (
    "create-table",
    "drop-table",
    "add-column",
    "drop-column",
    "rename-column",
    "column-type-change",
)


@dataclass(frozen=True)
class KnownColumn:
    """A column as the capture engine last saw it: its name, type (``pg_type`` OID and
    ``atttypmod``: varchar's length, numeric's precision and scale) and ``attnum``, its
    number in ``pg_attribute``, which a rename keeps and a drop and add does not. ``None``
    where it is not known (state written before types were kept)."""

    name: str
    type_oid: int | None = None
    type_modifier: int | None = None
    attnum: int | None = None

    def same_type(self, other: KnownColumn) -> bool:
        if None in (self.type_oid, other.type_oid):
            return True  # unknown: no type change can be told
        modifiers_known = None not in (self.type_modifier, other.type_modifier)
        return self.type_oid == other.type_oid and (
            not modifiers_known or self.type_modifier == other.type_modifier
        )


def alter_operations(
    before: Sequence[KnownColumn], after: Sequence[KnownColumn]
) -> list[tuple[str, tuple[str, ...]]]:
    """The DMS control operations that take a table from ``before`` to ``after``, each with
    the columns it concerns (by their new name): ``drop-column``, ``rename-column``,
    ``add-column``, ``column-type-change``, in that order, only those that apply. Pure.

    pgoutput's Relation message carries each column's name, type OID and type modifier, but
    not its ``attnum``, so from the message alone a rename is a column gone and another
    added. The engine reads the ``attnum`` of the message's columns from the catalogue
    (``source.column_catalogue``): a gone and an added column with the same ``attnum`` are
    one renamed column. Without attnums (or if the catalogue has moved on since the change
    was logged, and the name is no longer there) it reports a drop and an add, which is what
    the message shows, and what a consumer must handle anyway."""
    old = {c.name: c for c in before}
    new = {c.name: c for c in after}
    gone = [c for c in before if c.name not in new]
    added = [c for c in after if c.name not in old]
    renamed: list[tuple[KnownColumn, KnownColumn]] = []
    for column in list(added):
        match = next((g for g in gone if g.attnum is not None and g.attnum == column.attnum), None)
        if match is not None:
            renamed.append((match, column))
            gone.remove(match)
            added.remove(column)
    retyped = [c.name for c in after if c.name in old and not old[c.name].same_type(c)]
    retyped += [n.name for o, n in renamed if not o.same_type(n)]
    operations = (
        ("drop-column", tuple(c.name for c in gone)),
        ("rename-column", tuple(n.name for _, n in renamed)),
        ("add-column", tuple(c.name for c in added)),
        ("column-type-change", tuple(n for n in (c.name for c in after) if n in retyped)),
    )
    return [(operation, columns) for operation, columns in operations if columns]


def control_record(table: TableDef, operation: str, *, task_id: str, now: datetime) -> OutRecord:
    """A control record (``CONTROL_OPERATIONS``): ``control.table-def`` is the table after the
    change."""
    if operation not in CONTROL_OPERATIONS:
        raise ValueError(
            f"control operation must be one of {CONTROL_OPERATIONS}, not {operation!r}"
        )
    record = {
        "control": {"table-def": table.to_control()},
        "metadata": {
            "timestamp": dms_timestamp(now),
            "record-type": "control",
            "operation": operation,
            "partition-key-type": "task-id",
            "partition-key-value": task_id,
            "schema-name": table.schema,
            "table-name": table.table,
        },
    }
    return OutRecord(
        f"{task_id}.{table.schema}.{table.table}", _serialise(record), table.table, operation
    )


# The PostgreSQL type of each Contract A column kind in ToteSys (pg_type OIDs), for building
# records from plain rows with this encoder (tests, benchmarks).
KIND_OIDS = {
    INT: 23,
    TEXT: 25,
    NUMERIC: NUMERIC_OID,
    BOOL: BOOL_OID,
    TIMESTAMP: TIMESTAMP_OID,
    DATE_TEXT: 25,
}


def table_def(table: str) -> TableDef:
    """A ToteSys table as Contract A describes it, for ``data_record``."""
    columns = tuple(
        ColumnDef(c, KIND_OIDS[k], c in NULLABLE.get(table, ()))
        for c, k in SOURCE_TABLES[table].items()
    )
    return TableDef("public", table, columns, (primary_key(table),))


def pg_text(value: object) -> str | None:
    """A Python value as PostgreSQL prints it (what logical decoding hands the engine)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)

"""Contract A against the ToteSys source DDL: every table, column (in order), kind and
nullability the processor decodes is what ToteSys has. No services."""

from __future__ import annotations

from importlib import resources

import pytest

from contracts.change_records import NULLABLE, SOURCE_TABLES, parse_lsn, primary_key, version_of
from warehouse_tools.ddl import parse

KIND_TYPES = {
    "int": {"integer", "serial"},
    "text": {"text"} | {f"varchar({n})" for n in range(1, 256)},
    "numeric": {"numeric(10,2)"},
    "bool": {"boolean"},
    "timestamp": {"timestamp(3)"},
    "date_text": {"text"},
}


def source_ddl():
    text = resources.files("cdc").joinpath("sql/totesys_source.sql").read_text()
    return parse(text)


@pytest.mark.parametrize("table", sorted(SOURCE_TABLES))
def test_each_source_table_matches_the_totesys_ddl(table):
    ddl = source_ddl()[table]
    assert [c.name for c in ddl.columns] == list(SOURCE_TABLES[table])
    assert ddl.primary_key == (primary_key(table),)
    for column in ddl.columns:
        kind = SOURCE_TABLES[table][column.name]
        enum = column.type.startswith('"') or column.type[0].isupper()
        assert enum or column.type in KIND_TYPES[kind], (table, column.name, column.type)
        assert column.nullable == (column.name in NULLABLE.get(table, ())), (table, column.name)


def test_every_totesys_table_is_in_the_contract():
    assert set(source_ddl()) == set(SOURCE_TABLES)


def test_versions_order_by_commit_position_then_record_and_load_ranks_first():
    def meta(commit: int, record: int) -> dict:
        return {
            "operation": "update",
            "stream-position": f"{commit >> 32:08X}/{commit & 0xFFFFFFFF:08X}.{record}.0/0",
            "transaction-record-id": record,
        }

    assert version_of({"operation": "load"}) == 0
    assert 0 < version_of(meta(0x100, 1)) < version_of(meta(0x100, 2)) < version_of(meta(0x200, 1))


@pytest.mark.parametrize(
    "position, record_id, reason",
    [
        ("-1/0.1.0/0", 1, "'-1/0' is no LSN"),
        ("0/-10.1.0/0", 1, "'0/-10' is no LSN"),
        ("1FFFFFFFF/0.1.0/0", 1, "'1FFFFFFFF/0' is no LSN"),
        ("0/100000000.1.0/0", 1, "is no LSN: its halves are unsigned 32-bit numbers"),
        ("0/100.1.0/0", -1, "transaction-record-id -1 is not an unsigned 32-bit number"),
        ("0/100.1.0/0", 2**32, "transaction-record-id 4294967296 is not"),
        ("0/100.1.0/0", 1e300, "is not an unsigned 32-bit number"),
    ],
)
def test_a_position_whose_parts_leave_their_bits_is_no_version(position, record_id, reason):
    """An LSN is two unsigned 32-bit halves and a record id is below 2**32: anything else
    would misorder (or, negative or beyond 2**96, not fit cdc_version)."""
    meta = {"operation": "update", "stream-position": position, "transaction-record-id": record_id}
    with pytest.raises(ValueError, match=reason):
        version_of(meta)


def test_the_highest_version_fits_96_bits():
    top = {
        "operation": "update",
        "stream-position": "FFFFFFFF/FFFFFFFF.1.0/0",
        "transaction-record-id": 2**32 - 1,
    }
    assert version_of(top) == 2**96 - 1
    assert parse_lsn("0/16B3748") == 0x16B3748

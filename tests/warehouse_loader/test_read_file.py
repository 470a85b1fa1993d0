"""``load.read_file``: a batch file of the previous spec (lacking a nullable column the spec
has added since) loads, that column NULL; any other difference from the published schema is
a bad batch. No services."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from contracts.batches import MemoryStore
from contracts.star_schema import schema_of
from warehouse_loader.errors import BadBatch
from warehouse_loader.load import read_file

ROW = {
    "design_id": 7,
    "design_name": "Wooden",
    "file_location": "/x",
    "file_name": "w.json",
    "cdc_version": 42,
    "cdc_is_deleted": False,
    "cdc_source_updated_at": None,
}


def stored(data: pa.Table) -> MemoryStore:
    store = MemoryStore()
    out = io.BytesIO()
    pq.write_table(data, out)
    store.put("batches/f.parquet", out.getvalue(), "application/octet-stream")
    return store


def design(schema: pa.Schema, **values) -> pa.Table:
    return pa.Table.from_pylist([{**ROW, **values}], schema=schema)


def read(data: pa.Table) -> pa.Table:
    return read_file(stored(data), "dim_design", "batches/f.parquet")


def test_a_file_of_the_published_schema_is_read_as_it_is():
    data = design(schema_of("dim_design"))
    assert read(data).equals(data)


def test_a_file_lacking_a_nullable_column_reads_it_as_null_in_the_published_order():
    published = schema_of("dim_design")
    older = published.remove(published.get_field_index("file_name"))
    got = read(design(older))
    assert got.schema.equals(published)
    assert got.to_pylist() == [{**ROW, "file_name": None}]


def test_columns_in_another_order_are_read_in_the_published_order():
    published = schema_of("dim_design")
    shuffled = pa.schema(list(reversed(published)))
    assert read(design(shuffled)).schema.equals(published)


@pytest.mark.parametrize(
    "change, reason",
    [
        ("unknown column", "not in the published dim_design schema"),
        ("not null missing", "lacks dim_design.cdc_version, which is NOT NULL"),
        ("wrong type", "dim_design.file_name is int32"),
        ("nullability", "cdc_is_deleted is bool, the published schema's bool not null"),
    ],
)
def test_an_unknown_column_a_wrong_type_or_a_missing_not_null_column_is_a_bad_batch(change, reason):
    published = schema_of("dim_design")
    if change == "unknown column":
        data = design(published.append(pa.field("file_size", pa.int32())), file_size=3)
    elif change == "not null missing":
        data = design(published.remove(published.get_field_index("cdc_version")))
    elif change == "wrong type":
        at = published.get_field_index("file_name")
        data = design(published.set(at, pa.field("file_name", pa.int32())), file_name=3)
    else:
        at = published.get_field_index("cdc_is_deleted")
        data = design(published.set(at, pa.field("cdc_is_deleted", pa.bool_())))
    with pytest.raises(BadBatch, match=reason):
        read(data)

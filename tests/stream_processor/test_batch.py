"""Micro-batches (``stream_processor.batch``): rows converted with their table's explicit
schema, a row parquet cannot hold found and only its record taken out, and a batch due by rows,
bytes or age. The order of the commit that writes them is ``test_shard.py``'s."""

from __future__ import annotations

import io

import pyarrow.parquet as pq
import pytest

from contracts.star_schema import schema_of, spec
from stream_processor.batch import Batch, encode_files, to_arrow, unwritable_rows
from stream_processor.transform import OutRow

SHARD = "shardId-000000000001"
GOOD = {"currency_id": 1, "cdc_version": 10, "cdc_is_deleted": False}


def test_a_row_parquet_cannot_hold_is_found_and_only_its_record_is_taken_out():
    """Today's main failed the whole batch's parquet write at every commit, so the shard never
    moved again. A version wider than decimal128(38) is such a value."""
    batch = Batch(SHARD)
    good = {
        "sales_order_id": 1,
        "cdc_version": 10,
        "cdc_operation": "insert",
        "cdc_is_deleted": False,
    }
    for seq in range(1, 9):
        version = 10**40 if seq == 5 else 10 + seq
        rows = (
            OutRow("fact_sales_order", {**good, "sales_order_id": seq, "cdc_version": version}),
            OutRow(
                "dim_currency",
                {"currency_id": seq, "cdc_version": version, "cdc_is_deleted": False},
            ),
        )
        batch.add_record(str(seq), rows, (f"pk-{seq}", b"raw"))
    files, refused = encode_files(batch)
    assert list(refused) == ["5"] and "cannot be written as parquet" in refused["5"]
    for table in ("fact_sales_order", "dim_currency"):  # the record is taken out of every table
        ids = pq.read_table(io.BytesIO(files[table])).column(spec(table).key).to_pylist()
        assert ids == [1, 2, 3, 4, 6, 7, 8]
    assert batch.row_count == 14 and batch.records == 8


def test_rows_take_the_table_s_schema_and_a_column_missing_from_a_row_is_null():
    arrow = to_arrow("dim_currency", [GOOD, {"currency_id": 2, "cdc_version": 11}])
    assert arrow.schema.equals(schema_of("dim_currency"))
    assert arrow.column("cdc_is_deleted").to_pylist() == [False, None]
    assert to_arrow("dim_currency", []).num_rows == 0


def test_every_unwritable_row_is_found_by_its_index_and_a_clean_batch_has_none():
    rows = [{**GOOD, "currency_id": n} for n in range(40)]
    assert unwritable_rows("dim_currency", rows) == {}
    for n in (0, 17, 39):
        rows[n] = {**rows[n], "cdc_version": 10**40}  # wider than decimal128(38)
    found = unwritable_rows("dim_currency", rows)
    assert sorted(found) == [0, 17, 39]
    assert all(
        why.startswith("its dim_currency row cannot be written as parquet: ")
        for why in found.values()
    )


def test_taking_a_record_s_rows_out_keeps_it_in_the_batch_s_range():
    batch = Batch(SHARD)
    for seq in ("1", "2", "3"):
        batch.add_record(seq, (OutRow("dim_currency", {**GOOD, "currency_id": int(seq)}),))
    batch.add_record("4", ())  # a record without rows still moves the range on
    batch.remove_rows_of({"2"})
    assert (batch.first_seq, batch.last_seq, batch.records, batch.row_count) == ("1", "4", 4, 2)
    assert [r["currency_id"] for r in batch.rows["dim_currency"]] == [1, 3]
    assert batch.row_records["dim_currency"] == ["1", "3"]
    batch.remove_rows_of({"1", "3"})
    assert batch.rows == {} and batch.row_count == 0 and not batch.empty


@pytest.mark.parametrize(
    ("limits", "due"),
    [
        ({"max_rows": 2, "max_bytes": 10**9, "max_age_s": 3600}, True),
        ({"max_rows": 3, "max_bytes": 10**9, "max_age_s": 3600}, False),
        ({"max_rows": 3, "max_bytes": 1, "max_age_s": 3600}, True),
        ({"max_rows": 3, "max_bytes": 10**9, "max_age_s": 0.0}, True),
    ],
)
def test_a_batch_is_due_by_rows_bytes_or_age_and_an_empty_one_never(limits, due):
    assert not Batch(SHARD).due(**{**limits, "max_age_s": 0.0})
    batch = Batch(SHARD)
    for seq in ("1", "2"):
        batch.add_record(seq, (OutRow("dim_currency", {**GOOD, "currency_id": int(seq)}),))
    assert batch.due(**limits) is due

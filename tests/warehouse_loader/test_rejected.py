"""Rows the warehouse refuses for their data are set aside, one letter each, and the rest of
the manifest loads; the letters are redriven after a fix. On the local stack's PostgreSQL.

The batches are written by hand (parquet in the published schema, a manifest), not by the
processor: these are rows that got past it."""

from __future__ import annotations

import io
import json
import uuid
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from contracts.batches import (
    REJECTED_PREFIX,
    REJECTED_REDRIVEN_PREFIX,
    BatchFile,
    Manifest,
    MemoryStore,
    S3Store,
    batch_file_key,
    manifest_key,
)
from contracts.star_schema import schema_of
from local_stack.services.config import WAREHOUSE
from tests.fixtures import unique_name
from warehouse_loader import handler, load, migrations, rejected
from warehouse_loader.errors import BadBatch
from warehouse_loader.load import load_manifest
from warehouse_tools import cli, redrive

pytestmark = pytest.mark.stack
T = datetime(2026, 3, 4, 10, 0, 0)


@pytest.fixture
def warehouse(fresh_database):
    dsn = fresh_database("warehouse", cluster=WAREHOUSE)
    with psycopg.connect(dsn) as conn:
        migrations.apply(conn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.dsn_for_tests = dsn
        yield conn


@pytest.fixture
def store():
    return MemoryStore()


def put_manifest(store, tables: dict[str, list[dict[str, Any]]], shard: str | None = None) -> str:
    """A manifest and its files, rows completed with NULLs, in the published schemas."""
    shard = shard or f"shardId-{uuid.uuid4().hex[:8]}"
    files = []
    for table, rows in tables.items():
        schema = schema_of(table)
        full = [{c: row.get(c) for c in schema.names} for row in rows]
        key = batch_file_key(table, shard, "1", "9")
        out = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(full, schema=schema), out)
        store.put(key, out.getvalue(), "application/octet-stream")
        files.append(BatchFile(table, key, len(rows)))
    key = manifest_key(shard, "1", "9")
    manifest = Manifest.now(
        shard_id=shard,
        first_sequence_number="1",
        last_sequence_number="9",
        records=sum(f.rows for f in files),
        dead_letters=0,
        files=tuple(files),
        generation=1,
    )
    store.put(key, manifest.to_json(), "application/json")
    return key


def currency(key: int, code: str, version: int = 10) -> dict[str, Any]:
    return {
        "currency_id": key,
        "currency_code": code,
        "currency_name": f"name {code}",
        "cdc_version": Decimal(version),
        "cdc_is_deleted": False,
        "cdc_source_updated_at": T,
    }


def design(key: int, name: str, version: int = 10) -> dict[str, Any]:
    return {
        "design_id": key,
        "design_name": name,
        "file_location": "/d",
        "file_name": f"{key}.json",
        "cdc_version": Decimal(version),
        "cdc_is_deleted": False,
        "cdc_source_updated_at": T,
    }


def sale(key: int, version: int, **values: Any) -> dict[str, Any]:
    return {
        "sales_order_id": key,
        "created_date": date(2026, 3, 4),
        "created_time": time(10, 0),
        "last_updated_date": date(2026, 3, 4),
        "last_updated_time": time(10, 0),
        "units_sold": 5,
        "unit_price": Decimal("2.50"),
        "currency_id": 1,
        "design_id": 1,
        "cdc_version": Decimal(version),
        "cdc_operation": "insert",
        "cdc_is_deleted": False,
        "cdc_source_updated_at": T,
        **values,
    }


def rows(conn, query: str, *args) -> list[tuple]:
    return conn.execute(query, args).fetchall()


def events(capsys, name: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    return [e for e in lines if e.get("event") == name]


def test_a_too_long_code_and_a_nul_are_set_aside_the_rest_loads_and_a_redrive_after_the_fix_loads_them(
    warehouse, store, capsys
):
    key = put_manifest(
        store,
        {
            "dim_currency": [currency(1, "GBP"), currency(2, "GBPX"), currency(3, "EUR")],
            "dim_design": [design(1, "Wooden"), design(2, "Bad\x00name"), design(3, "Steel")],
            "fact_sales_order": [
                sale(100, 1),
                sale(101, 1, currency_id=2),  # references the refused currency
                sale(102, 1, design_id=2),  # references the refused design
                sale(103, 1, currency_id=3, design_id=3),
            ],
        },
    )
    result = load_manifest(warehouse, store, key)

    assert result.refused == {"dim_currency": 1, "dim_design": 1}
    assert result.staged == {"dim_currency": 2, "dim_design": 2, "fact_sales_order": 4}
    assert rows(warehouse, "SELECT sales_order_id FROM fact_sales_order ORDER BY 1") == [
        (100,),
        (101,),
        (102,),
        (103,),
    ]
    # the facts of a refused dimension row point at an inferred member until it is redriven
    assert rows(
        warehouse, "SELECT currency_id, currency_code, cdc_is_inferred FROM dim_currency ORDER BY 1"
    ) == [(1, "GBP", False), (2, None, True), (3, "EUR", False)]
    assert rows(warehouse, "SELECT design_id, cdc_is_inferred FROM dim_design ORDER BY 1") == [
        (1, False),
        (2, True),
        (3, False),
    ]
    (ledger,) = rows(warehouse, "SELECT rows_loaded -> 'refused' FROM cdc_load_ledger")
    assert ledger == ({"dim_currency": 1, "dim_design": 1},)

    letters = dict(rejected.letters(store))
    assert len(letters) == 2
    by_table = {letter.table: letter for letter in letters.values()}
    too_long, nul = by_table["dim_currency"], by_table["dim_design"]
    assert (too_long.sqlstate, too_long.error) == ("22001", "StringDataRightTruncation")
    assert "character varying(3)" in too_long.reason and "currency_code" in too_long.reason
    assert too_long.row["currency_code"] == "GBPX" and too_long.row["cdc_version"] == "10"
    assert too_long.row["cdc_source_updated_at"] == T.isoformat()
    assert (too_long.manifest, too_long.generation, too_long.position) == (key, 1, 1)
    assert nul.sqlstate == "22021" and "0x00" in nul.reason
    assert nul.row["design_name"] == "Bad\x00name"
    assert all(k.startswith(REJECTED_PREFIX + "/") for k in letters)
    logged = events(capsys, "rows_refused")
    assert sorted((e["table"], e["rows"], e["sqlstates"]) for e in logged) == [
        ("dim_currency", 1, ["22001"]),
        ("dim_design", 1, ["22021"]),
    ]
    assert all(e["manifest"] == key and e["level"] == "WARNING" for e in logged)

    # not fixed yet: refused again, the letter stays with one more attempt
    again = redrive.redrive(warehouse, store, [kl for kl in letters.items() if "currency" in kl[0]])
    assert again.landed == [] and len(again.still_refused) == 1
    (still,) = [letter for _, letter in rejected.letters(store, table="dim_currency")]
    assert still.attempts == 2

    # the fixes: the currency's value corrected in its letter, the design's column data too
    for k, letter in rejected.letters(store):
        fixed = (
            {"currency_code": "CHF"}
            if letter.table == "dim_currency"
            else {"design_name": "Bad name"}
        )
        edited = json.loads(store.get(k))
        edited["row"].update(fixed)
        store.put(k, json.dumps(edited).encode(), "application/json")
    chosen = list(rejected.letters(store))
    done = redrive.redrive(warehouse, store, chosen)
    assert sorted(done.landed) == sorted(k for k, _ in chosen) and not done.still_refused
    assert done.rows == {"dim_currency": 1, "dim_design": 1}
    assert rows(
        warehouse, "SELECT currency_code, cdc_is_inferred FROM dim_currency WHERE currency_id = 2"
    ) == [("CHF", False)]
    assert rows(
        warehouse, "SELECT design_name, cdc_is_inferred FROM dim_design WHERE design_id = 2"
    ) == [("Bad name", False)]
    assert list(rejected.letters(store)) == []
    moved = store.keys(REJECTED_REDRIVEN_PREFIX + "/")
    assert len(moved) == 2
    note = json.loads(store.get(moved[0]))["redriven"]
    assert note["ledger_key"] == done.ledger_keys[0] and not note["already_loaded"]

    # a second redrive is a no-op: nothing is left to redrive, and the same letters again
    # (as if the first had stopped before moving them) are found loaded in the ledger
    before = rows(warehouse, "SELECT * FROM dim_currency ORDER BY 1")
    assert redrive.redrive(warehouse, store, list(rejected.letters(store))).landed == []
    for k, _ in chosen:
        store.put(
            k,
            json.dumps(
                {**json.loads(store.get(rejected.redriven_key(k))), "redriven": None}
            ).encode(),
            "application/json",
        )
    replayed = redrive.redrive(warehouse, store, list(rejected.letters(store)))
    assert replayed.ledger_keys == done.ledger_keys and len(replayed.landed) == 2
    assert json.loads(store.get(moved[0]))["redriven"]["already_loaded"]
    assert rows(warehouse, "SELECT * FROM dim_currency ORDER BY 1") == before
    assert rows(warehouse, "SELECT count(*) FROM cdc_load_ledger")[0][0] == 3


def test_not_null_and_check_refusals_of_facts_and_dimensions_then_the_warehouse_is_fixed(
    warehouse, store
):
    """NOT NULL and CHECK are refused where they would be: a fact's COPY, and a dimension's
    staging COPY (the staging table carries the table's constraints, so the merge never
    refuses a row); the fix is in the warehouse, the letters unchanged."""
    warehouse.execute("ALTER TABLE fact_sales_order ALTER COLUMN units_sold SET NOT NULL")
    warehouse.execute(
        "ALTER TABLE dim_design ADD CONSTRAINT no_forbidden CHECK (design_name <> 'Forbidden')"
    )
    key = put_manifest(
        store,
        {
            "dim_design": [design(1, "Wooden"), design(2, "Forbidden")],
            "fact_sales_order": [
                sale(100, 1),
                sale(101, 1, units_sold=None),
                sale(102, 1, cdc_operation="bogus"),
                sale(103, 1),
            ],
        },
    )
    result = load_manifest(warehouse, store, key)
    assert result.refused == {"dim_design": 1, "fact_sales_order": 2}
    assert result.inserted["fact_sales_order"] == 2
    states = sorted((letter.table, letter.sqlstate) for _, letter in rejected.letters(store))
    assert states == [
        ("dim_design", "23514"),
        ("fact_sales_order", "23502"),
        ("fact_sales_order", "23514"),
    ]

    warehouse.execute("ALTER TABLE fact_sales_order ALTER COLUMN units_sold DROP NOT NULL")
    warehouse.execute("ALTER TABLE dim_design DROP CONSTRAINT no_forbidden")
    done = redrive.redrive(warehouse, store, list(rejected.letters(store)))
    assert done.rows == {"dim_design": 1, "fact_sales_order": 1}
    (left,) = list(rejected.letters(store))  # the bogus operation: still refused by its CHECK
    assert list(done.still_refused) == [left[0]] and "CheckViolation" in done.still_refused[left[0]]
    assert (left[1].row["cdc_operation"], left[1].attempts) == ("bogus", 2)
    assert rows(
        warehouse, "SELECT sales_order_id, units_sold FROM fact_sales_order ORDER BY 1"
    ) == [
        (100, 5),
        (101, None),
        (103, 5),
    ]
    assert rows(warehouse, "SELECT design_name FROM dim_design WHERE design_id = 2") == [
        ("Forbidden",)
    ]


def test_a_replayed_fact_batch_still_merges_and_its_refused_row_is_set_aside(warehouse, store):
    """The facts' unique violation stays control flow: the COPY falls back to stage and merge,
    and the staging COPY sets the refused row aside."""
    load_manifest(warehouse, store, put_manifest(store, {"fact_sales_order": [sale(100, 1)]}))
    overlapping = put_manifest(
        store,
        {
            "fact_sales_order": [
                sale(100, 1),  # loaded already: the fast path's COPY meets the unique index
                sale(100, 2, unit_price=Decimal("3.00")),
                sale(100, 3, cdc_operation="bogus"),
            ]
        },
    )
    result = load_manifest(warehouse, store, overlapping)
    assert result.inserted == {"fact_sales_order": 1} and result.refused == {"fact_sales_order": 1}
    assert rows(warehouse, "SELECT cdc_version FROM fact_sales_order ORDER BY 1") == [(1,), (2,)]
    ((_, letter),) = list(rejected.letters(store))
    assert (letter.position, letter.sqlstate, letter.row["cdc_version"]) == (2, "23514", "3")


def test_a_file_of_refused_rows_is_a_bad_batch_and_nothing_lands(warehouse, store):
    many = [currency(k, "TOOLONG") for k in range(1, load.MAX_REFUSED_PER_FILE + 3)]
    key = put_manifest(store, {"dim_currency": [currency(0, "GBP"), *many]})
    with pytest.raises(BadBatch, match="more than 100 rows of dim_currency refused"):
        load_manifest(warehouse, store, key)
    assert rows(warehouse, "SELECT count(*) FROM dim_currency") == [(0,)]
    assert rows(warehouse, "SELECT count(*) FROM cdc_load_ledger") == [(0,)]
    assert list(rejected.letters(store)) == []


def test_a_deferred_foreign_key_violation_fails_the_manifest_whole_before_any_letter(
    warehouse, store, monkeypatch
):
    """Without the right to skip the row-by-row checks they are deferred, and run once the
    tables are written: a violation (here made possible by suppressing the inferred members)
    cannot be pinned on a row, so the manifest fails whole, as a bad batch, with no letter."""

    def deferred(conn):
        conn.execute("SET CONSTRAINTS ALL DEFERRED")
        return True

    monkeypatch.setattr(load, "_skip_row_by_row_fk_checks", deferred)
    monkeypatch.setattr(load, "referenced", lambda tables: ([date(2026, 3, 4)], {}))
    key = put_manifest(
        store,
        {"dim_currency": [currency(1, "GBPX")], "fact_sales_order": [sale(100, 1, currency_id=1)]},
    )
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        load_manifest(warehouse, store, key)

    class Warehouse:  # what handler.load_with_retries needs of one
        config = type("Config", (), {"history": True})

        def connection(self):
            return warehouse

    with pytest.raises(BadBatch, match="refused"):
        handler.load_with_retries(Warehouse(), store, key)
    assert rows(warehouse, "SELECT count(*) FROM cdc_load_ledger") == [(0,)]
    assert rows(warehouse, "SELECT count(*) FROM fact_sales_order") == [(0,)]
    assert list(rejected.letters(store)) == []


def test_the_cli_lists_shows_and_redrives_letters_in_s3(
    warehouse, stack_cfg, aws_client, monkeypatch
):
    bucket = unique_name("batches")
    s3 = aws_client("s3")
    s3.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": stack_cfg.region}
    )
    for name, value in stack_cfg.aws_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TOTESYS_CDC_WAREHOUSE_DSN", warehouse.dsn_for_tests)
    monkeypatch.delenv("TOTESYS_CDC_WAREHOUSE_SECRET_ARN", raising=False)
    store = S3Store(s3, bucket)
    key = put_manifest(store, {"dim_currency": [currency(1, "GBP"), currency(2, "GBPX")]})
    assert load_manifest(warehouse, store, key).refused == {"dim_currency": 1}
    runner = CliRunner()

    listed = runner.invoke(cli.main, ["rejected", "--bucket", bucket, "list"])
    assert listed.exit_code == 0, listed.output
    (letter_key,) = [line.split("\t")[0] for line in listed.stdout.splitlines()]
    assert "\tdim_currency\t22001\t1\t" in listed.stdout
    shown = runner.invoke(cli.main, ["rejected", "--bucket", bucket, "show", letter_key])
    assert json.loads(shown.stdout)["row"]["currency_code"] == "GBPX"

    refused = runner.invoke(cli.main, ["rejected", "--bucket", bucket, "redrive"])
    assert refused.exit_code == 1 and "still refused" in refused.stdout
    warehouse.execute("ALTER TABLE dim_currency ALTER COLUMN currency_code TYPE varchar(4)")
    dry = runner.invoke(cli.main, ["rejected", "--bucket", bucket, "redrive", "--dry-run"])
    assert f"would load {letter_key}" in dry.stdout
    done = runner.invoke(cli.main, ["rejected", "--bucket", bucket, "redrive"])
    assert done.exit_code == 0, done.output
    assert "dim_currency: 1 rows loaded" in done.stdout
    assert rows(warehouse, "SELECT currency_code FROM dim_currency WHERE currency_id = 2") == [
        ("GBPX",)
    ]
    again = runner.invoke(cli.main, ["rejected", "--bucket", bucket, "redrive"])
    assert again.exit_code == 0 and "0 rows to redrive" in again.stdout


def test_on_the_deferred_path_a_refused_row_is_set_aside_and_the_references_hold(
    warehouse, store, monkeypatch
):
    def deferred(conn):
        conn.execute("SET CONSTRAINTS ALL DEFERRED")
        return True

    monkeypatch.setattr(load, "_skip_row_by_row_fk_checks", deferred)
    key = put_manifest(
        store,
        {
            "dim_currency": [currency(1, "GBPX")],
            "fact_sales_order": [sale(100, 1), sale(101, 1, cdc_operation="bogus")],
        },
    )
    result = load_manifest(warehouse, store, key)
    assert result.refused == {"dim_currency": 1, "fact_sales_order": 1}
    assert rows(warehouse, "SELECT cdc_is_inferred FROM dim_currency") == [(True,)]
    assert rows(warehouse, "SELECT sales_order_id FROM fact_sales_order") == [(100,)]
    assert len(list(rejected.letters(store))) == 2

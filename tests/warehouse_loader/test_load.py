"""Loading manifests into the real local PostgreSQL warehouse: version guards, idempotence,
inferred members, bad batches. Manifests are made by the real processor pipeline."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pyarrow as pa
import pytest

from contracts.batches import MemoryStore
from contracts.star_schema import schema_of
from local_stack.services.config import WAREHOUSE
from stream_processor.config import ProcessorConfig
from stream_processor.join_state.memory import MemoryJoinState
from stream_processor.shard import ShardProcessor
from tests.stream_processor.fixtures import ADDRESS, COUNTERPARTY, DEPT, SALE, STAFF, record
from tests.warehouse_loader.fixtures import CURRENCY, manifest
from warehouse_loader import migrations
from warehouse_loader.errors import BadBatch
from warehouse_loader.load import fact_copy_rows, load_manifest
from warehouse_loader.merge_sql.plan import table_plan

pytestmark = pytest.mark.stack


@pytest.fixture
def store():
    return MemoryStore()


def one(conn, query, *args):
    return conn.execute(query, args).fetchone()


def test_a_dimension_takes_a_newer_version_and_ignores_older_or_equal_ones(warehouse, store):
    load_manifest(warehouse, store, manifest(store, record("currency", CURRENCY, commit=0x20)))
    load_manifest(
        warehouse,
        store,
        manifest(
            store, record("currency", {**CURRENCY, "currency_code": "USD"}, "update", commit=0x30)
        ),
    )
    assert one(warehouse, "SELECT currency_code, currency_name FROM dim_currency") == (
        "USD",
        "US Dollar",
    )
    older = load_manifest(
        warehouse,
        store,
        manifest(
            store, record("currency", {**CURRENCY, "currency_code": "EUR"}, "update", commit=0x10)
        ),
    )
    equal = load_manifest(
        warehouse,
        store,
        manifest(
            store, record("currency", {**CURRENCY, "currency_code": "EUR"}, "update", commit=0x30)
        ),
    )
    assert one(warehouse, "SELECT currency_code FROM dim_currency") == ("USD",)
    assert older.updated == {"dim_currency": 0} and equal.updated == {"dim_currency": 0}


def test_facts_keep_every_version_once_and_a_redelivered_manifest_changes_nothing(warehouse, store):
    load_manifest(warehouse, store, manifest(store, record("currency", CURRENCY, commit=0x1)))
    key = manifest(
        store,
        record("sales_order", SALE, commit=0x10),
        record("sales_order", {**SALE, "units_sold": 5}, "update", commit=0x20),
    )
    first = load_manifest(warehouse, store, key)
    again = load_manifest(warehouse, store, key)
    assert first.inserted["fact_sales_order"] == 2 and again.skipped
    assert one(warehouse, "SELECT count(*) FROM fact_sales_order")[0] == 2
    replayed = load_manifest(
        warehouse, store, manifest(store, record("sales_order", SALE, commit=0x10))
    )
    assert replayed.inserted["fact_sales_order"] == 0
    overlapping = load_manifest(  # a version already loaded next to a new one
        warehouse,
        store,
        manifest(
            store,
            record("sales_order", {**SALE, "units_sold": 5}, "update", commit=0x20),
            record("sales_order", {**SALE, "units_sold": 7}, "update", commit=0x30),
        ),
    )
    assert overlapping.inserted["fact_sales_order"] == 1
    assert one(
        warehouse, "SELECT array_agg(units_sold ORDER BY cdc_version) FROM fact_sales_order"
    )[0] == [100, 5, 7]
    assert one(warehouse, "SELECT count(*) FROM cdc_load_ledger")[0] == 4


def test_two_overlapping_manifests_give_the_same_warehouse_in_either_order(fresh_database, store):
    dept_v2 = record(
        "department", {**DEPT, "department_name": "Sales & Marketing"}, "update", commit=0x40
    )
    a = manifest(
        store,
        record("department", DEPT, commit=0x10),
        record("staff", STAFF, commit=0x20),
        state=(shared := MemoryJoinState()),
    )
    b = manifest(
        store,
        record("staff", {**STAFF, "email_address": "new@t"}, "update", commit=0x30),
        dept_v2,
        record("sales_order", SALE, commit=0x50),
        state=shared,
    )
    results = []
    for order in ((a, b), (b, a)):
        dsn = fresh_database("warehouse", cluster=WAREHOUSE)
        with psycopg.connect(dsn) as conn:
            migrations.apply(conn)
            for key in order:
                load_manifest(conn, store, key)
            results.append(
                conn.execute(
                    "SELECT staff_id, first_name, department_name, email_address, cdc_version, cdc_joined_version, "
                    "cdc_is_inferred FROM dim_staff ORDER BY 1"
                ).fetchall()
                + conn.execute(
                    "SELECT sales_order_id, cdc_version FROM fact_sales_order"
                ).fetchall()
            )
    assert results[0] == results[1]
    assert results[0][0][2:4] == ("Sales & Marketing", "new@t")


def test_a_fact_before_its_dimensions_gets_inferred_members_that_the_real_rows_replace(
    warehouse, store
):
    load_manifest(warehouse, store, manifest(store, record("sales_order", SALE, commit=0x50)))
    assert one(
        warehouse, "SELECT cdc_is_inferred, first_name FROM dim_staff WHERE staff_id = 10"
    ) == (True, None)
    assert (
        one(
            warehouse,
            "SELECT count(*) FROM dim_date WHERE date_id = '2026-03-04' AND day_of_week = 3",
        )[0]
        == 1
    )
    load_manifest(
        warehouse,
        store,
        manifest(
            store,
            record("department", DEPT, commit=0x10),
            record("staff", STAFF, commit=0x20),
            record("address", ADDRESS, commit=0x21),
            record("counterparty", COUNTERPARTY, commit=0x22),
        ),
    )
    assert one(
        warehouse,
        "SELECT cdc_is_inferred, first_name, department_name FROM dim_staff WHERE staff_id = 10",
    ) == (False, "Ana", "Sales")
    assert one(
        warehouse, "SELECT cdc_is_inferred, counterparty_legal_city FROM dim_counterparty"
    ) == (False, "Leeds")


def test_a_deleted_dimension_row_is_flagged_and_keeps_its_attributes(warehouse, store):
    load_manifest(warehouse, store, manifest(store, record("address", ADDRESS, commit=0x10)))
    load_manifest(
        warehouse, store, manifest(store, record("address", ADDRESS, "delete", commit=0x20))
    )
    assert one(
        warehouse, "SELECT cdc_is_deleted, city FROM dim_location WHERE location_id = 5"
    ) == (True, "Leeds")


def test_a_bad_manifest_loads_nothing(warehouse, store):
    key = manifest(store, record("sales_order", SALE, commit=0x10))
    fact_file = next(k for k in store.keys("batches/fact_sales_order/"))
    store.put(fact_file, b"PAR1 not really parquet", "application/octet-stream")
    with pytest.raises(BadBatch, match="cannot read batches/fact_sales_order"):
        load_manifest(warehouse, store, key)
    with pytest.raises(BadBatch, match="cannot read manifest"):
        load_manifest(warehouse, store, "manifests/nowhere.json")
    assert one(warehouse, "SELECT count(*) FROM dim_date")[0] == 0
    assert one(warehouse, "SELECT count(*) FROM cdc_load_ledger")[0] == 0


def test_sql_injection_attempts_in_values_land_as_data(warehouse, store):
    evil = "x'); DROP TABLE dim_design; --"
    design = {
        "design_id": 4,
        "design_name": evil,
        "file_location": "/\\N\t\n",
        "file_name": 'a,b"c',
        "created_at": SALE["created_at"],
        "last_updated": SALE["created_at"],
    }
    load_manifest(warehouse, store, manifest(store, record("design", design, commit=0x10)))
    assert one(warehouse, "SELECT design_name, file_location, file_name FROM dim_design") == (
        evil,
        "/\\N\t\n",
        'a,b"c',
    )


def test_every_fact_reference_resolves_after_loads_that_skip_row_by_row_checks(warehouse, store):
    from psycopg import sql

    from contracts.star_schema import FACTS, KEYS, spec

    purchase = {
        **SALE,
        "purchase_order_id": 3,
        "item_code": "AB12345",
        "item_quantity": 4,
        "item_unit_price": SALE["unit_price"],
    }
    load_manifest(
        warehouse,
        store,
        manifest(
            store,
            record("sales_order", SALE, commit=0x50),
            record("purchase_order", purchase, commit=0x51),
        ),
    )
    for fact in FACTS:
        checks = [(c, d, KEYS[d]) for c, d in spec(fact).references.items()]
        assert len(checks) >= 7, "every dimension and date reference"
        for column, dim, key in checks:
            orphans = warehouse.execute(
                sql.SQL(
                    "SELECT count(*) FROM {f} LEFT JOIN {d} ON {d}.{k} = {f}.{c} WHERE {f}.{c} IS NOT NULL AND {d}.{k} IS NULL"
                ).format(
                    f=sql.Identifier(fact),
                    d=sql.Identifier(dim),
                    k=sql.Identifier(key),
                    c=sql.Identifier(column),
                )
            )
            assert orphans.fetchone()[0] == 0, (fact, column)


def manifest_at(store, seqs, *raws: bytes, generation: int, monkeypatch) -> str:
    """A manifest written by the transform of ``generation`` at these sequence numbers (so
    the same records at the same positions give the same manifest key)."""
    import stream_processor.batch

    monkeypatch.setattr(stream_processor.batch, "GENERATION", generation)
    p = ShardProcessor(
        "shardId-000000000000",
        MemoryJoinState(),
        store,
        ProcessorConfig(bucket="b", state_table="s"),
    )
    for seq, raw in zip(seqs, raws, strict=True):
        p.process(seq, "k", raw)
    return p.commit(lambda _seq: True).manifest_key


DESIGN = {
    "design_id": 2,
    "design_name": "Wooden",
    "file_location": "/usr",
    "file_name": "wooden.json",
    "created_at": SALE["created_at"],
    "last_updated": SALE["created_at"],
}


def test_a_newer_generation_replaces_rows_of_an_equal_version_and_an_older_one_never_does(
    warehouse, store, monkeypatch
):
    def load(generation: int, name: str, units: int, seqs=("901", "902")) -> None:
        key = manifest_at(
            store,
            seqs,
            record("design", {**DESIGN, "design_name": name}, commit=0x10),
            record("sales_order", {**SALE, "units_sold": units}, commit=0x11),
            generation=generation,
            monkeypatch=monkeypatch,
        )
        assert not load_manifest(warehouse, store, key).skipped

    def stored():
        return (
            one(warehouse, "SELECT design_name, cdc_generation FROM dim_design"),
            warehouse.execute("SELECT units_sold, cdc_generation FROM fact_sales_order").fetchall(),
        )

    load(1, "Wrong", 999)  # a release with a bug
    assert stored() == (("Wrong", 1), [(999, 1)])
    load(2, "Wooden", 100)  # the fix, replayed: same versions, same manifest key, newer generation
    assert stored() == (("Wooden", 2), [(100, 2)]), "replaced, and still one fact version"
    load(1, "Wrong", 999, seqs=("903", "904"))  # the old release's batch again, elsewhere
    assert stored() == (("Wooden", 2), [(100, 2)]), "an older generation never overwrites"
    ledger = warehouse.execute(
        "SELECT manifest_key, generation FROM cdc_load_ledger ORDER BY 2, 1"
    ).fetchall()
    assert [g for _, g in ledger] == [1, 1, 2] and ledger[0][0] != ledger[1][0]


def test_a_newer_generation_never_brings_back_an_older_version(warehouse, store, monkeypatch):
    newer = manifest_at(
        store,
        ("911",),
        record("design", {**DESIGN, "design_name": "Newest"}, "update", commit=0x30),
        generation=1,
        monkeypatch=monkeypatch,
    )
    load_manifest(warehouse, store, newer)
    replayed_older = manifest_at(
        store,
        ("910",),
        record("design", {**DESIGN, "design_name": "Older"}, commit=0x20),
        generation=2,
        monkeypatch=monkeypatch,
    )
    load_manifest(warehouse, store, replayed_older)
    assert one(warehouse, "SELECT design_name, cdc_generation FROM dim_design") == ("Newest", 1)


def test_fact_rows_are_copied_in_the_lock_order_with_the_manifest_generation():
    p = table_plan("fact_payment")
    rows = [
        {c: None for c in schema_of("fact_payment").names}
        | {"payment_id": key, "cdc_version": Decimal(version)}
        for key, version in ((7, 3), (2, 9), (7, 1), (2, 4))
    ]
    data = pa.Table.from_pylist(rows, schema=schema_of("fact_payment"))
    copied = fact_copy_rows(p, data, generation=5)
    assert copied.column_names == [*p.columns, "cdc_generation"]
    keys, versions = copied["payment_id"].to_pylist(), copied["cdc_version"].to_pylist()
    assert list(zip(keys, versions, strict=True)) == [
        (2, 4),
        (2, 9),
        (7, 1),
        (7, 3),
    ]
    assert copied["cdc_generation"].to_pylist() == [5, 5, 5, 5]

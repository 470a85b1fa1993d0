"""Reconciliation: each kind of difference found by the pure comparisons, and the command
against real source and warehouse databases. (The end-to-end tests use it as their oracle.)"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import psycopg
import pytest
from click.testing import CliRunner

from cdc import source_schema
from local_stack.services.config import WAREHOUSE
from warehouse_loader import migrations
from warehouse_tools.cli import main
from warehouse_tools.reconcile import compare_dates, compare_dimension, compare_fact, expected_date

CURRENCY = {"currency_id": 1, "currency_code": "GBP", "currency_name": "Pound Sterling"}
LIVE, DELETED, INFERRED = (False, False), (True, False), (False, True)


def test_a_dimension_equal_to_the_source_has_no_difference():
    diff = compare_dimension("dim_currency", {1: CURRENCY}, {1: dict(CURRENCY)}, {1: LIVE})
    assert diff.problems == {}


def test_every_kind_of_dimension_drift_is_reported_with_its_key():
    usd = {"currency_id": 2, "currency_code": "USD", "currency_name": "US Dollar"}
    eur = {"currency_id": 3, "currency_code": "EUR", "currency_name": "Euro"}
    expected = {1: CURRENCY, 2: usd, 3: eur, 4: {**eur, "currency_id": 4}}
    stored = {
        1: {**CURRENCY, "currency_name": "Pound"},  # different
        2: usd,  # flagged deleted, but the source still has it
        3: eur,  # still an inferred placeholder
        5: usd,  # gone from the source, not flagged deleted
        6: usd,  # gone from the source and flagged deleted: fine
    }
    flags = {1: LIVE, 2: DELETED, 3: INFERRED, 5: LIVE, 6: DELETED}
    diff = compare_dimension("dim_currency", expected, stored, flags)
    assert diff.problems == {
        "different": [1],
        "deleted_but_in_source": [2],
        "still_inferred": [3],
        "missing": [4],
        "not_deleted_but_gone_from_source": [5],
    }
    assert diff.count == 5


def test_facts_are_checked_on_their_latest_version_and_for_duplicated_versions():
    paid = {"payment_id": 1, "paid": True, "payment_amount": Decimal("10.00")}
    expected = {1: paid, 2: {**paid, "payment_id": 2}, 3: {**paid, "payment_id": 3}}
    latest = {
        1: paid,
        2: {**paid, "payment_id": 2, "paid": False},  # the last update never arrived
        4: {**paid, "payment_id": 4},  # deleted at the source, no delete version
        5: {**paid, "payment_id": 5},  # deleted at the source, delete version stored: fine
    }
    deleted = {1: False, 2: False, 4: False, 5: True}
    diff = compare_fact("fact_payment", expected, latest, deleted, [(1, 7)], versions=9)
    assert diff.problems == {
        "latest_version_different": [2],
        "missing": [3],
        "no_delete_version_but_gone_from_source": [4],
        "duplicated_version": [(1, 7)],
    }


def test_every_referenced_date_needs_a_correct_dim_date_row():
    monday, tuesday, wednesday = date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)
    stored = {
        monday: expected_date(monday),
        tuesday: {**expected_date(tuesday), "day_name": "Monday"},
    }
    diff = compare_dates({monday, tuesday, wednesday}, stored)
    assert diff.problems == {"different": [tuesday], "missing": [wednesday]}


@pytest.mark.stack
def test_the_command_reads_both_databases_and_exits_non_zero_on_drift(fresh_database, monkeypatch):
    source, warehouse = fresh_database("totesys"), fresh_database("warehouse", cluster=WAREHOUSE)
    with psycopg.connect(source) as conn:
        source_schema.create(conn)
    with psycopg.connect(warehouse) as conn:
        migrations.apply(conn)
    monkeypatch.setenv("TOTESYS_CDC_WAREHOUSE_DSN", warehouse)
    monkeypatch.delenv("TOTESYS_CDC_WAREHOUSE_SECRET_ARN", raising=False)
    clean = CliRunner().invoke(main, ["reconcile", "--source-dsn", source, "--json"])
    assert clean.exit_code == 0, clean.output
    assert json.loads(clean.output)["differences"] == 0

    with psycopg.connect(source) as conn:
        conn.execute(
            "INSERT INTO currency (currency_id, currency_code, created_at, last_updated) "
            "VALUES (1, 'GBP', now(), now())"
        )
    with psycopg.connect(warehouse) as conn:  # a payment version stored twice is drift too
        conn.execute(
            "ALTER TABLE fact_payment DROP CONSTRAINT fact_payment_payment_id_cdc_version_key"
        )
        for _ in range(2):
            conn.execute(
                "INSERT INTO fact_payment (payment_id, cdc_version, cdc_operation, cdc_is_deleted) "
                "VALUES (9, 5, 'delete', true)"
            )
    drift = CliRunner().invoke(main, ["reconcile", "--source-dsn", source, "--json"])
    assert drift.exit_code == 1
    report = json.loads(drift.output)
    assert report["tables"]["dim_currency"]["differences"] == {
        "missing": {"count": 1, "sample_keys": ["1"]}
    }
    assert report["tables"]["fact_payment"]["differences"] == {
        "duplicated_version": {"count": 1, "sample_keys": ["(9, 5)"]}
    }
    assert report["differences"] == 2
    table = CliRunner().invoke(main, ["reconcile", "--source-dsn", source])
    assert table.exit_code == 1 and "2 differences" in table.output

    unreachable = CliRunner().invoke(main, ["reconcile", "--source-dsn", "not a dsn"])
    assert unreachable.exit_code == 2 and "error: cannot connect" in unreachable.output


def test_its_calendar_and_currency_names_are_its_own_and_follow_iso():
    from warehouse_tools.reconcile import iso4217_name

    assert expected_date(date(2026, 3, 2)) == {
        "date_id": date(2026, 3, 2),
        "year": 2026,
        "month": 3,
        "day": 2,
        "day_of_week": 1,
        "day_name": "Monday",
        "month_name": "March",
        "quarter": 1,
    }
    assert (
        expected_date(date(2026, 11, 29))["day_of_week"],
        expected_date(date(2026, 11, 29))["quarter"],
    ) == (7, 4)
    assert [iso4217_name(c) for c in ("GBP", "USD", "EUR", None)] == [
        "Pound Sterling",
        "US Dollar",
        "Euro",
        None,
    ]

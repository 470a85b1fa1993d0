"""The initial dataset written into a real ToteSys schema on the local PostgreSQL."""

from __future__ import annotations

import psycopg

from cdc.simulator import dataset, writer
from tests.cdc.fixtures import check_invariants, row_counts


def test_the_initial_dataset_loads_under_every_constraint_and_new_rows_get_fresh_keys(totesys_dsn):
    data = dataset.generate(7, dataset.SMALL)
    with psycopg.connect(totesys_dsn) as conn:
        written = writer.load_dataset(conn, data)
    assert written == data.row_counts()
    assert row_counts(totesys_dsn) == data.row_counts()
    with psycopg.connect(totesys_dsn) as conn:
        check_invariants(conn)
        new_id = conn.execute(
            "INSERT INTO address (address_line_1, city, postal_code, country, phone, last_updated) "
            "VALUES ('1 New St', 'Leeds', 'LS1', 'United Kingdom', '0113 000000', now()) RETURNING address_id"
        ).fetchone()[0]
        assert new_id == len(data.tables["address"]) + 1

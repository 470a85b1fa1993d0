"""``cdc simulate seed`` on a real ToteSys schema on the local PostgreSQL, and its refusals."""

from __future__ import annotations

import psycopg
import pytest

from cdc import source_schema
from cdc.simulator import dataset
from tests.cdc.fixtures import check_invariants, foreign_keys, row_counts


def test_seed_scale_copies_n_times_the_orders_and_keeps_every_foreign_key(totesys_dsn):
    from click.testing import CliRunner

    from cdc.cli import main

    with psycopg.connect(totesys_dsn) as conn:
        keys_before = foreign_keys(conn)
    assert len(keys_before) == source_schema.ddl().count("REFERENCES")
    done = CliRunner().invoke(
        main,
        ["simulate", "seed", "--scale", "3"],
        env={"TOTESYS_CDC_SOURCE_DSN": totesys_dsn},
    )
    assert done.exit_code == 0, done.output
    assert "rows/s" in done.output
    expected = dataset.generate(42, dataset.DatasetSize.scaled(3)).row_counts()
    assert row_counts(totesys_dsn) == expected
    assert expected["payment"] == 3 * dataset.generate(42).row_counts()["payment"]
    with psycopg.connect(totesys_dsn) as conn:
        assert foreign_keys(conn) == keys_before
        check_invariants(conn)
        # The constraints are enforced again, not merely declared.
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute("UPDATE payment SET currency_id = 999 WHERE payment_id = 1")


def test_seed_rejects_small_with_scale():
    from click.testing import CliRunner

    from cdc.cli import main

    done = CliRunner().invoke(main, ["simulate", "seed", "--small", "--scale", "2"])
    assert done.exit_code == 2
    assert "--small and --scale" in done.output

"""A source column carried into the warehouse under live traffic, by the procedure of
docs/contracts.md (Adding a column), on the whole pipeline as processes: ToteSys gains
``design.file_size`` (a real ALTER TABLE, values set on some rows, which the running
processor does not know yet); the generated migration is applied; the loader, then the
processor, restart with the extended contract (``tests.e2e.evolved_design_app``: wrapped, no
hook in production code), nothing drained; ``warehouse-loader backfill`` fills the rows
already loaded. Every dim_design row ends with the source's value, reconcile (with the
column, history included) finds nothing, and no fact version is lost or doubled."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter

import psycopg
import pytest

from local_stack.harness.observe import fact_versions_written
from local_stack.harness.pipeline import Names, Pipeline

pytestmark = [pytest.mark.stack, pytest.mark.kcl, pytest.mark.timeout(600)]
# The release, run as processes; never imported here: it extends the contract at import.
APP = "tests.e2e.evolved_design_app"
COLUMN, MIGRATIONS_DIR = "file_size", "EVOLVED_MIGRATIONS_DIR"  # as evolved_design_app's


def loader_command(pipeline: Pipeline, *args: str) -> subprocess.CompletedProcess[str]:
    """``warehouse-loader ARGS`` of the new release (the extended contract), as an operator
    runs it against this pipeline."""
    return subprocess.run(
        [sys.executable, "-m", APP, "warehouse-loader", *args],
        env=pipeline.env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def lsn(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        high, low = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0].split("/")
    return (int(high, 16) << 32) | int(low, 16)


def wait_until(what: str, done, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def test_a_new_design_column_is_carried_into_the_warehouse_under_live_traffic(stack_cfg, tmp_path):
    pipeline = Pipeline(stack_cfg, Names.unique("e2e-evolve"))
    pipeline.env[MIGRATIONS_DIR] = str(tmp_path)
    loaded = pipeline.create(seed=19)
    stop = threading.Event()
    stats: list = []
    try:
        pipeline.start()
        pipeline.quiesce()
        traffic = threading.Thread(
            target=lambda: stats.append(
                pipeline.traffic(rate=60, duration_s=None, seed=19, stop=stop)
            )
        )
        traffic.start()

        # ToteSys changes under traffic; the running processor knows nothing of the column.
        before = lsn(pipeline.source_dsn)
        with psycopg.connect(pipeline.source_owner_dsn) as source:  # DDL: the owner's
            source.execute("ALTER TABLE design ADD COLUMN file_size integer")
            valued = [
                k
                for (k,) in source.execute(
                    "UPDATE design SET file_size = design_id * 10 WHERE design_id % 3 = 0 "
                    "RETURNING design_id"
                )
            ]
        assert valued

        def old_processor_wrote_them() -> bool:  # without the column: it does not know it
            with psycopg.connect(pipeline.warehouse_dsn) as conn:
                return conn.execute(
                    "SELECT count(*) FROM dim_design WHERE design_id = ANY(%s) "
                    "AND cdc_version > %s",
                    (valued, before << 32),
                ).fetchone()[0] == len(valued)

        wait_until("the running processor to load the updated designs", old_processor_wrote_them)

        # Step 2: the generated migration, applied while the old loader runs.
        made = loader_command(
            pipeline, "migrations", "new", "design_file_size", "--dir", str(tmp_path)
        )
        assert made.returncode == 0 and "wrote" in made.stdout, made.stderr
        migration = next(tmp_path.glob("*_design_file_size.sql")).read_text()
        for table in ("dim_design", "dim_design_history", "cdc_dim_design_versions"):
            assert f'ALTER TABLE "{table}" ADD COLUMN "{COLUMN}" integer' in migration
        migrated = loader_command(pipeline, "migrate")
        assert migrated.returncode == 0, migrated.stderr
        again = loader_command(
            pipeline, "migrations", "new", "nothing_left", "--dir", str(tmp_path)
        )
        assert "nothing written" in again.stdout, again.stdout

        # The roll-out, nothing drained: the loader first (it takes the old processor's
        # batches, the column NULL), then the processor; traffic goes on throughout.
        pipeline.stop_process("loader")
        pipeline.start_process("loader", command=["-m", APP, "warehouse-loader", "run-local"])
        pipeline.stop_process("processor")
        pipeline.start_process("processor", record_processor=APP)

        # Step 4: the backfill, while the pipeline runs.
        filled = loader_command(pipeline, "backfill", "--table", "design", "--column", COLUMN)
        assert filled.returncode in (0, 1), filled.stderr  # 1: rows in flight, said so
        assert "dim_design.file_size" in filled.stdout, filled.stdout
        wrote = int(filled.stdout.split("; wrote ")[1].split()[0])
        assert 0 < wrote <= len(valued), filled.stdout  # what the old processor wrote NULL

        stop.set()
        traffic.join(timeout=240)
        assert not traffic.is_alive()
        pipeline.quiesce()

        with (
            psycopg.connect(pipeline.source_dsn) as source,
            psycopg.connect(pipeline.warehouse_dsn) as warehouse,
        ):
            expected = dict(source.execute("SELECT design_id, file_size FROM design"))
            stored = dict(
                warehouse.execute(
                    "SELECT design_id, file_size FROM dim_design WHERE NOT cdc_is_deleted"
                )
            )
            history = warehouse.execute(
                "SELECT count(*) FROM dim_design_history WHERE file_size IS NOT NULL"
            ).fetchone()[0]
            as_of = [
                c.name
                for c in warehouse.execute(
                    "SELECT * FROM fact_sales_order_as_of LIMIT 0"
                ).description
            ]
        assert stored == expected  # every row, the source's value
        assert sum(v is not None for v in expected.values()) >= len(valued)
        assert history >= len(valued)  # the backfill's history rows, and those after them
        assert "design_file_size" in as_of  # the as-of view, made again

        checked = loader_command(pipeline, "reconcile", "--json")
        report = json.loads(checked.stdout)
        assert checked.returncode == 0 and report["differences"] == 0, report
        assert "dim_design_history" in report["tables"]

        counts = pipeline.observe.counts()
        written = fact_versions_written(
            stats[0].changes + Counter({(t, "load"): n for t, n in loaded.items()})
        )
        for fact, n in written.items():
            assert counts[fact] == n, (fact, counts[fact], n)  # none lost, none twice
    finally:
        stop.set()
        pipeline.stop()
        pipeline.destroy()

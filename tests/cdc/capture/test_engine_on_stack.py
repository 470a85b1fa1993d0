"""The local capture engine as a real process: ToteSys on the local PostgreSQL → moto's Kinesis.

The oracle for "every committed change reached the stream" is a second, independent
replication slot (test_decoding) created before the engine starts: after the run it lists
every change PostgreSQL committed, and each must be on the stream.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql

from cdc import source_schema
from cdc.simulator import dataset, traffic, writer
from contracts.change_records import parse_lsn, version_of
from tests.fixtures import read_stream

pytestmark = pytest.mark.stack

ORACLE_LINE = re.compile(r'^table public\."?(\w+)"?: (INSERT|UPDATE|DELETE): \w+\[integer\]:(\d+)')


def oracle_changes(capture) -> set[tuple[str, str, int, int]]:
    """(table, operation, key, change LSN) of every change committed since the oracle slot."""
    with psycopg.connect(capture.dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT lsn::text, data FROM pg_logical_slot_peek_changes(%s, NULL, NULL)",
            (capture.oracle,),
        )
        changes = set()
        for lsn, data in rows:
            match = ORACLE_LINE.match(data)
            if match:
                changes.add((match[1], match[2].lower(), int(match[3]), parse_lsn(lsn)))
    return changes


def streamed_changes(records: list[dict]) -> set[tuple[str, str, int, int]]:
    found = set()
    for r in records:
        m = r["metadata"]
        if m["record-type"] == "data" and m["operation"] != "load":
            change_lsn = parse_lsn(m["stream-position"].split(".")[2])
            found.add(
                (m["table-name"], m["operation"], r["data"][f"{m['table-name']}_id"], change_lsn)
            )
    return found


def expected_json(value: object) -> object:
    """How Contract A writes a value read from PostgreSQL (see cdc.capture.records)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S") + (
            f".{value.microsecond:06d}Z" if value.microsecond else "Z"
        )
    return value


def source_rows(dsn: str) -> dict[tuple[str, int], dict]:
    rows = {}
    with psycopg.connect(dsn) as conn:
        for table in source_schema.TABLES:
            cur = conn.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(table)))
            names = [d.name for d in cur.description]
            for row in cur:
                values = dict(zip(names, row, strict=True))
                rows[(table, values[f"{table}_id"])] = {
                    k: expected_json(v) for k, v in values.items()
                }
    return rows


def latest_images(records: list[dict]) -> dict[tuple[str, int], dict | None]:
    """The newest image of every row by version (None once deleted)."""
    best: dict[tuple[str, int], tuple[int, dict | None]] = {}
    for r in records:
        m = r["metadata"]
        if m["record-type"] != "data":
            continue
        key = (m["table-name"], r["data"][f"{m['table-name']}_id"])
        version = version_of(m)
        if key not in best or version >= best[key][0]:
            best[key] = (version, None if m["operation"] == "delete" else r["data"])
    return {k: v for k, (_, v) in best.items()}


def test_the_initial_dataset_arrives_as_load_records_with_every_value_encoded_as_dms_does(capture):
    capture.engine.start()
    capture.engine.wait_running()
    records = read_stream(capture.kinesis, capture.stream)

    loads = [r for r in records if r["metadata"]["operation"] == "load"]
    counts = {t: sum(r["metadata"]["table-name"] == t for r in loads) for t in source_schema.TABLES}
    with psycopg.connect(capture.dsn) as conn:
        assert counts == source_schema.row_counts(conn)
    expected = source_rows(capture.dsn)
    for r in loads:
        m = r["metadata"]
        key = (m["table-name"], r["data"][f"{m['table-name']}_id"])
        assert r["data"] == expected[key], key
        assert m["partition-key-value"] == r["_kinesis"]["key"] == f"public.{key[0]}.{key[1]}"
        assert "stream-position" not in m and m["partition-key-type"] == "primary-key"
        assert r["_kinesis"]["raw"].endswith(b"\n") and b"\n" not in r["_kinesis"]["raw"][:-1]
    creates = {
        r["metadata"]["table-name"] for r in records if r["metadata"]["operation"] == "create-table"
    }
    assert creates == set(source_schema.TABLES)
    payment_def = next(
        r
        for r in records
        if r["metadata"]["operation"] == "create-table" and r["metadata"]["table-name"] == "payment"
    )["control"]["table-def"]
    assert payment_def["primary-key"] == ["payment_id"]
    assert payment_def["columns"]["paid"] == {"nullable": False, "type": "BOOLEAN"}
    # Types as DMS writes them, spot-checked on one row of each kind of value.
    payment = next(r["data"] for r in loads if r["metadata"]["table-name"] == "payment")
    assert isinstance(payment["payment_id"], int) and isinstance(payment["paid"], bool)
    assert re.fullmatch(r"\d+\.\d{2}", payment["payment_amount"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z", payment["created_at"])
    assert any(
        r["data"]["address_line_2"] is None
        for r in loads
        if r["metadata"]["table-name"] == "address"
    )


def test_live_traffic_arrives_as_inserts_updates_and_deletes_equal_to_the_source_rows(capture):
    capture.engine.start()
    capture.engine.wait_running()
    stats = traffic.run(capture.dsn, rate=300, duration_s=3, seed=11, allow_deletes=True)
    capture.engine.wait_caught_up(capture.dsn)
    records = read_stream(capture.kinesis, capture.stream)

    assert {"insert", "update", "delete"} <= {r["metadata"]["operation"] for r in records}
    assert streamed_changes(records) == oracle_changes(capture)
    assert len(streamed_changes(records)) == stats.total_changes
    final = latest_images(records)
    current = source_rows(capture.dsn)
    assert {k: v for k, v in final.items() if v is not None} == current
    for r in records:
        m = r["metadata"]
        if m["record-type"] == "data" and m["operation"] != "load":
            assert isinstance(m["transaction-id"], int) and m["transaction-record-id"] >= 1
            assert m["commit-timestamp"].endswith("Z")
        if m["operation"] == "delete":
            key_column = f"{m['table-name']}_id"
            assert all(v is None for k, v in r["data"].items() if k != key_column)


def test_changes_stream_over_a_walsender_and_an_idle_source_pins_no_wal(capture):
    """The engine reads its slot over the streaming replication protocol (a walsender holds
    the slot), and with no traffic the server's own record of the slot (confirmed_flush_lsn)
    follows the source's WAL, other databases' writes included."""
    capture.engine.start()
    capture.engine.wait_running()
    slot = capture.engine.env["TOTESYS_CDC_CAPTURE_SLOT"]
    with psycopg.connect(capture.dsn, autocommit=True) as conn:
        [backend] = conn.execute(
            "SELECT a.backend_type FROM pg_replication_slots s "
            "JOIN pg_stat_activity a ON a.pid = s.active_pid WHERE s.slot_name = %s",
            (slot,),
        ).fetchone()
        assert backend == "walsender"
        conn.execute("SELECT pg_logical_emit_message(false, 'elsewhere', 'x')")  # WAL, no change
        target = parse_lsn(conn.execute("SELECT pg_current_wal_flush_lsn()::text").fetchone()[0])
        deadline = time.monotonic() + 30
        while True:
            confirmed = parse_lsn(
                conn.execute(
                    "SELECT confirmed_flush_lsn::text FROM pg_replication_slots "
                    "WHERE slot_name = %s",
                    (slot,),
                ).fetchone()[0]
            )
            if confirmed >= target or time.monotonic() > deadline:
                break
            time.sleep(0.2)  # polling the server's view of the slot
    assert confirmed >= target


def test_an_engine_killed_mid_traffic_and_restarted_loses_no_committed_change(capture):
    capture.engine.start()
    capture.engine.wait_running()
    stop = threading.Event()
    runner = threading.Thread(
        target=traffic.run,
        args=(capture.dsn,),
        kwargs={"rate": 300, "duration_s": None, "seed": 12, "stop": stop},
    )
    runner.start()
    try:
        time.sleep(1.5)  # let traffic flow before the crash (a test scenario, not readiness)
        capture.engine.kill()
        time.sleep(1.0)  # changes committed while the engine is down
        capture.engine.start()
        capture.engine.wait_running()
        time.sleep(1.0)
    finally:
        stop.set()
        runner.join()
    capture.engine.wait_caught_up(capture.dsn)
    records = read_stream(capture.kinesis, capture.stream)
    missing = oracle_changes(capture) - streamed_changes(records)
    assert not missing, (
        f"{len(missing)} committed changes never reached the stream, e.g. {sorted(missing)[:3]}"
    )
    # The restart does not redo the full load.
    loads = sum(r["metadata"]["operation"] == "load" for r in records)
    with psycopg.connect(capture.dsn) as conn:
        assert loads <= sum(source_schema.row_counts(conn).values()) + 200


def test_changes_committed_during_the_full_load_all_reach_the_stream(capture):
    with psycopg.connect(capture.dsn) as conn:  # a bigger source, so the full load takes a while
        tables = sql.SQL(", ").join(sql.Identifier(t) for t in source_schema.TABLES)
        conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY").format(tables))
        writer.load_dataset(
            conn, dataset.generate(6, dataset.DatasetSize(sales_orders=6000, purchase_orders=4000))
        )
    with psycopg.connect(
        capture.dsn, autocommit=True
    ) as conn:  # the oracle starts after the bulk copy
        conn.execute("SELECT pg_drop_replication_slot(%s)", (capture.oracle,))
        conn.execute(
            "SELECT pg_create_logical_replication_slot(%s, 'test_decoding')", (capture.oracle,)
        )
    stop = threading.Event()
    runner = threading.Thread(
        target=traffic.run,
        args=(capture.dsn,),
        kwargs={"rate": 400, "duration_s": None, "seed": 13, "stop": stop},
    )
    runner.start()
    try:
        capture.engine.start()
        capture.engine.wait_running()
        time.sleep(0.5)
    finally:
        stop.set()
        runner.join()
    capture.engine.wait_caught_up(capture.dsn)
    status = capture.engine.status()
    load_started = datetime.fromisoformat(status.full_load_started_at)
    load_finished = datetime.fromisoformat(status.full_load_finished_at)
    records = read_stream(capture.kinesis, capture.stream)
    during_load = [
        r
        for r in records
        if r["metadata"]["operation"] != "load"
        and "commit-timestamp" in r["metadata"]
        and load_started
        <= datetime.fromisoformat(r["metadata"]["commit-timestamp"])
        <= load_finished
    ]
    assert during_load, "the scenario needs changes committed while the full load ran"
    # Changes committed before the engine's slot existed are in the full load's snapshot;
    # every one after it must be on the stream as a CDC record.
    created = next(
        json.loads(line)
        for line in capture.engine.log.read_text().splitlines()
        if '"slot_created"' in line
    )
    consistent_point = parse_lsn(created["consistent_point"])
    after_slot = {c for c in oracle_changes(capture) if c[3] >= consistent_point}
    assert after_slot and after_slot <= streamed_changes(records)
    final = latest_images(records)
    assert {k: v for k, v in final.items() if v is not None} == source_rows(capture.dsn)


def test_adding_a_column_gives_a_control_record_then_data_with_the_new_column(capture):
    capture.engine.start()
    capture.engine.wait_running()
    with psycopg.connect(capture.dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE design ADD COLUMN licence text")
        conn.execute(
            "UPDATE design SET licence = 'CC-BY', last_updated = now() WHERE design_id = 3"
        )
    capture.engine.wait_caught_up(capture.dsn)
    records = [
        r
        for r in read_stream(capture.kinesis, capture.stream)
        if r["metadata"]["table-name"] == "design"
    ]
    alter = next(i for i, r in enumerate(records) if r["metadata"]["operation"] == "add-column")
    assert records[alter]["metadata"]["record-type"] == "control"
    assert records[alter]["control"]["table-def"]["columns"]["licence"] == {
        "nullable": True,
        "type": "STRING",
    }
    update = next(r for r in records if r["metadata"]["operation"] == "update")
    assert update["data"]["licence"] == "CC-BY"
    assert (
        records.index(update) > alter
        or update["_kinesis"]["shard"] != records[alter]["_kinesis"]["shard"]
    )


# Each ALTER TABLE, a change of its table right after it (so decoding sends the new Relation
# at once), and the control record DMS writes for it. The traffic writes none of these
# columns, so it runs on throughout.
ALTERS = (
    (
        "ALTER TABLE design ADD COLUMN licence text",
        "UPDATE design SET licence = 'CC-BY', last_updated = now() "
        "WHERE design_id = (SELECT min(design_id) FROM design)",
        "add-column",
    ),
    (
        "ALTER TABLE department DROP COLUMN manager",  # nullable in Contract A
        "UPDATE department SET last_updated = now() "
        "WHERE department_id = (SELECT min(department_id) FROM department)",
        "drop-column",
    ),
    (
        "ALTER TABLE sales_order ALTER COLUMN units_sold TYPE bigint",
        "UPDATE sales_order SET units_sold = units_sold + 1 "
        "WHERE sales_order_id = (SELECT min(sales_order_id) FROM sales_order)",
        "column-type-change",
    ),
    (
        "ALTER TABLE address RENAME COLUMN city TO town",  # NOT NULL in Contract A
        "UPDATE address SET town = town || '', last_updated = now() "
        "WHERE address_id = (SELECT min(address_id) FROM address)",
        "rename-column",
    ),
)


def test_alter_tables_under_traffic_give_dms_control_records_and_the_monitor_sees_the_drift(
    capture,
):
    capture.engine.start()
    capture.engine.wait_running()
    stop = threading.Event()
    runner = threading.Thread(
        target=traffic.run,
        args=(capture.dsn,),
        kwargs={"rate": 200, "duration_s": None, "seed": 13, "stop": stop},
    )
    runner.start()
    try:
        with psycopg.connect(capture.dsn, autocommit=True) as conn:
            for ddl, change, _ in ALTERS:
                conn.execute(ddl)
                conn.execute(change)
                time.sleep(0.3)  # traffic between the changes (a scenario, not readiness)
    finally:
        stop.set()
        runner.join()
    capture.engine.wait_caught_up(capture.dsn)
    records = read_stream(capture.kinesis, capture.stream)
    task_id = capture.engine.env["TOTESYS_CDC_CAPTURE_TASK_ID"]

    # nothing committed around the DDL is lost
    assert streamed_changes(records) == oracle_changes(capture)
    alters = [
        r
        for r in records
        if r["metadata"]["record-type"] == "control"
        and r["metadata"]["operation"] != "create-table"
    ]
    # one control record per change, however many Relation messages decoding sent
    assert sorted((r["metadata"]["table-name"], r["metadata"]["operation"]) for r in alters) == (
        sorted((ddl.split()[2], operation) for ddl, _, operation in ALTERS)
    )
    by_table = {r["metadata"]["table-name"]: r for r in alters}
    for table, r in by_table.items():
        # DMS's control shape: the table after the change, partitioned by task and table
        assert set(r) == {"control", "metadata", "_kinesis"}
        assert set(r["control"]["table-def"]) == {"columns", "primary-key"}
        assert r["control"]["table-def"]["primary-key"] == [f"{table}_id"]
        assert r["metadata"]["partition-key-type"] == "task-id"
        assert r["metadata"]["partition-key-value"] == task_id
        assert r["_kinesis"]["key"] == f"{task_id}.public.{table}"
        assert r["metadata"]["schema-name"] == "public"
    columns = {t: r["control"]["table-def"]["columns"] for t, r in by_table.items()}
    assert columns["design"]["licence"] == {"nullable": True, "type": "STRING"}
    assert "manager" not in columns["department"] and "location" in columns["department"]
    assert columns["sales_order"]["units_sold"] == {"nullable": False, "type": "INT64"}
    assert "city" not in columns["address"]
    assert columns["address"]["town"] == {"nullable": False, "type": "STRING"}
    # the data records after each change have the table's new columns
    last = {}
    for r in sorted(
        (r for r in records if r["metadata"]["record-type"] == "data"),
        key=lambda r: version_of(r["metadata"]),
    ):
        last[r["metadata"]["table-name"]] = r
    assert "licence" in last["design"]["data"] and "manager" not in last["department"]["data"]
    assert "town" in last["address"]["data"] and "city" not in last["address"]["data"]

    result = subprocess.run(
        [sys.executable, "-m", "cdc.cli", "monitor", "--check", "--json"],
        env=capture.engine.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    report = json.loads(result.stdout)
    drift = {(d["table"], d["kind"], d["column"]): d["breaking"] for d in report["source_drift"]}
    assert drift == {
        ("address", "column_added", "town"): False,
        ("address", "column_gone", "city"): True,
        ("department", "column_gone", "manager"): False,
        ("design", "column_added", "licence"): False,
        ("sales_order", "column_type_changed", "units_sold"): False,
    }
    # a NOT NULL column gone breaks Contract A: --check fails, and says why
    assert result.returncode == 1
    assert report["problems"] == [
        "source schema drift: address.city column gone (NOT NULL in Contract A: the table's "
        "insert, update and load records are refused)"
    ]


def test_a_large_transaction_streams_through_whole(capture):
    capture.engine.start()
    capture.engine.wait_running()
    with psycopg.connect(capture.dsn) as conn:
        conn.execute("UPDATE payment SET last_updated = now()")  # a transaction before, of 200 rows
        conn.commit()
        conn.execute(
            "INSERT INTO design (design_name, file_location, file_name, last_updated) "
            "SELECT 'Bulk', '/bulk', 'bulk-' || g || '.json', now() FROM generate_series(1, 30000) g"
        )
    capture.engine.wait_caught_up(capture.dsn, timeout_s=180)
    records = read_stream(capture.kinesis, capture.stream)
    bulk = [
        r
        for r in records
        if r["metadata"]["operation"] == "insert" and r["data"].get("design_name") == "Bulk"
    ]
    assert len(bulk) == 30000
    assert len({r["metadata"]["transaction-id"] for r in bulk}) == 1
    assert sorted(r["metadata"]["transaction-record-id"] for r in bulk) == list(range(1, 30001))


def test_sigterm_stops_the_engine_cleanly_and_says_so(capture):
    capture.engine.start()
    capture.engine.wait_running()
    assert capture.engine.stop() == 0
    status = capture.engine.status()
    assert status.status == "stopped" and status.stop_reason == "stopped on request"


def run_capture_once(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cdc.cli", "capture"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_missing_stream_is_one_clear_error_not_a_stack_trace(capture):
    capture.engine.env["TOTESYS_CDC_STREAM_NAME"] = "no-such-stream"
    result = run_capture_once(capture.engine.env)
    assert result.returncode == 1
    assert "Kinesis stream 'no-such-stream' does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_source_is_one_clear_error(capture):
    capture.engine.env["TOTESYS_CDC_SOURCE_DSN"] = (
        "host=127.0.0.1 port=1 user=nobody dbname=nothing connect_timeout=2"
    )
    result = run_capture_once(capture.engine.env)
    assert result.returncode == 1
    assert "cannot connect to the source database" in result.stderr
    assert "Traceback" not in result.stderr

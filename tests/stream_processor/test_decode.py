"""Decoding Contract A records; every malformed record rejected with a precise reason."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdc.simulator import dataset
from contracts.change_records import BOOL, DATE_TEXT, INT, NUMERIC, SOURCE_TABLES, TEXT, TIMESTAMP
from contracts.star_schema import spec
from stream_processor import decode as decode_module
from stream_processor.batch import to_arrow
from stream_processor.decode import Change, Control, DecodeError, decode, parse_timestamp
from stream_processor.join_state.memory import MemoryJoinState
from stream_processor.transform import OutRow, transform
from tests.stream_processor.fixtures import ADDRESS, COUNTERPARTY, DEPT, SALE, STAFF, record

DATA = dataset.generate(1, dataset.SMALL)
PAYMENT = DATA.tables["payment"][0]
CURRENCY = DATA.tables["currency"][0]


def test_a_payment_update_decodes_to_typed_values_and_a_version():
    change = decode(record("payment", PAYMENT, "update", commit=0x2_0000_0010, record_id=3))
    assert isinstance(change, Change)
    assert (change.table, change.operation, change.key) == (
        "payment",
        "update",
        PAYMENT["payment_id"],
    )
    assert change.version == (0x2_0000_0010 << 32) | 3
    assert change.image["payment_amount"] == PAYMENT["payment_amount"] and isinstance(
        change.image["payment_amount"], Decimal
    )
    assert change.image["paid"] is PAYMENT["paid"]
    assert change.image["created_at"] == PAYMENT["created_at"]
    assert change.image["payment_date"] == date.fromisoformat(PAYMENT["payment_date"])
    assert change.transaction_id == 7


def test_load_records_are_version_zero_and_deletes_carry_the_key():
    assert decode(record("payment", PAYMENT, "load")).version == 0
    deleted = decode(record("payment", PAYMENT, "delete"))
    assert deleted.operation == "delete" and deleted.key == PAYMENT["payment_id"]
    assert deleted.image["paid"] is None


def test_control_records_are_understood_not_crashed_on():
    raw = json.dumps(
        {
            "control": {"table-def": {"columns": {"design_id": {}, "licence": {}}}},
            "metadata": {
                "record-type": "control",
                "operation": "add-column",
                "table-name": "design",
            },
        }
    )
    control = decode(raw.encode())
    assert isinstance(control, Control)
    assert (control.table, control.operation, control.columns) == (
        "design",
        "add-column",
        ("design_id", "licence"),
    )
    # its table-def is the whole table: licence added, the others gone (contracts.schema_drift)
    assert ("column_added", "licence") in {(d.kind, d.column) for d in control.drift}


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2026-05-05T02:29:18.266000Z", datetime(2026, 5, 5, 2, 29, 18, 266000)),
        ("2026-05-05T02:29:18Z", datetime(2026, 5, 5, 2, 29, 18)),
        ("2026-05-05 02:29:18.266", datetime(2026, 5, 5, 2, 29, 18, 266000)),
        ("2026-05-05T03:29:18.5+01:00", datetime(2026, 5, 5, 2, 29, 18, 500000)),
    ],
)
def test_timestamps_are_parsed_leniently_to_utc_milliseconds(value, expected):
    assert parse_timestamp(value) == expected


def _mutate(**meta_or_data) -> bytes:
    body = json.loads(record("payment", PAYMENT, "update"))
    for key, value in meta_or_data.items():
        section, _, field = key.partition("__")
        if value is ...:
            del body[section][field]
        else:
            body[section][field] = value
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"\xff\xfe garbage", "not JSON"),
        (b"[1, 2]", "no 'metadata'"),
        (b'{"data": {}}', "no 'metadata'"),
        (_mutate(**{"metadata__table-name": None}), "unknown table public.None"),
        (_mutate(**{"metadata__table-name": "secret_table"}), "unknown table public.secret_table"),
        (_mutate(metadata__operation="merge"), "unknown operation 'merge'"),
        (_mutate(data__payment_id=...), "without its primary key payment_id"),
        (_mutate(data__paid="maybe"), "payment.paid = 'maybe': expected a boolean"),
        (_mutate(data__payment_amount="lots"), "payment.payment_amount = 'lots'"),
        (_mutate(data__currency_id="GBP"), "payment.currency_id = 'GBP': expected an integer"),
        (_mutate(data__currency_id=2**31), "currency_id = 2147483648: out of range for a 32-bit"),
        (_mutate(data__currency_id="-2147483649"), "currency_id = '-2147483649': out of range"),
        (_mutate(data__payment_amount="100000000"), "does not fit numeric(10, 2)"),
        (_mutate(data__payment_amount=1.005), "payment_amount = 1.005: does not fit numeric"),
        (_mutate(data__payment_amount="1e40"), "does not fit numeric(10, 2)"),
        (_mutate(data__created_at="yesterday"), "payment.created_at = 'yesterday'"),
        (_mutate(data__counterparty_id=None), "payment.counterparty_id is null in a update record"),
        (_mutate(**{"metadata__stream-position": ...}), "without transaction details"),
        (_mutate(**{"metadata__record-type": "audit"}), "unknown record-type 'audit'"),
    ],
)
def test_malformed_records_are_rejected_with_a_precise_reason(raw, reason):
    with pytest.raises(DecodeError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        decode(raw)


def _with(table: str, row: dict, operation: str = "update", before=None, **values) -> bytes:
    """``row``'s record with ``values`` in its data (as JSON writes them)."""
    body = json.loads(record(table, row, operation))
    body["data"].update(values)
    if before is not None:
        body["before-image"] = before
    return json.dumps(body).encode()


def _refused(raw: bytes) -> str:
    with pytest.raises(DecodeError) as refused:
        decode(raw)
    return str(refused.value)


def test_text_longer_than_the_warehouse_column_it_feeds_is_refused():
    """dim_currency.currency_code is varchar(3): a longer code would fail the load of its
    batch, so decode refuses it, the limit derived from the spec (contracts.limits)."""
    assert _refused(_with("currency", CURRENCY, currency_code="GBPX")) == (
        "currency.currency_code = 'GBPX': 4 characters, more than the 3 of "
        "dim_currency.currency_code"
    )
    assert _refused(_with("currency", CURRENCY, currency_code=7)) == (
        "currency.currency_code = 7: expected a string"
    )
    for fits in ("GBP", "€€€", "", "X"):
        assert (
            decode(_with("currency", CURRENCY, currency_code=fits)).image["currency_code"] == fits
        )


def _text_columns() -> list[tuple[str, str]]:
    return [(t, c) for t, kinds in SOURCE_TABLES.items() for c, k in kinds.items() if k == TEXT]


@pytest.mark.parametrize("table, column", _text_columns(), ids="{0[0]}.{0[1]}".format)
def test_a_nul_character_in_any_text_value_is_refused_naming_the_column(table, column):
    """PostgreSQL text cannot hold NUL (nor can ToteSys have written one): a bad record."""
    row = DATA.tables[table][0]
    nul = "G\x00P" if (table, column) == ("currency", "currency_code") else "a\x00b"
    assert _refused(_with(table, row, **{column: nul})) == (
        f"{table}.{column} = {nul!r}: a NUL character, which PostgreSQL text cannot hold"
    )
    # ... in a delete too, whose other columns are null
    deleted = _with(table, {primary_key_of(table): 1}, "delete", **{column: nul})
    assert "a NUL character" in _refused(deleted)


def primary_key_of(table: str) -> str:
    return f"{table}_id"


def test_nul_is_found_however_the_record_reaches_decode():
    body = json.loads(record("staff", STAFF))
    body["data"]["first_name"] = "a\x00"
    as_text = json.dumps(body)
    for raw in (as_text, as_text.encode(), bytearray(as_text.encode())):
        with pytest.raises(DecodeError) as refused:
            decode(raw)
        assert str(refused.value).startswith("staff.first_name = 'a\\x00': a NUL character")
    # JSON writes NUL only as the escape \u0000; an escaped backslash before u0000 is text
    body["data"]["first_name"] = "a\\u0000"
    assert decode(json.dumps(body).encode()).image["first_name"] == "a\\u0000"


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59-14:00",
        "9999-12-31T23:59:59.999-00:01",
        "0001-01-01T00:00:00+14:00",
        "0001-01-01 00:00:00.000+00:00:01",
    ],
)
def test_a_timestamp_beyond_the_calendar_once_in_utc_is_refused_not_an_overflow(value):
    """astimezone raises OverflowError, not ValueError: it too is the value's fault."""
    assert _refused(_with("staff", STAFF, last_updated=value)) == (
        f"staff.last_updated = {value!r}: beyond the years 1-9999 once converted to UTC"
    )


@pytest.mark.parametrize(
    "value, expected",
    [
        ("9999-12-31T23:59:59.999+14:00", datetime(9999, 12, 31, 9, 59, 59, 999000)),
        ("0001-01-01T00:00:00-14:00", datetime(1, 1, 1, 14)),
        ("0001-01-01T00:00:00Z", datetime(1, 1, 1)),
        ("9999-12-31 23:59:59.999999", datetime(9999, 12, 31, 23, 59, 59, 999000)),
    ],
)
def test_the_calendars_edges_decode_and_are_written(value, expected):
    change = decode(_with("sales_order", SALE, created_at=value, last_updated=value))
    assert change.image["created_at"] == expected
    for row in transform(change, MemoryJoinState()).rows:
        to_arrow(row.table, [row.values])


@pytest.mark.parametrize(
    "meta, reason",
    [
        ({"transaction-record-id": -1}, "transaction-record-id -1 is not an unsigned 32-bit"),
        ({"transaction-record-id": 2**32}, "transaction-record-id 4294967296 is not an"),
        ({"transaction-record-id": 1e300}, "transaction-record-id 1000.*characters\\)$"),
        ({"transaction-record-id": [1]}, "int\\(\\) argument must be"),
        ({"stream-position": "-1/0.1.0/0"}, "'-1/0' is no LSN"),
        ({"stream-position": "F" * 300 + "/0.1.0/0"}, "characters\\)$"),
        ({"stream-position": "0/G.1.0/0"}, "invalid literal for int"),
    ],
)
def test_a_version_out_of_its_bits_is_refused(meta, reason):
    body = json.loads(record("payment", PAYMENT, "update"))
    body["metadata"].update(meta)
    with pytest.raises(DecodeError, match=f"^payment update: .*{reason}"):
        decode(json.dumps(body).encode())


@pytest.mark.parametrize("version", [-1, 10**38, 10**40])
def test_a_version_cdc_version_cannot_hold_is_refused_whatever_makes_it(monkeypatch, version):
    """version_of keeps versions below 2**96; decode holds them to cdc_version's range too."""
    monkeypatch.setattr(decode_module, "version_of", lambda meta: version)
    assert _refused(record("payment", PAYMENT, "update")) == (
        f"payment update: version {version} is outside 0 .. 10**38 - 1, what cdc_version holds"
    )
    monkeypatch.setattr(decode_module, "version_of", lambda meta: 10**38 - 1)
    assert decode(record("payment", PAYMENT, "update")).version == 10**38 - 1


def test_whatever_a_converter_raises_is_a_decode_error_naming_column_and_value(monkeypatch):
    def broken(value):
        raise ArithmeticError()

    plan = decode_module._PLAN["payment"]
    monkeypatch.setitem(
        decode_module._PLAN,
        "payment",
        tuple(
            (c, None, broken, n) if c == "payment_amount" else (c, t, f, n) for c, t, f, n in plan
        ),
    )
    assert _refused(record("payment", PAYMENT, "update")) == (
        f"payment.payment_amount = {str(PAYMENT['payment_amount'])!r}: ArithmeticError"
    )


def test_a_before_image_key_beyond_32_bits_is_refused_with_its_value():
    assert _refused(_with("staff", STAFF, before={"staff_id": "9" * 20})) == (
        "staff.staff_id in the before-image = '99999999999999999999': out of range for a "
        "32-bit integer"
    )


def test_a_long_value_is_clipped_in_the_reason():
    reason = _refused(_with("staff", STAFF, first_name="x" * 5000 + "\x00"))
    assert reason.startswith("staff.first_name = 'xxx") and len(reason) < 300
    assert reason.endswith(
        "x'... (5001 characters): a NUL character, which PostgreSQL text cannot hold"
    )


def test_text_that_is_not_unicode_is_not_json():
    """A lone surrogate is JSON's escape syntax but no Unicode text, and no parquet string
    column can hold it: refused here as a bad record, not left to fail every commit of its
    batch."""
    body = json.loads(record("staff", STAFF))
    body["data"]["first_name"] = "\ud800"
    raw = json.dumps(body).encode()  # ASCII: the surrogate as the escape \ud800
    with pytest.raises(DecodeError, match="not JSON"):
        decode(raw)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
_metadata = st.fixed_dictionaries(
    {},
    optional={
        "record-type": st.sampled_from(["data", "control"]) | _json,
        "operation": st.sampled_from(["insert", "update", "delete", "load"]) | _json,
        "table-name": st.sampled_from(["payment", "staff"]) | _json,
        "stream-position": st.just("00000000/00000100.1.00000000/000000F8") | _json,
        "transaction-record-id": _json,
    },
)


@settings(max_examples=300, deadline=None)
@given(metadata=_metadata, data=_json, control=_json)
def test_any_json_is_a_change_a_control_record_or_a_decode_error_never_another_exception(
    metadata, data, control
):
    raw = json.dumps({"metadata": metadata, "data": data, "control": control}).encode()
    try:
        decoded = decode(raw)
    except DecodeError:
        return
    assert isinstance(decoded, Change | Control)


def _valid_records() -> list[bytes]:
    return [
        record("sales_order", SALE, commit=0x10),
        record("staff", STAFF, "update", commit=0x11),
        record("department", DEPT, commit=0x12),
        record("address", ADDRESS, commit=0x13),
        record("counterparty", COUNTERPARTY, "delete", commit=0x14),
        record("payment", {"payment_id": 4}, "delete", commit=0x15),
        record("currency", CURRENCY, "update", commit=0x16),
        record("payment", PAYMENT, "update", commit=0x17),
        record("counterparty", COUNTERPARTY, "update", commit=0x18),
        record("purchase_order", DATA.tables["purchase_order"][0], commit=0x19),
        record("transaction", DATA.tables["transaction"][0], commit=0x1A),
        record("design", DATA.tables["design"][0], "load"),
    ]


def _joined_state() -> MemoryJoinState:
    """Both sides of both joins, so a mutated staff, department, counterparty or address
    record makes its joined dimension's rows too."""
    state = MemoryJoinState()
    for table, row in (
        ("department", DEPT),
        ("staff", STAFF),
        ("address", ADDRESS),
        ("counterparty", COUNTERPARTY),
    ):
        state.apply(transform(decode(record(table, row, commit=0x1)), state).writes)
    return state


def _warehouse_misfits(row: OutRow) -> list[str]:
    """What in ``row`` its warehouse table's columns cannot hold beyond the Arrow types (which
    writing the file checks): text longer than a column's varchar(n), a NUL in text."""
    out = []
    for column in spec(row.table).published:
        value = row.values.get(column.name)
        if isinstance(value, str):
            if "\x00" in value:
                out.append(f"{row.table}.{column.name} holds a NUL")
            if column.length is not None and len(value) > column.length:
                out.append(f"{row.table}.{column.name} is longer than {column.length}")
    return out


# Values at and beyond the limits of each kind and of the warehouse columns fed from them.
_EDGES = {
    INT: [2**31 - 1, 2**31, -(2**31), "-2147483649", 2**63, 2**64 - 1, "9" * 40, 0, "12"],
    TEXT: ["GBPX", "€€€", "\x00", "a\x00b", "", "x" * 300, "\\u0000", 3],
    NUMERIC: ["99999999.99", "-99999999.99", "100000000", "0.001", 1e20, 1.5, "1e-2", "NaN"],
    TIMESTAMP: [
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59.999+14:00",
        "0001-01-01T00:00:00-14:00",
        "9999-12-31 23:59:59.999999",
        "0001-01-01T00:00:00Z",
    ],
    DATE_TEXT: ["0001-01-01", "9999-12-31", "2026-02-30", "10000-01-01"],
    BOOL: ["t", "f", True, "maybe", 1],
}
_POSITIONS = st.from_regex(r"-?[0-9A-F]{1,18}/-?[0-9A-F]{1,18}\.[0-9]{1,3}\.0/0", fullmatch=True)


def _accepted_rows_fit(body: dict) -> None:
    """Decode ``body``; when it is accepted, its rows never fail the transform, nor the
    writing of its batch's files (a value the table's Arrow type cannot hold would fail every
    commit of its shard), nor the load of its rows (text too long for its varchar(n), a NUL:
    the load of the whole batch would fail)."""
    try:
        change = decode(json.dumps(body).encode())
    except DecodeError:
        return
    for row in transform(change, _joined_state()).rows:
        to_arrow(row.table, [row.values])
        assert _warehouse_misfits(row) == [], row


def test_every_edge_value_in_every_column_is_refused_or_its_rows_fit():
    """Exhaustively, beside the property test below: each value of ``_EDGES`` in each column
    of each valid record (its kind's edges)."""
    tried = 0
    for raw in _valid_records():
        original = json.loads(raw)
        table = original["metadata"]["table-name"]
        for column, kind in SOURCE_TABLES[table].items():
            for edge in _EDGES[kind]:
                body = json.loads(raw)
                body["data"][column] = edge
                _accepted_rows_fit(body)
                tried += 1
    assert tried > 500


@settings(max_examples=500, deadline=None)
@given(
    which=st.integers(0, len(_valid_records()) - 1),
    column=st.text(min_size=1, max_size=30),
    how=st.sampled_from(["edge", "edge", "edge", "json", "text", "drop", "any column"]),
    value=_json | st.text(max_size=5),
    data=st.data(),
)
def test_a_mutated_valid_record_is_refused_with_decode_error_or_transformed_without_error(
    which, column, how, value, data
):
    body = json.loads(_valid_records()[which])
    table = body["metadata"]["table-name"]
    if how != "any column":
        column = data.draw(st.sampled_from(list(SOURCE_TABLES[table])))
    if how == "drop":
        body["data"].pop(column, None)
    elif how == "edge":
        body["data"][column] = data.draw(st.sampled_from(_EDGES[SOURCE_TABLES[table][column]]))
    else:
        body["data"][column] = value
    _accepted_rows_fit(body)


@settings(max_examples=200, deadline=None)
@given(
    which=st.integers(0, len(_valid_records()) - 1),
    position=st.none() | _POSITIONS | _json,
    record_id=st.none()
    | st.integers()
    | st.sampled_from([-1, 2**32 - 1, 2**32, 1e300, "7", "-7"])
    | _json,
)
def test_a_record_with_any_position_is_refused_or_its_version_is_written(
    which, position, record_id
):
    body = json.loads(_valid_records()[which])
    if position is not None:
        body["metadata"]["stream-position"] = position
    if record_id is not None:
        body["metadata"]["transaction-record-id"] = record_id
    _accepted_rows_fit(body)

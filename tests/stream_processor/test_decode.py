"""Decoding Contract A records; every malformed record rejected with a precise reason."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdc.simulator import dataset
from stream_processor.batch import to_parquet
from stream_processor.decode import Change, Control, DecodeError, decode, parse_timestamp
from stream_processor.join_state import MemoryJoinState
from stream_processor.transform import transform
from tests.stream_processor.fixtures import record
from tests.stream_processor.test_transform import ADDRESS, COUNTERPARTY, DEPT, SALE, STAFF

DATA = dataset.generate(1, dataset.SMALL)
PAYMENT = DATA.tables["payment"][0]


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
    assert decode(raw.encode()) == Control("design", "add-column", ("design_id", "licence"))


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
    ]


@settings(max_examples=400, deadline=None)
@given(
    which=st.integers(0, 5),
    column=st.text(min_size=1, max_size=30),
    value=_json,
    drop=st.booleans(),
    use_known_column=st.booleans(),
)
def test_a_mutated_valid_record_is_refused_with_decode_error_or_transformed_without_error(
    which, column, value, drop, use_known_column
):
    body = json.loads(_valid_records()[which])
    if use_known_column:
        column = sorted(body["data"])[hash(column) % len(body["data"])]
    if drop:
        body["data"].pop(column, None)
    else:
        body["data"][column] = value
    try:
        change = decode(json.dumps(body).encode())
    except DecodeError:
        return
    # A record decode accepts never fails the transform, nor the writing of its batch's files
    # (a value the table's Arrow type cannot hold would fail every commit of its shard).
    for row in transform(change, MemoryJoinState()).rows:
        to_parquet(row.table, [row.values])

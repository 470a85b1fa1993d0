"""An image as both join stores keep it (``codec``): JSON text that gives back the same typed
image for every source table's column kinds, and refuses text that is not of its kind."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.change_records import (
    BOOL,
    DATE_TEXT,
    INT,
    NUMERIC,
    SOURCE_TABLES,
    TEXT,
    TIMESTAMP,
)
from stream_processor.join_state.codec import decode_image, encode_image

VALUES = {
    INT: st.integers(min_value=-(2**63), max_value=2**63 - 1),
    TEXT: st.text(),
    NUMERIC: st.decimals(allow_nan=False, allow_infinity=False, places=2),
    BOOL: st.booleans(),
    TIMESTAMP: st.datetimes(timezones=st.none() | st.just(UTC)),
    DATE_TEXT: st.dates(),
}


@st.composite
def images(draw: st.DrawFn) -> tuple[str, dict]:
    table = draw(st.sampled_from(sorted(SOURCE_TABLES)))
    kinds = SOURCE_TABLES[table]
    image = {column: draw(st.none() | VALUES[kind]) for column, kind in kinds.items()}
    return table, image


@given(images())
def test_every_table_s_image_comes_back_equal_and_of_the_same_types(table_and_image):
    table, image = table_and_image
    back = decode_image(table, encode_image(image))
    assert back == image
    assert {c: type(v) for c, v in back.items()} == {c: type(v) for c, v in image.items()}
    # the same digits too, not only an equal number (Decimal("1.10") == Decimal("1.1"))
    assert {c: str(v) for c, v in back.items()} == {c: str(v) for c, v in image.items()}


def test_no_image_at_all_round_trips():
    assert encode_image(None) == "null" and decode_image("staff", "null") is None


def test_the_text_is_the_same_whatever_order_the_image_s_columns_come_in():
    image = {"staff_id": 1, "first_name": "Ann", "created_at": datetime(2026, 1, 1)}
    assert encode_image(dict(reversed(list(image.items())))) == encode_image(image)


def test_a_column_the_table_does_not_have_comes_back_as_json_left_it():
    text = encode_image({"staff_id": 1, "nickname": "2026-01-01", "when": datetime(2026, 1, 1)})
    assert decode_image("staff", text) == {
        "staff_id": 1,
        "nickname": "2026-01-01",
        "when": "2026-01-01T00:00:00",
    }


@pytest.mark.parametrize(
    ("table", "text", "error"),
    [
        ("ledger", '{"id": 1}', KeyError),  # not a source table
        ("staff", '{"created_at": "yesterday"}', ValueError),
        ("sales_order", '{"agreed_delivery_date": "25/11/2026"}', ValueError),
        ("sales_order", '{"unit_price": "cheap"}', InvalidOperation),
        ("staff", "{not json", ValueError),
    ],
)
def test_text_that_is_not_of_its_column_s_kind_is_refused(table, text, error):
    with pytest.raises(error):
        decode_image(table, text)


def test_dates_and_timestamps_are_written_as_iso_text():
    text = encode_image({"d": date(2026, 11, 25), "t": datetime(2026, 11, 25, 12, tzinfo=UTC)})
    assert text == '{"d": "2026-11-25", "t": "2026-11-25T12:00:00+00:00"}'
    assert encode_image({"n": Decimal("1.10")}) == '{"n": "1.10"}'

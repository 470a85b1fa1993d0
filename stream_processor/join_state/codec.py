"""An image as the join state stores it: JSON text, typed again on the way out by the source
table's column kinds (``contracts.change_records``). Both stores keep the text, so the memory
store's tests exercise the same encoding as DynamoDB's."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from contracts.change_records import DATE_TEXT, NUMERIC, SOURCE_TABLES, TIMESTAMP
from stream_processor.transform import Image


def encode_image(image: Image | None) -> str:
    """An image as JSON text (timestamps, dates and decimals as strings)."""

    def plain(value: Any) -> Any:  # noqa: ANN401
        if isinstance(value, datetime | date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        return value

    return json.dumps(
        None if image is None else {k: plain(v) for k, v in image.items()}, sort_keys=True
    )


def decode_image(table: str, text: str) -> Image | None:
    raw = json.loads(text)
    if raw is None:
        return None
    kinds = SOURCE_TABLES[table]
    out: Image = {}
    for column, value in raw.items():
        kind = kinds.get(column)
        if value is None or kind is None:
            out[column] = value
        elif kind == TIMESTAMP:
            out[column] = datetime.fromisoformat(value)
        elif kind == DATE_TEXT:
            out[column] = date.fromisoformat(value)
        elif kind == NUMERIC:
            out[column] = Decimal(value)
        else:
            out[column] = value
    return out

"""The transform generation is bumped whenever the transform's output changes.

A fixed set of records (every source table; inserts, updates and deletes; joins both ways
round) goes through the transform; the digest of what comes out is kept in
``golden_transform.json`` with the generation it belongs to. Change the output without bumping
``contracts.generation.GENERATION`` and this fails; bump it, then record the new digest with
``python -m tests.stream_processor.test_transform_golden > tests/stream_processor/golden_transform.json``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from contracts.generation import GENERATION
from stream_processor.decode import decode
from stream_processor.join_state.memory import MemoryJoinState
from stream_processor.transform import transform
from tests.stream_processor.fixtures import ADDRESS, COUNTERPARTY, DEPT, SALE, STAFF, T0, record

GOLDEN = Path(__file__).with_name("golden_transform.json")


def records() -> list[bytes]:
    stamps = {"created_at": T0, "last_updated": T0 + timedelta(hours=1)}
    purchase = {
        "purchase_order_id": 3,
        "staff_id": 10,
        "counterparty_id": 3,
        "item_code": "AB12345",
        "item_quantity": 4,
        "item_unit_price": Decimal("12.50"),
        "currency_id": 1,
        "agreed_delivery_date": "2026-03-09",
        "agreed_payment_date": "2026-03-10",
        "agreed_delivery_location_id": 5,
        **stamps,
    }
    payment = {
        "payment_id": 4,
        "transaction_id": 6,
        "counterparty_id": 3,
        "payment_amount": Decimal("1234.56"),
        "currency_id": 2,
        "payment_type_id": 1,
        "paid": False,
        "payment_date": "2026-03-11",
        "company_ac_number": 1,
        "counterparty_ac_number": 2,
        **stamps,
    }
    design = {
        "design_id": 2,
        "design_name": "Wooden",
        "file_location": "/u",
        "file_name": "w.json",
        **stamps,
    }
    rows = [
        ("staff", STAFF, "load"),
        ("department", DEPT, "load"),
        ("address", ADDRESS, "insert"),
        ("counterparty", COUNTERPARTY, "insert"),
        ("currency", {"currency_id": 1, "currency_code": "GBP", **stamps}, "insert"),
        ("currency", {"currency_id": 2, "currency_code": "EUR", **stamps}, "insert"),
        ("design", design, "insert"),
        (
            "payment_type",
            {"payment_type_id": 1, "payment_type_name": "SALES_RECEIPT", **stamps},
            "insert",
        ),
        (
            "transaction",
            {
                "transaction_id": 6,
                "transaction_type": "SALE",
                "sales_order_id": 7,
                "purchase_order_id": None,
                **stamps,
            },
            "insert",
        ),
        ("sales_order", SALE, "insert"),
        ("purchase_order", purchase, "insert"),
        ("payment", payment, "insert"),
        ("payment", {**payment, "paid": True}, "update"),
        ("department", {**DEPT, "department_name": "Sales & Marketing"}, "update"),
        ("address", {**ADDRESS, "city": "York"}, "update"),
        ("sales_order", SALE, "delete"),
        ("staff", STAFF, "delete"),
    ]
    out = [record(t, row, op, commit=0x100 + 16 * i) for i, (t, row, op) in enumerate(rows)]
    key_change = json.loads(  # design 2 becomes design 20 (a before-image with the old key)
        record("design", {**design, "design_id": 20}, "update", commit=0x100 + 16 * len(rows))
    )
    key_change["before-image"] = {"design_id": 2}
    return [*out, json.dumps(key_change).encode()]


def digest() -> str:
    state, out = MemoryJoinState(), []
    for raw in records():
        result = transform(decode(raw), state)
        state.apply(result.writes)
        out += [
            json.dumps([row.table, sorted(row.values.items())], default=str) for row in result.rows
        ]
    return hashlib.sha256("\n".join(out).encode()).hexdigest()


def problem(golden: dict, current: str, generation: int) -> str | None:
    """What is wrong between the recorded golden output and the current one, if anything."""
    if current != golden["sha256"]:
        if generation == golden["generation"]:
            return (
                "the transform's output changed but contracts.generation.GENERATION did not: "
                "bump it (a replay then repairs what the old transform wrote), then record the "
                "new digest (see this module's docstring)"
            )
        return f"generation {generation}: record its golden output (see this module's docstring)"
    if generation != golden["generation"]:
        return "GENERATION was bumped but the output did not change: keep the old generation"
    return None


def test_the_transform_output_is_the_golden_one_of_this_generation():
    assert problem(json.loads(GOLDEN.read_text()), digest(), GENERATION) is None


def test_a_changed_output_without_a_bump_is_caught():
    golden = {"generation": 3, "sha256": "abc"}
    assert "did not" in problem(golden, "def", 3)
    assert "record its golden output" in problem(golden, "def", 4)
    assert "keep the old generation" in problem(golden, "abc", 4)
    assert problem(golden, "abc", 3) is None


if __name__ == "__main__":
    print(json.dumps({"generation": GENERATION, "sha256": digest()}, indent=1))

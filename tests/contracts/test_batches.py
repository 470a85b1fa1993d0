"""Contract C: the typed manifest both stages share, and its keys (no services)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.batches import (
    FORMAT_VERSION,
    BatchFile,
    Manifest,
    ManifestError,
    batch_file_key,
    is_manifest_key,
    manifest_key,
)

MANIFEST = Manifest(
    shard_id="shardId-000000000001",
    first_sequence_number="101",
    last_sequence_number="102",
    records=2,
    dead_letters=0,
    files=(BatchFile("fact_sales_order", "batches/fact_sales_order/x.parquet", 2),),
    written_at=datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
    generation=4,
)


def test_a_manifest_survives_its_own_json_and_says_its_format():
    body = MANIFEST.to_json()
    assert json.loads(body)["format_version"] == FORMAT_VERSION
    assert Manifest.from_json(body) == MANIFEST


def test_keys_are_deterministic_from_the_shard_and_sequence_range():
    span = f"{'101'.zfill(56)}-{'102'.zfill(56)}"
    assert manifest_key("s", "101", "102") == f"manifests/s/{span}.json"
    assert batch_file_key("dim_staff", "s", "101", "102") == f"batches/dim_staff/s/{span}.parquet"
    assert is_manifest_key(manifest_key("s", "1", "2")) and not is_manifest_key("batches/x.json")


def test_a_format_1_manifest_is_read_without_its_dim_date_file_as_generation_1():
    raw = json.loads(MANIFEST.to_json())
    raw.pop("format_version")
    raw.pop("generation")
    raw["schema_version"] = 1
    raw["files"].append({"table": "dim_date", "key": "batches/dim_date/x.parquet", "rows": 3})
    old = Manifest.from_json(json.dumps(raw).encode())
    assert old.format_version == 1 and [f.table for f in old.files] == ["fact_sales_order"]
    assert old.generation == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "not a JSON object"),
        (json.dumps({"format_version": 99}).encode(), "format version 99"),
        (json.dumps({"format_version": FORMAT_VERSION, "shard_id": "s"}).encode(), "'files'"),
        (json.dumps({"format_version": True}).encode(), "format version True"),
        (json.dumps({"format_version": 2.0}).encode(), "format version 2.0"),
    ],
)
def test_what_is_not_a_manifest_is_refused_with_the_reason(body, reason):
    with pytest.raises(ManifestError, match=reason):
        Manifest.from_json(body)


def test_a_file_of_an_unknown_table_is_refused():
    raw = json.loads(MANIFEST.to_json())
    raw["files"][0]["table"] = "dim_secret"
    with pytest.raises(ManifestError, match="unknown table 'dim_secret'"):
        Manifest.from_json(json.dumps(raw).encode())


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda m: m["files"].append({**m["files"][0]}), "listed twice"),
        (lambda m: m["files"].append({"table": "dim_date", "key": "k", "rows": 1}), "'dim_date'"),
        (lambda m: m["files"][0].update(rows=-1), "'rows' is negative"),
        (lambda m: m.update(dead_letters="7"), "'dead_letters' is missing or not a int"),
        (lambda m: m.update(records=True), "'records' is missing or not a int"),
        (lambda m: m.pop("generation"), "'generation' is missing"),
    ],
)
def test_a_manifest_that_contradicts_itself_is_refused(change, reason):
    raw = json.loads(MANIFEST.to_json())
    change(raw)
    with pytest.raises(ManifestError, match=reason):
        Manifest.from_json(json.dumps(raw).encode())


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(
    field=st.sampled_from(sorted(json.loads(MANIFEST.to_json()))),
    value=_json,
    drop=st.booleans(),
)
def test_a_mutated_manifest_is_read_or_refused_with_manifest_error_only(field, value, drop):
    raw = json.loads(MANIFEST.to_json())
    if drop:
        raw.pop(field)
    else:
        raw[field] = value
    try:
        manifest = Manifest.from_json(json.dumps(raw).encode())
    except ManifestError:
        return
    assert isinstance(manifest, Manifest)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_are_never_a_manifest(data):
    with pytest.raises(ManifestError):
        Manifest.from_json(data)

"""Contract C: micro-batches in S3 (docs/architecture.md, Contract C).

A flush writes one parquet file per table touched (the table's explicit Arrow schema from
``star_schema``), then a manifest listing them; the loader is triggered by manifests only. Keys
are deterministic from (shard, first sequence, last sequence), so writing the same batch twice
overwrites the same objects. Dead letters live under their own prefix.

``Manifest`` is the one typed form of a manifest: the processor builds it and writes
``to_json()``; the loader reads it with ``Manifest.from_json`` (``ManifestError`` when it is not
one). ``FORMAT_VERSION`` changes whenever its shape or meaning does.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from contracts.star_schema import PUBLISHED

# Format 2: dim_date files are no longer written (the loader derives dim_date from the facts).
# Format 3: the transform generation that produced the batch (``contracts.generation``).
# Formats 1 and 2 are still read: their dim_date files are ignored, their generation is 1.
FORMAT_VERSION = 3
READABLE_FORMATS = (1, 2, 3)

# Every S3 prefix of the batches bucket, defined once (terraform's notification filter and
# lifecycle rules use the same names; tests/terraform checks them).
BATCH_PREFIX = "batches"
MANIFEST_PREFIX = "manifests"
DEAD_LETTER_PREFIX = "dead-letters"
REDRIVEN_PREFIX = "dead-letters-redriven"  # letters redriven into a manifest, kept
# Rows the warehouse refused for their data (the loader's dead letters, one per row:
# warehouse_loader/rejected.py), and where they are kept once redriven.
REJECTED_PREFIX = "loader-rejected"
REJECTED_REDRIVEN_PREFIX = "loader-rejected-redriven"

SEQ_WIDTH = 56  # Kinesis sequence numbers have up to 56 digits; padding keeps keys sortable


def seq_key(sequence_number: str) -> str:
    return sequence_number.zfill(SEQ_WIDTH)


def span(first_seq: str, last_seq: str) -> str:
    return f"{seq_key(first_seq)}-{seq_key(last_seq)}"


def batch_file_key(table: str, shard_id: str, first_seq: str, last_seq: str) -> str:
    return f"{BATCH_PREFIX}/{table}/{shard_id}/{span(first_seq, last_seq)}.parquet"


def manifest_key(shard_id: str, first_seq: str, last_seq: str) -> str:
    return f"{MANIFEST_PREFIX}/{shard_id}/{span(first_seq, last_seq)}.json"


def dead_letter_key(shard_id: str, sequence_number: str) -> str:
    return f"{DEAD_LETTER_PREFIX}/{shard_id}/{seq_key(sequence_number)}.json"


def redriven_key(dead_letter_key: str) -> str:
    """Where a dead letter is kept once redriven: the same name under its own prefix."""
    return REDRIVEN_PREFIX + dead_letter_key.removeprefix(DEAD_LETTER_PREFIX)


def is_manifest_key(key: str) -> bool:
    return key.startswith(MANIFEST_PREFIX + "/") and key.endswith(".json")


class ManifestError(ValueError):
    """Bytes that are not a manifest this code can read; ``str()`` says why."""


@dataclass(frozen=True)
class BatchFile:
    table: str
    key: str
    rows: int


@dataclass(frozen=True)
class Manifest:
    shard_id: str
    first_sequence_number: str
    last_sequence_number: str
    records: int
    dead_letters: int
    files: tuple[BatchFile, ...]
    written_at: datetime
    generation: int
    format_version: int = FORMAT_VERSION

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "format_version": self.format_version,
                "shard_id": self.shard_id,
                "first_sequence_number": self.first_sequence_number,
                "last_sequence_number": self.last_sequence_number,
                "records": self.records,
                "dead_letters": self.dead_letters,
                "files": [{"table": f.table, "key": f.key, "rows": f.rows} for f in self.files],
                "written_at": self.written_at.isoformat(),
                "generation": self.generation,
            },
            indent=1,
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        """Parse and validate; raises ``ManifestError`` naming the first thing wrong."""
        try:
            raw = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ManifestError(f"not JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise ManifestError("not a JSON object")
        # format 1 called it schema_version
        version = raw.get("format_version", raw.get("schema_version"))
        if type(version) is not int or version not in READABLE_FORMATS:
            raise ManifestError(
                f"format version {version!r}; this loader reads {list(READABLE_FORMATS)}"
            )
        try:
            files = tuple(_file(f) for f in _field(raw, "files", list))
            if version == 1:  # see FORMAT_VERSION
                files = tuple(f for f in files if f.table != "dim_date")
            for f in files:
                if f.table not in PUBLISHED:
                    raise ManifestError(f"unknown table {f.table!r} in 'files'")
            tables = [f.table for f in files]
            if len(set(tables)) != len(tables):
                raise ManifestError(f"a table is listed twice in 'files': {sorted(tables)}")
            return cls(
                shard_id=_field(raw, "shard_id", str),
                first_sequence_number=_field(raw, "first_sequence_number", str),
                last_sequence_number=_field(raw, "last_sequence_number", str),
                records=_count(raw, "records"),
                dead_letters=_count(raw, "dead_letters"),
                files=files,
                written_at=datetime.fromisoformat(_field(raw, "written_at", str)),
                generation=_count(raw, "generation") if version >= 3 else 1,
                format_version=version,
            )
        except (TypeError, ValueError) as exc:
            raise ManifestError(str(exc)) from None

    @classmethod
    def now(cls, **fields: Any) -> Manifest:  # noqa: ANN401
        return cls(written_at=datetime.now(UTC), **fields)


def _field(raw: dict[str, Any], name: str, kind: type) -> Any:  # noqa: ANN401
    value = raw.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ManifestError(f"'{name}' is missing or not a {kind.__name__}")
    return value


def _count(raw: dict[str, Any], name: str) -> int:
    value = _field(raw, name, int)
    if value < 0:
        raise ManifestError(f"'{name}' is negative")
    return value


def _file(raw: Any) -> BatchFile:  # noqa: ANN401
    if not isinstance(raw, dict):
        raise ManifestError("a 'files' entry is not an object")
    return BatchFile(_field(raw, "table", str), _field(raw, "key", str), _count(raw, "rows"))


class DeadLetterError(ValueError):
    """Bytes under the dead-letter prefix that are not a dead letter."""


BAD_RECORD = "bad_record"  # not a valid Contract A record: bad data
PROCESSOR_ERROR = "processor_error"  # our own code failed on a valid record: a bug
CAUSES = (BAD_RECORD, PROCESSOR_ERROR)


@dataclass(frozen=True)
class DeadLetter:
    """A record that could not be decoded or transformed, with why and where it was."""

    cause: str  # BAD_RECORD or PROCESSOR_ERROR
    reason: str
    shard_id: str
    sequence_number: str
    partition_key: str
    raw: bytes  # exactly the bytes received
    dead_lettered_at: datetime
    redriven: dict[str, Any] | None = None  # set when moved under REDRIVEN_PREFIX

    def to_json(self) -> bytes:
        body = {
            "cause": self.cause,
            "reason": self.reason,
            "shard_id": self.shard_id,
            "sequence_number": self.sequence_number,
            "partition_key": self.partition_key,
            "raw_base64": base64.b64encode(self.raw).decode(),
            "raw_text": self.raw.decode("utf-8", errors="replace"),  # for people reading it
            "dead_lettered_at": self.dead_lettered_at.isoformat(),
        }
        if self.redriven is not None:
            body["redriven"] = self.redriven
        return json.dumps(body).encode()

    @classmethod
    def from_json(cls, data: bytes) -> DeadLetter:
        try:
            raw = json.loads(data)
            # letters written before causes were recorded: a transform failure was ours
            cause = raw.get("cause") or (
                PROCESSOR_ERROR if raw["reason"].startswith("transform failed") else BAD_RECORD
            )
            return cls(
                cause=cause,
                reason=raw["reason"],
                shard_id=raw["shard_id"],
                sequence_number=raw["sequence_number"],
                partition_key=raw["partition_key"],
                raw=base64.b64decode(raw["raw_base64"]),
                dead_lettered_at=datetime.fromisoformat(raw["dead_lettered_at"]),
                redriven=raw.get("redriven"),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DeadLetterError(f"not a dead letter: {type(exc).__name__}: {exc}") from None


class ObjectMissing(LookupError):
    """No object under that key (``ObjectStore.get``)."""


class ObjectStore(Protocol):
    """Where batches, manifests and dead letters are kept: S3 in AWS and on the local stack,
    a dict in unit tests. ``get`` raises ``ObjectMissing`` for a key with no object; any other
    failure is the store's own error (for S3, botocore's), for the caller to class."""

    def put(self, key: str, body: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def keys(self, prefix: str) -> list[str]: ...

    def delete(self, key: str) -> None: ...


class MemoryStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.objects[key] = body

    def get(self, key: str) -> bytes:
        try:
            return self.objects[key]
        except KeyError:
            raise ObjectMissing(key) from None

    def keys(self, prefix: str) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)


class S3Store:
    """``ObjectStore`` over a boto3 S3 client the caller makes (this package imports no boto3):
    the one adapter both the processor and the loader use."""

    def __init__(self, client: Any, bucket: str) -> None:  # noqa: ANN401 - a boto3 S3 client
        self.client = client
        self.bucket = bucket

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            raise ObjectMissing(f"s3://{self.bucket}/{key}") from None

    def keys(self, prefix: str) -> list[str]:
        found: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        ):
            found += [o["Key"] for o in page.get("Contents", [])]
        return sorted(found)

    def delete(self, key: str) -> None:
        """On a versioned bucket (terraform's), the object's versions stay; deleting a key
        that is already gone succeeds, as S3's DeleteObject does."""
        self.client.delete_object(Bucket=self.bucket, Key=key)

"""Factories shared by the tests."""

from __future__ import annotations

import uuid


def unique_name(prefix: str) -> str:
    """A resource name no other test uses (valid for S3 buckets, streams, tables, databases)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"

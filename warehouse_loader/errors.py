"""What can go wrong with a load, classed by what to do next.

- ``BadBatch``: the manifest or one of its files cannot be loaded (missing, corrupt, not the
  published shape), or the message announcing it is not an S3 event: retrying will not help.
  Reported at once; SQS retries it, then moves it to the dead-letter queue.
- ``Transient``: S3 throttling or a 5xx, a dropped connection, a deadlock or a serialization
  failure in PostgreSQL: retried in-process with backoff, then reported as retryable.

Anything else is our own bug or a misconfiguration (access denied, a missing table): it is not
caught, so the invocation fails loudly and the Lambda errors alarm fires.
"""

from __future__ import annotations


class BadBatch(ValueError):
    """The manifest or one of its files cannot be loaded; retrying will not help."""


class Transient(RuntimeError):
    """A load failed for a reason that passes; the last cause is ``__cause__``."""

"""What can go wrong with a load, classed by what to do next.

- ``BadBatch``: the manifest or one of its files cannot be loaded (missing, corrupt, not the
  published shape, more rows the warehouse refuses than a bad row explains, a foreign key
  the load's deferred check refuses), or the message announcing it is not an S3 event:
  retrying will not help. (A row refused for its data is not one: the load sets it aside,
  ``warehouse_loader.rejected``, and the rest of the manifest loads.) Reported at once; SQS
  retries it, then moves it to the dead-letter queue.
- ``Transient``: S3 throttling or a 5xx, an HTTP connection failure or timeout, a dropped or
  refused database connection, a deadlock, a serialization failure, the server shutting down:
  retried in-process with backoff, then reported as retryable.

Anything else is our own bug or a misconfiguration (access denied, a wrong password, a
statement timeout, missing credentials): it is not caught, so the invocation fails loudly and
the Lambda errors alarm fires.
"""

from __future__ import annotations


class BadBatch(ValueError):
    """The manifest or one of its files cannot be loaded; retrying will not help."""


class Transient(RuntimeError):
    """A load failed for a reason that passes; the last cause is ``__cause__``."""

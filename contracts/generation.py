"""The transform generation: which version of the processor's transform produced a batch.

Bump ``GENERATION`` whenever the transform's output for the same input records changes (a fix
to a wrong value, a new derived column): ``tests/stream_processor/test_transform_golden.py``
fails when the output over a fixed set of records changes and the generation did not.

Every manifest carries the generation that produced it, and the loader stamps it on every row
it writes (``cdc_generation``). The loader's guards order rows by (version, joined version,
generation): a newer generation replaces a row of an equal version, an older generation never
overwrites a newer one, and no generation brings back an older version. The load ledger keys
a manifest by (key, generation), so after a fix, a bump and ``stream-processor replay reset``,
the replayed manifests are loaded (not skipped as already seen) and repair the warehouse.

Rows loaded before generations existed are generation 1.

History: 1, the first; 2, an update that changes a primary key (its before-image) also
retires the old key.
"""

from __future__ import annotations

GENERATION = 2

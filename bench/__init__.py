"""``make bench``: every benchmark on the local stack, each figure beside a baseline measured
in the same run, printed as a table and written to ``bench/results.json``."""

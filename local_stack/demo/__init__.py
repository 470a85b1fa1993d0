"""``make demo`` (``python -m local_stack.demo``): the demo's run (``run``), its live dashboard
and HTML report (``dashboard``) and the percentiles they and the benchmarks show (``stats``)."""

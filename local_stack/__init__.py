"""The local stack, in three layers (docs/architecture.md, "Layers"), each importing only those
below it:

- ``services``: the long-running local services, all on 127.0.0.1: two project-owned
  PostgreSQL clusters and moto's AWS emulation served by hypercorn (HTTP/1.1 and h2c, so the
  real KCL can talk to it) with its Kinesis repairs; their settings, start, stop and status,
  and the ``totesys-stack`` command line.
- ``harness``: the pipeline as real processes on those services, for the end-to-end tests, the
  benchmarks and the demo: provisioning a run's resources, the capture engine and the KCL
  daemon as processes, reading what a run has done, and the faults a test injects.
- ``demo``: ``make demo`` (``python -m local_stack.demo``), its live dashboard and HTML report.
"""

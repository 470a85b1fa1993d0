"""Shared data of the bench tests."""

from __future__ import annotations

# CPU seconds per process role of a stepped run's 1,000/s step (bench.e2e_max's shape)
STEP_CPU_S = {
    "capture": 0.5,
    "kcl_jvm": 1.0,
    "record_processor": 2.0,
    "loader": 1.5,
    "traffic_writers": 3.0,
    "aws_emulation": 4.0,
    "postgresql": 5.0,
}

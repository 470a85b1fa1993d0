"""tests/conftest.py's ``stack`` marking, which ``make test-fast`` (``-m "not stack"``) relies
on: a test using ``stack_cfg`` directly or through another fixture is marked and deselected,
and one reaching it unseen (``request.getfixturevalue``) fails instead of starting services.
Runs pytest on a throw-away test file with this conftest; no services (the stack's settings
are made invalid, so a stack start would fail rather than happen)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.fixtures import ROOT

TESTS = """
import pytest

def test_using_the_stack(stack_cfg):
    pass

@pytest.fixture
def through_a_fixture(fresh_database):
    return fresh_database

def test_using_the_stack_through_a_fixture(through_a_fixture):
    pass

@pytest.fixture
def unseen(request):
    return request.getfixturevalue("stack_cfg")

def test_reaching_the_stack_unseen(unseen):
    pass

def test_needing_no_service():
    pass
"""


def test_not_stack_deselects_every_test_using_the_stack_and_fails_one_reaching_it_unseen(
    tmp_path: Path,
):
    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\naddopts = -p no:cacheprovider --strict-markers\n"
        "markers =\n    stack: needs the local stack\n"
    )
    (tmp_path / "test_marking.py").write_text(TESTS)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),  # the conftest imports tests.fixtures
        "TOTESYS_CDC_PG_PORT": "not-a-port",  # a stack start would fail
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(tmp_path / "pytest.ini")]
        + ["--rootdir", str(tmp_path), "-m", "not stack", "-rA", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = done.stdout + done.stderr
    assert "1 passed, 2 deselected, 1 error" in out, out
    assert "PASSED test_marking.py::test_needing_no_service" in out, out
    assert "ERROR test_marking.py::test_reaching_the_stack_unseen" in out, out
    assert "reaches the local stack without the 'stack' marker" in out, out
    assert "not-a-port" not in out, out  # the stack's settings were never read

    selected = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(tmp_path / "pytest.ini")]
        + ["--rootdir", str(tmp_path), "-m", "stack", "--collect-only", "-q", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert selected.stdout.splitlines()[:2] == [
        "test_marking.py::test_using_the_stack",
        "test_marking.py::test_using_the_stack_through_a_fixture",
    ], selected.stdout

"""The Lambda Python runtime, as near as this machine has it: a Python 3.12 (the runtime
terraform/lambda.tf deploys), and what the runtime adds to a package, boto3 and its
dependencies, linked from this virtualenv into a folder for an isolated interpreter's
``sys.path``. Used by ``bench.loader_cold_start`` and the package's tests."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

import boto3
import botocore
import dateutil
import jmespath
import s3transfer
import six
import urllib3


def boto3_folder(folder: Path) -> Path:
    """A folder holding boto3 and what it imports (pure Python: any 3.x interpreter runs it)."""
    folder.mkdir()
    for module in (boto3, botocore, s3transfer, jmespath, dateutil, urllib3):
        (folder / module.__name__).symlink_to(os.path.dirname(module.__file__))
    (folder / "six.py").symlink_to(six.__file__)
    return folder


def python_312() -> str | None:
    """A Python 3.12 that runs (pyenv's versions first: its ``python3.12`` shim on PATH fails
    when 3.12 is not the selected version), or None."""
    candidates = [
        *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12"))),
        shutil.which("python3.12"),
    ]
    for python in filter(None, candidates):
        if subprocess.run([python, "-c", ""], capture_output=True, check=False).returncode == 0:
            return python
    return None

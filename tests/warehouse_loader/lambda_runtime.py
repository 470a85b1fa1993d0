"""What the Lambda Python runtime adds to a package: boto3 and its dependencies, linked from
this virtualenv into a folder for an isolated interpreter's ``sys.path``."""

from __future__ import annotations

import os
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

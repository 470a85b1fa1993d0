"""The one way every package reads its settings: ``TOTESYS_CDC_*`` environment variables, read
once into a frozen dataclass by each package's ``config.load``, with one ``ConfigError`` whose
message names the variable.

A variable set to the empty string counts as unset (its default applies), as a shell's
``VAR= command`` or a terraform map with an empty value means.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

PREFIX = "TOTESYS_CDC_"
T = TypeVar("T", int, float)

# Where a process runs, TOTESYS_CDC_ENVIRONMENT: ``aws`` (what a deployment gets with nothing
# set; terraform sets it too) or ``local`` (the local stack: ``totesys-stack env`` and the
# harness set it). Each component that switches on it reads it once in its ``config.load``,
# ``Settings.choice("ENVIRONMENT", AWS, ENVIRONMENTS)``, and checks it against the endpoints
# with ``check_endpoints``; nothing infers it from an endpoint variable.
LOCAL, AWS = "local", "aws"
ENVIRONMENTS = (LOCAL, AWS)
ENDPOINT = "AWS_ENDPOINT_URL"  # boto3's and the AWS SDKs' endpoint for every service


class ConfigError(ValueError):
    """A required setting is missing or invalid; the message names the variable."""


class Settings:
    """The ``TOTESYS_CDC_*`` variables of one environment (``os.environ`` by default); ``name``
    is without the prefix. Other variables (``AWS_REGION``...) are read with ``raw``."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env = os.environ if env is None else env

    def raw(self, variable: str) -> str | None:
        """A variable by its whole name; None when unset or empty."""
        return self.env.get(variable) or None

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.raw(PREFIX + name)
        return default if value is None else value

    def text(self, name: str, default: str) -> str:
        value = self.get(name)
        return default if value is None else value

    def require(self, name: str, why: str) -> str:
        """A setting that has no default: ``ConfigError`` saying ``why`` when it is unset."""
        value = self.get(name)
        if value is None:
            raise ConfigError(f"{PREFIX}{name} is not set: {why}")
        return value

    def integer(self, name: str, default: int) -> int:
        return self._parse(name, default, int, "an integer")

    def number(self, name: str, default: float) -> float:
        return self._parse(name, default, float, "a number")

    def path(self, name: str, default: Path) -> Path:
        """A directory or file, made absolute."""
        return Path(self.text(name, str(default))).resolve()

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        """One of ``choices`` (case and surrounding blanks ignored)."""
        value = self.text(name, default).strip().lower()
        if value not in choices:
            raise ConfigError(f"{PREFIX}{name} must be one of {', '.join(choices)}, not {value!r}")
        return value

    def _parse(self, name: str, default: T, parse: Callable[[str], T], what: str) -> T:
        value = self.get(name)
        if value is None:
            return default
        try:
            return parse(value)
        except ValueError:
            raise ConfigError(f"{PREFIX}{name} must be {what}, not {value!r}") from None


def is_loopback(url: str) -> bool:
    """Whether ``url``'s host is this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name other than localhost
        return False


def check_endpoints(environment: str, endpoints: Mapping[str, str | None]) -> None:
    """``ConfigError`` when TOTESYS_CDC_ENVIRONMENT contradicts the endpoint variables
    (``endpoints``: each variable's name and value, None when unset; ``ENDPOINT`` among them).

    ``local`` needs ``AWS_ENDPOINT_URL``: without it the AWS clients would reach real AWS with
    the local stack's settings (the KCL's short lease timings, no metrics). And every endpoint
    given must be on loopback: locally nothing may leave this machine.

    ``aws`` takes any endpoint or none: an endpoint there is written as given with AWS's
    settings kept, which is how a test checks the AWS properties against the local emulation
    (an ``http://127.0.0.1`` endpoint) and how a deployment would use, say, a VPC endpoint's
    own name."""
    if environment not in ENVIRONMENTS:
        raise ConfigError(
            f"{PREFIX}ENVIRONMENT must be one of {', '.join(ENVIRONMENTS)}, not {environment!r}"
        )
    if environment == AWS:
        return
    if not endpoints.get(ENDPOINT):
        raise ConfigError(
            f"{PREFIX}ENVIRONMENT is {LOCAL} but {ENDPOINT} is not set, so the AWS clients "
            f"would reach real AWS: set {ENDPOINT} to the local emulation (for the local "
            f'stack: eval "$(.venv/bin/totesys-stack env)"), or {PREFIX}ENVIRONMENT={AWS}'
        )
    for variable, url in endpoints.items():
        if url and not is_loopback(url):
            raise ConfigError(
                f"{PREFIX}ENVIRONMENT is {LOCAL} but {variable} is {url!r}, not on loopback: "
                f"locally nothing may leave this machine (use 127.0.0.1 or localhost, or "
                f"{PREFIX}ENVIRONMENT={AWS})"
            )

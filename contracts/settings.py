"""The one way every package reads its settings: ``TOTESYS_CDC_*`` environment variables, read
once into a frozen dataclass by each package's ``config.load``, with one ``ConfigError`` whose
message names the variable.

A variable set to the empty string counts as unset (its default applies), as a shell's
``VAR= command`` or a terraform map with an empty value means.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

PREFIX = "TOTESYS_CDC_"
T = TypeVar("T", int, float)


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

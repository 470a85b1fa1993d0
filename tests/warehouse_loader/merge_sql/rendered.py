"""Rendered merge SQL, taken apart for assertions: ``psycopg.sql`` renders without a
connection (``Composable.as_string()``; psycopg 3.2+), quoting identifiers as the server
would be sent them."""

from __future__ import annotations

import re

from psycopg import sql


def text(statement: sql.Composable) -> str:
    return statement.as_string()


def _closing(statement: str, opening: int) -> int:
    """The index of the parenthesis closing the one at ``opening``: parentheses inside
    quoted literals ('...') and identifiers ("...") do not count."""
    depth, quote = 0, None
    for i in range(opening, len(statement)):
        c = statement[i]
        if quote:
            quote = None if c == quote else quote  # a doubled quote reopens at once
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
    raise AssertionError(f"unbalanced parentheses from {opening}: {statement[opening:]}")


_CTE = re.compile(r"(\w+) AS \(")


def ctes(statement: str) -> tuple[dict[str, str], str]:
    """A ``WITH`` statement's top-level CTEs (name → body, in order) and its final
    statement."""
    assert statement.startswith("WITH "), statement
    found: dict[str, str] = {}
    at = len("WITH ")
    while (start := _CTE.match(statement, at)) is not None:
        end = _closing(statement, start.end() - 1)
        found[start[1]] = statement[start.end() : end]
        at = end + 1
        if not statement.startswith(", ", at):
            break
        at += 2
    return found, statement[at:].strip()


def split_top(text_: str, separator: str = ", ") -> list[str]:
    """``text_`` split at each ``separator`` outside parentheses and quotes."""
    parts, depth, quote, start, i = [], 0, None, 0, 0
    while i < len(text_):
        c = text_[i]
        if quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif depth == 0 and text_.startswith(separator, i):
            parts.append(text_[start:i])
            i = start = i + len(separator)
            continue
        i += 1
    return [*parts, text_[start:]]


def between(statement: str, start: str, end: str) -> str:
    """The text after the first ``start`` up to the next ``end`` (both must be there)."""
    assert start in statement, f"{start!r} not in {statement}"
    rest = statement.split(start, 1)[1]
    assert end in rest, f"{end!r} not after {start!r} in {statement}"
    return rest.split(end, 1)[0]

"""Docs that match the code: every make target, console script (and its subcommands),
``python -m`` module, file path and relative link that README.md and docs/*.md name exists.

``python tools/docs_check.py [ROOT]`` (``make lint`` runs it) prints one line per problem,
``page:line: what``, and exits 1 if there is any. What it reads:

- inline code spans: ``make <target>`` (the target must be a rule of the Makefile); a console
  script of pyproject.toml's ``[project.scripts]`` followed by its subcommands (each word is
  looked up in the script's click group; ``a|b`` means both; the walk stops at the first
  option, placeholder or leaf command); ``python -m <module>``; and every word that is a path
  inside the repository (its first part a tracked top-level file or folder) must exist or be
  git-ignored (made at run time, such as ``.local/`` or ``bench/results.json``);
- a table row whose first cell is a console script: the code spans of its second cell are
  that script's subcommands (the README's table of scripts);
- lines of fenced code blocks that start with ``make`` or a console script;
- ``TOTESYS_CDC_*`` settings named in code spans: the code must read them;
- markdown links to relative targets (``[text](other.md#part)``), from the page's folder.

Placeholders (``<name>``, ``NNNN``, ``*``, ``...``) are not checked.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
LINK = re.compile(r"\]\(([^)\s]+)\)")
PLACEHOLDER = re.compile(r"[<>*{}$]|NNNN|\.\.\.|…")
PATH_WORD = re.compile(r"^[A-Za-z0-9_.\-/]+$")
SETTING = re.compile(r"\bTOTESYS_CDC_([A-Z0-9_]*[A-Z0-9])\b")
# where settings are read (the e2e tests read their own, TOTESYS_CDC_E2E_SEED)
CODE = (
    "contracts",
    "cdc",
    "stream_processor",
    "warehouse_loader",
    "warehouse_tools",
    "local_stack",
    "bench",
    "cost_model",
    "tools",
    "tests",
)


@dataclass(frozen=True)
class Problem:
    page: Path
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: {self.what}"


def pages(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def make_targets(root: Path) -> set[str]:
    text = (root / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z0-9_-]+):", text, flags=re.M))


def console_scripts(root: Path) -> dict[str, str]:
    """Script name → ``module:attribute`` entry point."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    return dict(project.get("scripts", {}))


def _command(entry: str) -> click.Command:
    module, _, attribute = entry.partition(":")
    command = getattr(importlib.import_module(module), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"{entry} is not a click command")
    return command


def top_level(root: Path) -> set[str]:
    """The tracked top-level files and folders: what a path in the docs may start with."""
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files"], capture_output=True, text=True, check=True
    ).stdout.split()
    return {name.split("/")[0] for name in listed}


def _ignored(root: Path, path: str) -> bool:
    found = subprocess.run(
        ["git", "-C", str(root), "check-ignore", "-q", "--no-index", path], check=False
    )
    return found.returncode == 0


class Checker:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.targets = make_targets(root)
        self.scripts = {name: _command(entry) for name, entry in console_scripts(root).items()}
        self.tops = top_level(root)
        self.code = "\n".join(
            f.read_text() for package in CODE for f in sorted((root / package).rglob("*.py"))
        )

    # --- one piece of text ------------------------------------------------------------------

    def make(self, words: list[str]) -> Iterator[str]:
        """``make a b VAR=x``: every target named must be a rule."""
        for word in words[1:]:
            if "=" in word or word.startswith("-"):
                continue
            if PLACEHOLDER.search(word):
                return
            if word not in self.targets:
                yield f"make target {word!r} is not in the Makefile"

    def script(self, words: list[str]) -> Iterator[str]:
        """``script sub sub ...``: each word a subcommand of the one before, while it is a
        group."""
        name = words[0].removeprefix(".venv/bin/")
        level: list[tuple[str, click.Command]] = [(name, self.scripts[name])]
        for word in words[1:]:
            if word.startswith(("-", "[", "(")) or PLACEHOLDER.search(word) or word.isupper():
                return
            groups = [(path, c) for path, c in level if isinstance(c, click.Group)]
            if not groups:
                return
            following = []
            for path, group in groups:
                for sub in word.split("|"):
                    if not sub:
                        continue
                    found = group.commands.get(sub)
                    if found is None:
                        yield f"{path} has no subcommand {sub!r}"
                    else:
                        following.append((f"{path} {sub}", found))
            if not following:
                return
            level = following

    def module(self, name: str) -> Iterator[str]:
        if PLACEHOLDER.search(name):
            return
        try:
            found = importlib.util.find_spec(name)
        except ModuleNotFoundError:
            found = None
        if found is None:
            yield f"python -m {name}: no such module"

    def path(self, word: str) -> Iterator[str]:
        word = word.rstrip(".,;:")
        if not PATH_WORD.match(word) or PLACEHOLDER.search(word) or "//" in word:
            return
        if word.split("/")[0] not in self.tops:
            return
        if "/" not in word and word not in self.tops:
            return
        if not (self.root / word).exists() and not _ignored(self.root, word):
            yield f"no such file or folder: {word}"

    def command_line(self, text: str) -> Iterator[str]:
        try:
            words = shlex.split(text)
        except ValueError:  # an unclosed quote: a fragment of a command line
            words = text.split()
        if not words:
            return
        head = words[0].removeprefix(".venv/bin/")
        if head == "make":
            yield from self.make(words)
        elif head in self.scripts:
            yield from self.script(words)
        python = words[0] in ("python", "python3", ".venv/bin/python")
        if python and len(words) > 2 and words[1] == "-m":
            yield from self.module(words[2])

    def span(self, text: str) -> Iterator[str]:
        yield from self.command_line(text)
        yield from self.setting(text)
        for word in text.split():
            yield from self.path(word)

    def script_row(self, line: str, spans: list[str]) -> Iterator[str]:
        """A table row naming a console script in its first cell lists its subcommands in the
        next: ``| `cdc` | `source init`, `capture` |``."""
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not line.lstrip().startswith("|"):
            return
        name = cells[0].strip("`")
        if cells[0] != f"`{name}`" or name not in self.scripts:
            return
        for text in spans[1:]:
            if text in cells[1]:
                yield from self.script([name, *text.split()])

    def setting(self, text: str) -> Iterator[str]:
        """A ``TOTESYS_CDC_*`` variable the code reads: its name, or the part after the prefix
        as a string, appears in the code."""
        for suffix in SETTING.findall(text):
            if f"TOTESYS_CDC_{suffix}" not in self.code and f'"{suffix}"' not in self.code:
                yield f"no code reads the setting TOTESYS_CDC_{suffix}"

    def link(self, page: Path, target: str) -> Iterator[str]:
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            return
        relative = target.split("#")[0]
        if relative and not (page.parent / relative).exists():
            yield f"link to a missing file: {target}"

    # --- a page --------------------------------------------------------------------------------

    def page(self, page: Path) -> list[Problem]:
        problems = []
        fenced = False
        for number, line in enumerate(page.read_text().splitlines(), start=1):
            if line.lstrip().startswith("```"):
                fenced = not fenced
                continue
            found: list[str] = []
            if fenced:
                found += self.command_line(line.split("#")[0])
            else:
                spans = SPAN.findall(line)
                for text in spans:
                    found += self.span(text)
                found += self.script_row(line, spans)
                for target in LINK.findall(line):
                    found += self.link(page, target)
            problems += [Problem(page.relative_to(self.root), number, f) for f in found]
        return problems


def check(root: Path = ROOT, to_check: list[Path] | None = None) -> list[Problem]:
    checker = Checker(root)
    return [p for page in (to_check or pages(root)) for p in checker.page(page)]


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    root = Path(args[0]).resolve() if args else ROOT
    problems = check(root)
    for problem in problems:
        print(problem)
    checked = len(pages(root))
    print(f"docs check: {checked} pages, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""tools/docs_check.py: the docs name only make targets, console scripts and subcommands,
modules and files that exist, and it catches each kind of name that does not."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures import ROOT

_spec = importlib.util.spec_from_file_location("docs_check", ROOT / "tools" / "docs_check.py")
assert _spec and _spec.loader
docs_check = importlib.util.module_from_spec(_spec)
sys.modules["docs_check"] = docs_check  # its dataclasses look their module up
_spec.loader.exec_module(docs_check)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with this one's Makefile, pyproject.toml (its console scripts), a few
    tracked files and one docs page to write."""
    for name in ("Makefile", "pyproject.toml", ".gitignore"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "cdc" / "capture").mkdir(parents=True)
    (tmp_path / "cdc" / "capture" / "records.py").write_text("")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# other\n")
    (tmp_path / "README.md").write_text("# readme\n")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "add", "."], check=True)
    return tmp_path


def problems(repo: Path, text: str) -> list[str]:
    page = repo / "docs" / "page.md"
    page.write_text(text)
    return [p.what for p in docs_check.check(repo, [page])]


def test_the_repositorys_readme_and_docs_pass():
    found = docs_check.check(ROOT)
    assert found == [], "\n".join(map(str, found))
    assert docs_check.main([str(ROOT)]) == 0


def test_names_that_exist_pass(repo: Path):
    text = (
        'Run `make demo` or `make test PYTEST_ARGS="-k kcl -s"`, `make bench BENCH=<name>`;\n'
        "`cdc capture reset`, `stream-processor replay list|save NAME|reset ...`,\n"
        "`totesys-stack up|down|status|env`, `warehouse-loader migrations new design_file_size`,\n"
        "`python -m cost_model --write docs/page.md`; see `cdc/capture/records.py`, `cdc/`,\n"
        "`warehouse_loader/migrations/NNNN_x.sql` (a placeholder), `.venv/` (ignored),\n"
        "`bench/results.json` (ignored), [other](other.md#part), [up](../README.md).\n"
        "| `cdc` | `source init`, `simulate traffic`, `monitor` |\n"
        "```bash\nmake lint   # a comment\n```\n"
    )
    assert problems(repo, text) == []


def test_a_missing_make_target_is_caught(repo: Path):
    assert problems(repo, "then `make deploy-all` it\n") == [
        "make target 'deploy-all' is not in the Makefile"
    ]
    assert problems(repo, "```bash\nmake tset\n```\n") == [
        "make target 'tset' is not in the Makefile"
    ]


def test_a_missing_console_script_subcommand_is_caught(repo: Path):
    assert problems(repo, "run `cdc captrue` first\n") == ["cdc has no subcommand 'captrue'"]
    assert problems(repo, "`stream-processor replay list|sve NAME`\n") == [
        "stream-processor replay has no subcommand 'sve'"
    ]
    assert problems(repo, "| `warehouse-loader` | `migrate`, `reconcil` |\n") == [
        "warehouse-loader has no subcommand 'reconcil'"
    ]
    assert problems(repo, "`python -m bench.no_such_module`\n") == [
        "python -m bench.no_such_module: no such module"
    ]


def test_a_missing_file_path_or_link_is_caught(repo: Path):
    assert problems(repo, "read `cdc/capture/record.py` and `docs/gone.md`\n") == [
        "no such file or folder: cdc/capture/record.py",
        "no such file or folder: docs/gone.md",
    ]
    assert problems(repo, "`python -m cost_model --write docs/sizing.md`\n") == [
        "no such file or folder: docs/sizing.md"
    ]
    assert problems(repo, "see [the page](missing.md#part)\n") == [
        "link to a missing file: missing.md#part"
    ]


def test_problems_name_their_page_and_line_and_fail_the_command(repo: Path, capsys):
    (repo / "docs" / "page.md").write_text("fine\n\n`make nope`\n")
    assert docs_check.main([str(repo)]) == 1
    out = capsys.readouterr().out
    assert "docs/page.md:3: make target 'nope' is not in the Makefile" in out


def test_a_setting_no_code_reads_is_caught(repo: Path):
    (repo / "cdc" / "config.py").write_text('PREFIX = "TOTESYS_CDC_"\nport = PREFIX + "PG_PORT"\n')
    text = "`TOTESYS_CDC_PG_PORT=58432` and `TOTESYS_CDC_MAX_BATCH_AGESEC` (a typo)\n"
    assert problems(repo, text) == ["no code reads the setting TOTESYS_CDC_MAX_BATCH_AGESEC"]

"""The tests' own layout: no module under ``tests/`` imports a test module (one pytest
collects). Shared data, builders and helpers live in a folder's ``fixtures.py``, shared pytest
fixtures in its ``conftest.py``; a test module importing another runs that one's module-level
code, and its tests' names, in every importer. Read with ``ast``; nothing is imported."""

from __future__ import annotations

import ast
from fnmatch import fnmatch
from pathlib import Path

from tests.fixtures import ROOT

TEST_FILES = ("test_*.py", "*_test.py")  # pytest's default python_files, which pyproject keeps


def is_test_module(path: Path) -> bool:
    return any(fnmatch(path.name, pattern) for pattern in TEST_FILES)


def imported_modules(node: ast.Import | ast.ImportFrom, package: tuple[str, ...]) -> list[str]:
    """Every dotted name ``node`` may import a module by (``from a import b`` may import the
    module ``a.b``), relative imports resolved against ``package``."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = package[: len(package) - node.level + 1] if node.level else ()
    module = ".".join((*base, *(node.module.split(".") if node.module else ())))
    return [module, *(f"{module}.{alias.name}" for alias in node.names)]


def imports_of_test_modules(tests: Path) -> list[str]:
    """``path:line: import`` for every import of a test module by a module under the folder
    ``tests`` (the ``tests`` package: its parent is where its imports start)."""
    found = []
    for path in sorted(tests.rglob("*.py")):
        relative = path.relative_to(tests.parent)
        package = relative.parent.parts
        imports = [
            node
            for node in ast.walk(ast.parse(path.read_text(), str(path)))
            if isinstance(node, ast.Import | ast.ImportFrom)
        ]
        for node in sorted(imports, key=lambda node: node.lineno):
            for name in imported_modules(node, package):
                target = tests.parent.joinpath(*name.split(".")).with_suffix(".py")
                if name.split(".")[0] == tests.name and is_test_module(target) and target.is_file():
                    found.append(f"{relative}:{node.lineno}: {ast.unparse(node)}")
                    break
    return found


def test_no_module_under_tests_imports_a_test_module():
    assert imports_of_test_modules(ROOT / "tests") == []


def test_every_way_of_importing_a_test_module_is_caught_and_nothing_else(tmp_path: Path):
    tests = tmp_path / "tests"
    (tests / "stage").mkdir(parents=True)
    for name in ("__init__.py", "fixtures.py", "stage/__init__.py", "stage/fixtures.py"):
        (tests / name).write_text("")
    (tests / "stage" / "test_shared.py").write_text("ROW = {}\n\n\ndef test_it():\n    pass\n")
    (tests / "stage" / "loader_test.py").write_text("")
    (tests / "stage" / "test_importer.py").write_text(
        "import json\n"
        "from tests.fixtures import unique_name\n"
        "from tests.stage.fixtures import record\n"
        "from . import fixtures\n"
        "from tests.stage.test_shared import ROW\n"
        "import tests.stage.test_shared\n"
        "from tests.stage import test_shared\n"
        "from .test_shared import ROW as R\n"
        "from . import loader_test\n"
        "\n\n"
        "def test_late():\n"
        "    from tests.stage.test_shared import ROW\n"
    )
    (tests / "conftest.py").write_text("from .stage.test_shared import ROW\n")
    (tests / "stage" / "fixtures.py").write_text("from ..stage import test_shared\n")
    assert imports_of_test_modules(tests) == [
        "tests/conftest.py:1: from .stage.test_shared import ROW",
        "tests/stage/fixtures.py:1: from ..stage import test_shared",
        "tests/stage/test_importer.py:5: from tests.stage.test_shared import ROW",
        "tests/stage/test_importer.py:6: import tests.stage.test_shared",
        "tests/stage/test_importer.py:7: from tests.stage import test_shared",
        "tests/stage/test_importer.py:8: from .test_shared import ROW as R",
        "tests/stage/test_importer.py:9: from . import loader_test",
        "tests/stage/test_importer.py:13: from tests.stage.test_shared import ROW",
    ]

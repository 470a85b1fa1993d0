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


# The tests mirror the packages: a module ``pkg/sub/mod.py`` is tested in
# ``tests/pkg/sub/test_mod.py`` or ``tests/pkg/sub/test_mod_<aspect>.py``
# (``test_engine_on_stack.py`` for ``cdc/capture/engine.py``). local_stack is not listed yet:
# its split into subpackages is under way, and its tests' mirror comes with it.
MIRRORED_PACKAGES = (
    "contracts",
    "cdc",
    "stream_processor",
    "warehouse_loader",
    "warehouse_tools",
    "cost_model",
    "local_stack",
    "bench",
)
NOT_A_MODULE_OF_ITS_OWN = ("__init__.py",)  # a package's marker and re-exports

# Each module with no test at its mirrored path, and why; name the test that covers it if one
# does. A module here that gets its mirrored test fails this test until it leaves the list.
UNMIRRORED = {
    "local_stack/demo/__main__.py": "`python -m local_stack.demo`'s entry: run by `make demo`; "
    "the demo's run is tests/local_stack/demo/test_demo_drift.py's",
    "local_stack/demo/dashboard.py": "the demo's report, rendered and checked in "
    "tests/local_stack/demo/test_report.py",
    "local_stack/demo/run.py": "the demo itself, run with --alter in "
    "tests/local_stack/demo/test_demo_drift.py",
    "local_stack/demo/stats.py": "the demo's and bench's percentiles: no test of its own (a gap)",
    "local_stack/harness/capture_process.py": "the capture engine as a process, the capture "
    "fixture of tests/cdc/conftest.py (tests/cdc/capture/test_engine_on_stack.py)",
    "local_stack/harness/faults.py": "the e2e faults, injected in tests/e2e/test_pipeline_e2e.py",
    "local_stack/harness/observe.py": "what the e2e tests read back: every test under tests/e2e",
    "local_stack/harness/pipeline.py": "the pipeline of real processes every test under "
    "tests/e2e runs",
    "local_stack/harness/provision.py": "the pipeline's AWS resources and databases, made by "
    "local_stack/harness/pipeline.py in every test under tests/e2e",
    "local_stack/harness/tcp_proxy.py": "the Kinesis relay cut by the outage fault of "
    "tests/e2e/test_pipeline_e2e.py",
    "local_stack/services/aws.py": "the emulation's start and client, checked in "
    "tests/local_stack/services/test_stack.py",
    "local_stack/services/cli.py": "the shell of `totesys-stack`: no test runs it; what it calls "
    "(stack.up, down, status) is tests/local_stack/services/test_stack.py's (a gap)",
    "local_stack/services/config.py": "its variables read in "
    "tests/local_stack/services/test_stack.py (test_config_reads_the_documented_variables)",
    "local_stack/services/moto_app.py": "moto's Kinesis repairs, each checked in "
    "tests/local_stack/services/test_stack.py",
    "local_stack/services/postgres.py": "the two clusters and their roles, checked in "
    "tests/local_stack/services/test_stack.py and test_roles.py",
    "local_stack/services/processes.py": "start, stop and wait, checked in "
    "tests/local_stack/services/test_stack.py (test_readiness_waits_time_out_...)",
    "bench/__main__.py": "`make bench`'s runner: no test runs it (minutes on the local stack)",
    "bench/capture.py": "a benchmark, run only by `make bench`",
    "bench/e2e.py": "a benchmark, run only by `make bench`",
    "bench/full_load.py": "a benchmark, run only by `make bench`",
    "bench/lambda_runtime.py": "a benchmark, run only by `make bench`; its boto3_folder and "
    "python_312 are used by tests/warehouse_loader/test_package.py and test_handler.py",
    "bench/loader.py": "a benchmark, run only by `make bench`",
    "bench/loader_history.py": "a benchmark, run only by `make bench`",
    "bench/loader_scaling.py": "a benchmark, run only by `make bench`",
    "bench/processor.py": "a benchmark, run only by `make bench`",
    "bench/processor_scaling.py": "a benchmark, run only by `make bench`",
    "cdc/capture/replication.py": "the engine's streaming-replication edge: run by the engine "
    "as a process in tests/cdc/capture/test_engine_on_stack.py (the slot held by a walsender)",
    "cdc/capture/runner.py": "the engine's process shell: its exit codes and errors are seen "
    "from outside in tests/cdc/capture/test_engine_on_stack.py",
    "cdc/capture/source.py": "the engine's PostgreSQL query edge: run by the engine in "
    "tests/cdc/capture/test_engine_on_stack.py; its CatalogueColumn feeds "
    "test_engine_relations.py",
    "cdc/capture/status.py": "the engine's status file, read through `cdc monitor` in "
    "tests/cdc/monitor/test_local.py",
    "cdc/monitor/cli.py": "the shell of `cdc monitor`, run as a process in "
    "tests/cdc/monitor/test_local.py and test_aws.py",
    "cdc/simulator/rows.py": "the order rows of the dataset and the traffic: their rules are "
    "checked in tests/cdc/simulator/test_dataset.py and test_traffic_on_postgres.py",
    "cdc/simulator/vocabulary.py": "the words and codes the dataset draws: what it draws meets "
    "the schema's rules in tests/cdc/simulator/test_dataset.py",
    "cdc/source_schema.py": "the production DDL, made by tests/cdc/conftest.py's totesys_dsn "
    "for every ToteSys test on the stack; its TABLES and PRIMARY_KEYS read by "
    "tests/cdc/simulator/test_dataset.py",
    "stream_processor/cli.py": "a click entry point, run as a process in "
    "tests/stream_processor/test_kcl_processor_on_stack.py and tests/e2e/test_poison_e2e.py",
    "warehouse_loader/connection.py": "the handler's connection: Secrets Manager and reconnects "
    "in tests/warehouse_loader/test_handler.py, a pending migration refused in "
    "tests/local_stack/services/test_roles.py",
    "warehouse_loader/errors.py": "two exception classes and no behaviour: raised and classed "
    "in tests/warehouse_loader/test_load.py, test_read_file.py and test_handler_messages.py",
    "warehouse_loader/runner.py": "the local SQS poller: run end to end in "
    "tests/warehouse_loader/test_handler.py",
    "warehouse_tools/cli.py": "a click entry point, tested through its commands in "
    "tests/warehouse_tools/test_*.py and tests/warehouse_loader/test_rejected.py",
    "warehouse_tools/ddl.py": "the DDL reader: the migrations and the ToteSys DDL read with it in "
    "tests/contracts/test_star_schema_ddl.py and test_change_records.py",
    "warehouse_tools/freshness.py": "`warehouse-loader status`, run as a process in "
    "tests/warehouse_loader/test_handler.py",
    "warehouse_tools/redrive.py": "redrives the rejected rows it is tested with, in "
    "tests/warehouse_loader/test_rejected.py",
    "cost_model/__main__.py": "`python -m cost_model`: two lines calling cost_model/cli.py, "
    "whose test is tests/cost_model/test_cli.py",
}


def mirrored_tests(root: Path, packages: tuple[str, ...]) -> tuple[dict[str, list[str]], list[str]]:
    """Each module of ``packages`` (under ``root``) with the test modules at its mirrored path,
    and the modules with none. A test module is a module's when its name is ``test_<module>``
    or ``test_<module>_<aspect>`` and no module beside it has a longer name it also fits
    (``test_batch_get.py`` is ``batch_get.py``'s, not ``batch.py``'s)."""
    tested: dict[str, list[str]] = {}
    for package in packages:
        for module in sorted((root / package).rglob("*.py")):
            if module.name in NOT_A_MODULE_OF_ITS_OWN or "__pycache__" in module.parts:
                continue
            tested[module.relative_to(root).as_posix()] = []
    for name in list(tested):
        module = Path(name)
        folder = root / "tests" / module.parent
        siblings = {other.stem for other in map(Path, tested) if other.parent == module.parent}
        for test in sorted(folder.glob("test_*.py")):
            subject = test.stem.removeprefix("test_")
            fits = [s for s in siblings if subject == s or subject.startswith(f"{s}_")]
            if fits and max(fits, key=len) == module.stem:
                tested[name].append(test.relative_to(root).as_posix())
    return tested, [name for name, tests in tested.items() if not tests]


def test_every_module_has_a_test_at_its_mirrored_path_or_a_reason_it_has_none():
    _, missing = mirrored_tests(ROOT, MIRRORED_PACKAGES)
    assert [m for m in missing if m not in UNMIRRORED] == [], "add its test, or say why not"
    assert [m for m in UNMIRRORED if m not in missing] == [], "has its test now: off the list"


def test_a_module_s_test_is_the_one_its_name_fits_longest(tmp_path: Path):
    for path in (
        "pkg/__init__.py",
        "pkg/batch.py",
        "pkg/batch_get.py",
        "pkg/daemon.py",
        "pkg/lonely.py",
        "pkg/sub/engine.py",
        "tests/pkg/test_batch_get.py",
        "tests/pkg/test_daemon_logging.py",
        "tests/pkg/test_daemon.py",
        "tests/pkg/test_lonelyness.py",
        "tests/pkg/test_engine.py",
        "tests/pkg/sub/test_engine_on_stack.py",
    ):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("")
    tested, missing = mirrored_tests(tmp_path, ("pkg",))
    assert tested == {
        "pkg/batch.py": [],
        "pkg/batch_get.py": ["tests/pkg/test_batch_get.py"],
        "pkg/daemon.py": ["tests/pkg/test_daemon.py", "tests/pkg/test_daemon_logging.py"],
        "pkg/lonely.py": [],
        "pkg/sub/engine.py": ["tests/pkg/sub/test_engine_on_stack.py"],
    }
    assert missing == ["pkg/batch.py", "pkg/lonely.py"]

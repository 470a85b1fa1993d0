"""Session-wide local stack and per-test clean state.

The stack is started once per test session, or reused when one is already running (then it
is left running). Each test gets fresh databases and fresh AWS resource names, so tests never
see each other's data, and so independent tests can run side by side: under pytest-xdist
(``make test`` runs ``-n``), the controlling process starts the stack before its workers
start and stops it after they have all finished, and each worker finds it up.

Every test that reaches the stack is marked ``stack``: those using ``stack_cfg`` (directly or
through another fixture) are marked here at collection, so ``pytest -m "not stack"`` (``make
test-fast``) runs exactly the tests that need no service. A test that reaches the stack some
other way (``request.getfixturevalue``) marks itself; if it does not, ``stack_cfg`` fails it
in a run that deselects ``stack`` instead of starting services.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from local_stack.services import aws, postgres, stack
from local_stack.services import config as stack_config
from local_stack.services.config import SOURCE, StackConfig
from tests.fixtures import unique_name


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``stack`` every test whose fixtures include ``stack_cfg``."""
    for item in items:
        if "stack_cfg" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.stack)


STACK_STARTED = pytest.StashKey[StackConfig]()


def _runs_workers(config: pytest.Config) -> bool:
    """This process controls pytest-xdist workers (``-n N``, N > 0), and the run may hold
    stack tests."""
    return (
        not hasattr(config, "workerinput")
        and bool(getattr(config.option, "numprocesses", None))
        and "not stack" not in (config.getoption("markexpr") or "")
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    """With workers, the stack is started once, here, before any worker starts (the workers'
    ``stack_cfg`` finds it up and leaves it up)."""
    if _runs_workers(session.config):
        cfg = stack_config.load()
        if not stack.is_up(cfg):
            stack.up(cfg)
            session.config.stash[STACK_STARTED] = cfg


def pytest_sessionfinish(session: pytest.Session) -> None:
    """After every worker has finished: stop the stack if it was started here."""
    cfg = session.config.stash.get(STACK_STARTED, None)
    if cfg is not None:
        stack.down(cfg)


@pytest.fixture(scope="session")
def stack_cfg(request: pytest.FixtureRequest) -> Iterator[StackConfig]:
    """The running local stack's configuration (started here if it was not up)."""
    if "not stack" in (request.config.getoption("markexpr") or ""):
        pytest.fail(
            "this test reaches the local stack without the 'stack' marker, in a run that "
            "deselects it (-m 'not stack'): mark it (pytest.mark.stack or pytest.param(..., "
            "marks=pytest.mark.stack))",
            pytrace=False,
        )
    cfg = stack_config.load()
    started_here = not stack.is_up(cfg)
    if started_here:
        stack.up(cfg)
    yield cfg
    if started_here:
        stack.down(cfg)


@pytest.fixture
def fresh_database(stack_cfg: StackConfig) -> Iterator[Callable[[str], str]]:
    """Factory: create an empty database named after ``prefix`` on a cluster (the source's
    unless ``cluster=WAREHOUSE``); returns its superuser DSN. Every database made is dropped
    after the test."""
    made: list[str] = []

    def make(prefix: str, *, cluster: str = SOURCE) -> str:
        name = unique_name(prefix).replace("-", "_")
        made.append(name)
        return postgres.create_database(stack_cfg, name, cluster=cluster)

    yield make
    for name in made:
        postgres.drop_database(stack_cfg, name)


@pytest.fixture
def aws_client(stack_cfg: StackConfig) -> Callable[[str], object]:
    """Factory: a boto3 client for a service of the local AWS emulation."""
    return lambda service: aws.client(stack_cfg, service)

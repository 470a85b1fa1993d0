"""``totesys-stack up|down|status``: the local stack from the command line."""

from __future__ import annotations

import shlex
import sys

import click
from rich.console import Console
from rich.table import Table

from local_stack.services import config as stack_config
from local_stack.services import stack
from local_stack.services.processes import StackError

console = Console()


def print_status(statuses: list[stack.ServiceStatus]) -> None:
    table = Table(title="ToteSys CDC local stack")
    table.add_column("service")
    table.add_column("state")
    table.add_column("address", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for s in statuses:
        table.add_row(s.name, "[green]up[/]" if s.healthy else "[red]down[/]", s.address, s.detail)
    console.print(table)


@click.group()
def main() -> None:
    """Manage the local stack (PostgreSQL + AWS emulation on 127.0.0.1)."""


@main.command()
def up() -> None:
    """Start the stack (idempotent) and wait until every service is healthy."""
    _run(lambda: print_status(stack.up(stack_config.load())))


@main.command()
def down() -> None:
    """Stop the stack; its data stays under the state folder."""
    _run(lambda: stack.down(stack_config.load()))


@main.command()
def status() -> None:
    """Show each service's health; exit 1 when any is down."""

    def show() -> None:
        statuses = stack.status(stack_config.load())
        print_status(statuses)
        if not all(s.healthy for s in statuses):
            sys.exit(1)

    _run(show)


@main.command()
def env() -> None:
    """Print shell exports that point the project's commands at this stack:
    eval "$(totesys-stack env)"."""
    for key, value in stack_config.app_env(stack_config.load()).items():
        click.echo(f"export {key}={shlex.quote(value)}")


def _run(action) -> None:  # noqa: ANN001 - a zero-argument callable
    try:
        action()
    except StackError as exc:
        console.print(f"[red]error:[/] {exc}")
        sys.exit(1)


if __name__ == "__main__":
    main()

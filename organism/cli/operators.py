"""``organism operators``: the named accounts of the console, Flower and ``/metrics`` (organism/operators.py)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import click
from rich.console import Console
from rich.table import Table

from organism import operators as accounts
from organism.cli.audit import audited_command
from organism.cli.context import ensure_store, services_or_exit, settings_or_exit
from organism.store.models import OperatorRole

P = ParamSpec("P")
R = TypeVar("R")
ROLES = click.Choice([role.value for role in OperatorRole])
console = Console()


@click.group()
def operators() -> None:
    """Operators: who may read (viewer) and act (operator) in the console and Flower.

    \b
    Examples:
      organism operators add alice --role operator
      printf '%s\\n' "$PASSWORD" | organism operators add prometheus --role viewer --password-stdin
      organism operators role alice viewer
    """


def _store() -> str:
    settings = settings_or_exit()
    ensure_store(settings)
    return settings.database


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt="Again"))


def _one_line(command: Callable[P, R]) -> Callable[P, R]:
    """An :class:`~organism.operators.OperatorError` is the command's one line (exit 1)."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except accounts.OperatorError as error:
            raise click.ClickException(str(error)) from None

    return run


STDIN = click.option("--password-stdin", "from_stdin", is_flag=True,
                     help="Read the password from the first line of standard input instead of asking twice.")


@operators.command()
@click.argument("name")
@click.option("--role", type=ROLES, required=True, help="viewer reads; operator also acts.")
@STDIN
@services_or_exit
@_one_line
def add(name: str, role: str, from_stdin: bool) -> None:
    """Create an account (NAME: lower-case letters, digits, '.', '_', '-')."""
    url = _store()
    if accounts.get(url, accounts.check_name(name)) is not None:  # before asking for a password
        raise accounts.taken(name)
    password = _password(from_stdin)
    with audited_command(settings_or_exit(), action="operator.add", target=name, detail={"role": role}) as entry:
        account = accounts.add(url, name, role, password)
        entry.outcome_detail = f"added as {account.role.value}"
    click.echo(f"operator {account.name} added as {account.role.value}")


@operators.command("list")
@services_or_exit
def list_() -> None:
    """List the accounts, with their failed log-ins since the last good one."""
    table = Table("name", "role", "created", "failed log-ins", "last failure")
    for account in accounts.accounts(_store()):
        last = f"{account.last_failed_at:%Y-%m-%d %H:%M:%S %Z}" if account.last_failed_at else ""
        table.add_row(account.name, account.role.value, f"{account.created_at:%Y-%m-%d %H:%M %Z}",
                      str(account.failed_logins), last)
    console.print(table)


@operators.command()
@click.argument("name")
@services_or_exit
@_one_line
def remove(name: str) -> None:
    """Delete an account; its sessions end with it."""
    url = _store()
    with audited_command(settings_or_exit(), action="operator.remove", target=name, detail={}):
        accounts.remove(url, name)
    click.echo(f"operator {name} removed")


@operators.command()
@click.argument("name")
@click.argument("role", type=ROLES)
@services_or_exit
@_one_line
def role(name: str, role: str) -> None:
    """Give an account another role."""
    url = _store()
    with audited_command(settings_or_exit(), action="operator.role", target=name, detail={"role": role}):
        accounts.set_role(url, name, role)
    click.echo(f"operator {name} is now {role}")


@operators.command()
@click.argument("name")
@STDIN
@services_or_exit
@_one_line
def passwd(name: str, from_stdin: bool) -> None:
    """Set an account's password; its sessions end and its failed log-ins are cleared."""
    url = _store()
    if accounts.get(url, name) is None:  # before asking for a password
        raise accounts.unknown(name)
    password = _password(from_stdin)
    with audited_command(settings_or_exit(), action="operator.passwd", target=name, detail={}):
        accounts.set_password(url, name, password)
    click.echo(f"password of {name} changed")

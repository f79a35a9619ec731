"""``svyaz operator``: the people who use the desk — add (password asked twice, or read from
standard input), list, disable, enable, remove.

It uses the bot's Redis like ``svyaz export`` (``bots.access.bot_store``), so it works while
the bot runs, and speaks the owner's language (Russian unless ``SVYAZ_LANG=en``). This module
only parses arguments, reads the password and prints; the records are ``storage.desk``'s and
the hashing ``bots.desk.passwords``'.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

from pydantic import ValidationError

from bots.access import bot_store
from bots.cmd_flows import owner_says
from bots.config import Settings
from bots.desk.passwords import MIN_LENGTH, WeakPassword, hash_password
from flows.errors import SvyazError
from storage.desk import Role
from storage.keyparts import check_operator


def register(sub: argparse._SubParsersAction[Any]) -> None:
    operator = sub.add_parser("operator", help=owner_says("cli.operator"),
                              description=owner_says("cli.operator.about"))
    actions = operator.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help=owner_says("cli.operator.add"),
                             description=owner_says("cli.operator.add"))
    add.add_argument("name", help=owner_says("cli.operator.name"))
    add.add_argument("--owner", action="store_true", help=owner_says("cli.operator.owner"))
    actions.add_parser("list", help=owner_says("cli.operator.list"))
    for action in ("disable", "enable", "remove"):
        text = owner_says(f"cli.operator.{action}")
        actions.add_parser(action, help=text, description=text).add_argument(
            "name", help=owner_says("cli.operator.name"))
    operator.set_defaults(handler=operator_command)


def _password() -> str | None:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(owner_says("operator.password"))
    if first != getpass.getpass(owner_says("operator.again")):
        print(f"svyaz operator: {owner_says('operator.differ')}", file=sys.stderr)
        return None
    return first


async def _add(settings: Settings, args: argparse.Namespace) -> int:
    try:
        check_operator(args.name)
    except ValueError:
        print(f"svyaz operator: {owner_says('operator.bad_name', name=repr(args.name))}",
              file=sys.stderr)
        return 1
    password = _password()
    if password is None:
        return 1
    try:
        hashed = await asyncio.to_thread(hash_password, password)
    except WeakPassword:
        print(f"svyaz operator: {owner_says('operator.short', least=MIN_LENGTH)}", file=sys.stderr)
        return 1
    async with bot_store(settings) as bot:
        role: Role = "owner" if args.owner else "operator"
        if not await bot.store.desk.operators.add(args.name, hashed, role):
            print(f"svyaz operator: {owner_says('operator.exists', name=repr(args.name))}",
                  file=sys.stderr)
            return 1
    print(owner_says("operator.added", role=owner_says(f"operator.{role}"), name=args.name))
    return 0


async def _list(settings: Settings, args: argparse.Namespace) -> int:
    async with bot_store(settings) as bot:
        for op in await bot.store.desk.operators.all():
            state = owner_says("operator.disabled" if op.disabled else "operator.active")
            print(f"{op.name}\t{owner_says(f'operator.{op.role}')}\t{state}")
    return 0


async def _change(settings: Settings, args: argparse.Namespace) -> int:
    async with bot_store(settings) as bot:
        operators = bot.store.desk.operators
        if args.action == "remove":
            done = await operators.remove(args.name)
        else:
            done = await operators.set_disabled(args.name, args.action == "disable")
    if not done:
        print(f"svyaz operator: {owner_says('operator.no_operator', name=repr(args.name))}",
              file=sys.stderr)
        return 1
    print(owner_says(f"operator.done_{args.action}", name=args.name))
    return 0


def operator_command(args: argparse.Namespace) -> int:
    job = {"add": _add, "list": _list}.get(args.action, _change)
    try:
        settings = Settings(_env_file=".env")
    except ValidationError as exc:
        print(f"svyaz: {owner_says('data.bad_settings', error=exc)}", file=sys.stderr)
        return 2
    try:
        code: int = asyncio.run(job(settings, args))
    except (SvyazError, ValueError) as exc:
        print(f"svyaz operator: {exc}", file=sys.stderr)
        return 1
    return code

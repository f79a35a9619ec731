"""``svyaz operator``: the people who use the desk — add (password asked twice, or read from
standard input), list, disable, enable, remove.

It uses the bot's Redis like ``svyaz export`` (``bots.access.bot_store``), so it works while
the bot runs. This module only parses arguments, reads the password and prints; the records
are ``storage.desk``'s and the hashing ``bots.desk.passwords``'.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

from pydantic import ValidationError

from bots.access import bot_store
from bots.config import Settings
from bots.desk.passwords import WeakPassword, hash_password
from flows.errors import SvyazError
from storage.desk import Role
from storage.keyparts import check_operator


def register(sub: argparse._SubParsersAction[Any]) -> None:
    operator = sub.add_parser(
        "operator", help="manage the people who answer customers at /desk",
        description="Add, list, disable, enable and remove desk operators.")
    actions = operator.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add an operator (asks for the password twice; "
                                         "reads it from standard input when that is no terminal)")
    add.add_argument("name", help="login and the name customers see (letters, digits, . _ -)")
    add.add_argument("--owner", action="store_true",
                     help="an owner: also reads the audit log, exports and manages operators")
    actions.add_parser("list", help="list operators")
    for action, text in (("disable", "disable an operator (ends their sessions)"),
                         ("enable", "enable a disabled operator"),
                         ("remove", "remove an operator")):
        actions.add_parser(action, help=text).add_argument("name")
    operator.set_defaults(handler=operator_command)


def _password() -> str | None:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Пароль: ")
    if first != getpass.getpass("Ещё раз: "):
        print("svyaz operator: the two passwords differ", file=sys.stderr)
        return None
    return first


async def _add(settings: Settings, args: argparse.Namespace) -> int:
    check_operator(args.name)
    password = _password()
    if password is None:
        return 1
    try:
        hashed = await asyncio.to_thread(hash_password, password)
    except WeakPassword as exc:
        print(f"svyaz operator: {exc}", file=sys.stderr)
        return 1
    async with bot_store(settings) as bot:
        role: Role = "owner" if args.owner else "operator"
        if not await bot.store.desk.operators.add(args.name, hashed, role):
            print(f"svyaz operator: {args.name!r} exists", file=sys.stderr)
            return 1
    print(f"added {role} {args.name}")
    return 0


async def _list(settings: Settings, args: argparse.Namespace) -> int:
    async with bot_store(settings) as bot:
        for op in await bot.store.desk.operators.all():
            print(f"{op.name}\t{op.role}\t{'disabled' if op.disabled else 'active'}")
    return 0


async def _change(settings: Settings, args: argparse.Namespace) -> int:
    async with bot_store(settings) as bot:
        operators = bot.store.desk.operators
        if args.action == "remove":
            done = await operators.remove(args.name)
        else:
            done = await operators.set_disabled(args.name, args.action == "disable")
    if not done:
        print(f"svyaz operator: no operator {args.name!r}", file=sys.stderr)
        return 1
    print(f"{args.action}d {args.name}")
    return 0


def operator_command(args: argparse.Namespace) -> int:
    job = {"add": _add, "list": _list}.get(args.action, _change)
    try:
        settings = Settings(_env_file=".env")
    except ValidationError as exc:
        print(f"svyaz: bad settings: {exc}", file=sys.stderr)
        return 2
    try:
        code: int = asyncio.run(job(settings, args))
    except (SvyazError, ValueError) as exc:
        print(f"svyaz operator: {exc}", file=sys.stderr)
        return 1
    return code

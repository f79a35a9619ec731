"""``svyaz export`` (history as JSONL or CSV) and ``svyaz forget`` (erase one customer).

Both use the bot's Redis: ``SVYAZ_REDIS_URL``, or the embedded Redis under ``SVYAZ_DATA_DIR``
(default ``./data``), namespace ``SVYAZ_BOT``. A customer is named by its id or by one of its
accounts (``vk:123``, ``max:456``, ``web:<session>``). This module only parses arguments and
prints; the work is ``storage``'s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import ValidationError

from bots.config import Settings
from flows.errors import SvyazError
from storage.client import open_store
from storage.store import Store


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this module's sub-commands to the parser."""
    export = sub.add_parser(
        "export",
        help="export conversation history (JSONL or CSV)",
        description="Write the history of every customer, or of one, as JSONL or CSV.",
    )
    export.add_argument(
        "--customer",
        help="customer id or account (vk:123); default: all. An id that starts with '-' "
        "is written --customer=-abc",
    )
    export.add_argument(
        "--format", choices=("jsonl", "csv"), help="default: from --out's suffix, else jsonl"
    )
    export.add_argument("--out", type=Path, help="output file (default: standard output)")
    export.set_defaults(handler=export_command)
    forget = sub.add_parser(
        "forget",
        help="erase a customer and everything about them (152-FZ)",
        description="Erase a customer's state, history, profile, consents, accounts, links, "
        "pending messages and reminder index. Cannot be undone.",
    )
    forget.add_argument(
        "customer",
        help="customer id or account (vk:123). An id that starts with '-' goes after '--': "
        "svyaz forget --yes -- -abc",
    )
    forget.add_argument("--yes", action="store_true", help="really erase (required)")
    forget.set_defaults(handler=forget_command)


def _settings() -> Settings:
    return Settings(_env_file=".env")


async def _customer(store: Store, name: str) -> str | None:
    if ":" in name:
        return await store.identities.customer_of(name)
    return name if await store.redis.exists(*store.keys.customer_keys(name)) else None


def _format(args: argparse.Namespace) -> Literal["jsonl", "csv"]:
    if args.format:
        return "csv" if args.format == "csv" else "jsonl"
    return "csv" if args.out is not None and args.out.suffix.lower() == ".csv" else "jsonl"


async def _export(settings: Settings, args: argparse.Namespace) -> int:
    async with open_store(settings.redis_url, settings.data_dir, bot=settings.bot) as store:
        customer = None
        if args.customer:
            customer = await _customer(store, args.customer)
            if customer is None:
                print(f"svyaz export: no customer {args.customer!r}", file=sys.stderr)
                return 1
        with contextlib.ExitStack() as stack:
            out: IO[str] = sys.stdout
            if args.out is not None:
                out = stack.enter_context(args.out.open("w", encoding="utf-8", newline=""))
            written = await store.history.export(customer, _format(args), out)
    print(f"exported {written} messages", file=sys.stderr)
    return 0


async def _forget(settings: Settings, args: argparse.Namespace) -> int:
    async with open_store(settings.redis_url, settings.data_dir, bot=settings.bot) as store:
        customer = await _customer(store, args.customer)
        if customer is None:
            print(f"svyaz forget: no customer {args.customer!r}", file=sys.stderr)
            return 1
        accounts = [a.account for a in await store.identities.accounts(customer)]
        if not args.yes:
            print(
                f"would erase customer {customer} (accounts: {', '.join(accounts) or 'none'}); "
                "run again with --yes to erase",
                file=sys.stderr,
            )
            return 1
        reminders = await store.forget(customer)
    print(f"erased customer {customer}: {len(accounts)} accounts, {len(reminders)} reminders")
    return 0


def _run(job: Any, args: argparse.Namespace) -> int:
    try:
        settings = _settings()
    except ValidationError as exc:
        print(f"svyaz: bad settings: {exc}", file=sys.stderr)
        return 2
    try:
        code: int = asyncio.run(job(settings, args))
    except SvyazError as exc:
        print(f"svyaz {args.command}: {exc}", file=sys.stderr)
        return 1
    return code


def export_command(args: argparse.Namespace) -> int:
    return _run(_export, args)


def forget_command(args: argparse.Namespace) -> int:
    return _run(_forget, args)

"""``svyaz export`` (history as JSONL or CSV), ``svyaz forget`` (erase one customer),
``svyaz backup`` and ``svyaz restore`` (the data folder's copy).

They use the bot's Redis (``bots.access.bot_store``): ``SVYAZ_REDIS_URL``, or the embedded Redis
under ``SVYAZ_DATA_DIR`` (default ``./data``) — a running bot's own, so export, forget and
backup need no downtime; restore needs the bot stopped. Namespace ``SVYAZ_BOT``. A customer is
named by its id, by one of its accounts (``vk:123``, ``max:456``, ``web:<session>``) or by
the phone it gave with consent (``sms:+79161234567``). This module only parses arguments and
prints; the work is ``storage``'s and ``bots.access``'s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import ValidationError

from bots.access import EXTERNAL_FILES, BotStore, bot_store, erase, reminder_service
from bots.config import Settings
from connectors.registry import INSTALLED
from flows.errors import SvyazError
from storage.desk import EVERYONE
from storage.store import Store

SIGPIPE_EXIT = 141  # what a shell reports for a command stopped by a closed pipe (| head)


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
        "pending messages and reminders, and rewrite the embedded Redis's files so that no "
        "file in the data folder keeps them. Works while the bot runs. Cannot be undone.",
    )
    forget.add_argument(
        "customer",
        help="customer id or account (vk:123). An id that starts with '-' goes after '--': "
        "svyaz forget --yes -- -abc",
    )
    forget.add_argument("--yes", action="store_true", help="really erase (required)")
    forget.set_defaults(handler=forget_command)
    _register_backup(sub)


def _register_backup(sub: argparse._SubParsersAction[Any]) -> None:
    backup = sub.add_parser(
        "backup", help="copy the data folder's Redis into FILE (while the bot runs)",
        description="Write a consistent snapshot (RDB) of the embedded Redis to FILE, while "
        "the bot runs. Keep it outside the data folder, on another disk or machine.",
    )
    backup.add_argument("file", type=Path, help="where to write the snapshot")
    backup.set_defaults(handler=backup_command)
    restore = sub.add_parser(
        "restore", help="bring a backup back into the data folder (the bot stopped)",
        description="Replace the data folder's Redis data with the snapshot FILE made by "
        "svyaz backup. Stop the bot first.",
    )
    restore.add_argument("file", type=Path, help="a snapshot made by svyaz backup")
    restore.add_argument("--replace", action="store_true",
                         help="replace the data the folder already holds (required then)")
    restore.set_defaults(handler=restore_command)


def _settings() -> Settings:
    return Settings(_env_file=".env")


async def _customer(store: Store, name: str) -> str | None:
    """By id, by account (``vk:123``) or by a send-only account (``sms:+79161234567``)."""
    if (sent_to := INSTALLED.sent_to(name)) is not None:
        info, value = sent_to
        return await store.profiles.find_by_phone(value) if info.address == "phone" else None
    if ":" in name:
        return await store.identities.customer_of(name)
    return name if await store.redis.exists(*store.keys.customer_keys(name)) else None


def _format(args: argparse.Namespace) -> Literal["jsonl", "csv"]:
    if args.format:
        return "csv" if args.format == "csv" else "jsonl"
    return "csv" if args.out is not None and args.out.suffix.lower() == ".csv" else "jsonl"


async def _export(settings: Settings, args: argparse.Namespace) -> int:
    async with bot_store(settings) as bot:
        store = bot.store
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
            written = await store.history.export(customer, _format(args), out,
                                                 copies=store.files.outcomes)
        # 152-FZ: who saw whose data — the owner's audit log has every export, this one too
        await store.desk.audit.record("svyaz export", "export", customer or EVERYONE)
        copies = await _copies(store, customer)
    print(f"exported {written} messages", file=sys.stderr)
    for line in copies:
        print(line, file=sys.stderr)
    return 0


async def _copies(store: Store, customer: str | None) -> list[str]:
    """One line per kept copy of a file the customer (or any customer) sent."""
    lines = []
    for who in [customer] if customer else await store.history.customers():
        for f in await store.files.listing(who):
            lines.append(f"file {store.files.path(f.id)} customer={who} kind={f.kind} "
                         f"type={f.mime} bytes={f.size} name={f.name or '-'}")
    if lines:
        lines.insert(0, f"{len(lines)} files kept (their ids are in the messages' attachments):")
    return lines


async def _forget(settings: Settings, args: argparse.Namespace) -> int:
    async with bot_store(settings) as bot:
        customer = await _customer(bot.store, args.customer)
        if customer is None:
            print(f"svyaz forget: no customer {args.customer!r}", file=sys.stderr)
            return 1
        if not args.yes:
            accounts = [a.account for a in await bot.store.identities.accounts(customer)]
            print(
                f"would erase customer {customer} (accounts: {', '.join(accounts) or 'none'}); "
                "run again with --yes to erase",
                file=sys.stderr,
            )
            return 1
        return await _erase(bot, customer, settings)


async def _erase(bot: BotStore, customer: str, settings: Settings) -> int:
    async with reminder_service(bot, settings) as reminders:
        done = await erase(bot.store, customer, reminders=reminders, local=bot.local)
    print(f"erased customer {customer}: {done.accounts} accounts, {done.reminders} reminders")
    if done.files == "rewritten":
        print(f"the Redis files in {settings.data_dir} were rewritten: none of them holds "
              "this customer any more")
    elif done.files == "external":
        print(f"note: {EXTERNAL_FILES}")
    print("backups made before now (svyaz backup) still hold them until you delete those")
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
    try:
        return _run(_export, args)
    except BrokenPipeError:  # the reader stopped (| head): end quietly, as cat would
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # (the exit flush)
        return SIGPIPE_EXIT


def forget_command(args: argparse.Namespace) -> int:
    return _run(_forget, args)


def _local_only(settings: Settings, command: str) -> bool:
    if settings.redis_url is None:
        return True
    print(f"svyaz {command}: SVYAZ_REDIS_URL is set: back up and restore that Redis server "
          "with its own tools (its RDB snapshot, your provider's backups)", file=sys.stderr)
    return False


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


async def _backup(settings: Settings, args: argparse.Namespace) -> int:
    from storage.persistence import snapshot

    if not _local_only(settings, "backup"):
        return 2
    if _inside(args.file, settings.data_dir):
        print(f"svyaz backup: {args.file} is inside the data folder {settings.data_dir}: keep "
              "backups elsewhere (another disk or machine), so that losing the folder does "
              "not lose them and an erasure's rewrite of the folder is complete", file=sys.stderr)
        return 2
    async with bot_store(settings) as bot:
        keys = await bot.store.redis.dbsize()
        size = await snapshot(bot.store.redis, args.file)
    print(f"backup written to {args.file}: {keys} keys, {size} bytes")
    return 0


def backup_command(args: argparse.Namespace) -> int:
    return _run(_backup, args)


def restore_command(args: argparse.Namespace) -> int:
    return _run(_restore, args)


async def _restore(settings: Settings, args: argparse.Namespace) -> int:
    from bots.access import running_embedded
    from storage.embedded import EmbeddedRedis

    if not _local_only(settings, "restore"):
        return 2
    problem = _restore_problem(args.file)
    if problem is None and running_embedded(settings.data_dir):
        problem = "the bot is running on this data folder: stop it first"
    server = EmbeddedRedis(settings.data_dir, folder_wait=0)
    if problem is None and server.holds_data() and not args.replace:
        problem = (f"{settings.data_dir} already holds data; restoring replaces it: run "
                   "again with --replace (svyaz backup it first if you may need it)")
    if problem is not None:
        print(f"svyaz restore: {problem}", file=sys.stderr)
        return 2
    keys = await asyncio.to_thread(server.load_snapshot, args.file)
    print(f"restored {keys} keys into {settings.data_dir}; start the bot with: svyaz run")
    return 0


def _restore_problem(file: Path) -> str | None:
    try:
        with file.open("rb") as f:
            magic = f.read(5)
    except OSError as exc:
        return f"cannot read {file}: {exc.strerror}"
    return None if magic == b"REDIS" else f"{file} is not a backup made by svyaz backup"

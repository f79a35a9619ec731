"""``svyaz export`` (history as JSONL or CSV), ``svyaz forget`` (erase one customer),
``svyaz backup`` and ``svyaz restore`` (the data folder's copy).

They use the bot's Redis (``bots.access.bot_store``): ``SVYAZ_REDIS_URL``, or the embedded Redis
under ``SVYAZ_DATA_DIR`` (default ``./data``) — a running bot's own, so export, forget and
backup need no downtime; restore needs the bot stopped. Namespace ``SVYAZ_BOT``. A customer is
named by its id, by one of its accounts (``vk:123``, ``max:456``, ``web:<session>``) or by
the phone it gave with consent (``sms:+79161234567``). Export, forget and backup read an
existing data folder only (a wrong working folder is said so, never a fresh empty ``./data``
answered "0 messages"); restore may fill a new one. They speak the owner's language (Russian
unless ``SVYAZ_LANG=en``). This module only parses arguments and prints; the work is
``storage``'s and ``bots.access``'s.
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

from bots.access import BotStore, bot_store, erase, reminder_service
from bots.cmd_flows import owner_says
from bots.config import Settings
from connectors.registry import INSTALLED
from flows.errors import SvyazError
from storage.desk import EVERYONE
from storage.store import Store

SIGPIPE_EXIT = 141  # what a shell reports for a command stopped by a closed pipe (| head)


def _command(sub: argparse._SubParsersAction[Any], name: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=owner_says(f"cli.{name}"), description=owner_says(f"cli.{name}.about"))
    return parser


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this module's sub-commands to the parser (their help in the owner's language)."""
    export = _command(sub, "export")
    export.add_argument("--customer", help=owner_says("cli.export.customer"))
    export.add_argument("--format", choices=("jsonl", "csv"), help=owner_says("cli.export.format"))
    export.add_argument("--out", type=Path, help=owner_says("cli.export.out"))
    export.set_defaults(handler=export_command)
    forget = _command(sub, "forget")
    forget.add_argument("customer", help=owner_says("cli.forget.customer"))
    forget.add_argument("--yes", action="store_true", help=owner_says("cli.forget.yes"))
    forget.set_defaults(handler=forget_command)
    backup = _command(sub, "backup")
    backup.add_argument("file", type=Path, help=owner_says("cli.backup.file"))
    backup.set_defaults(handler=backup_command)
    restore = _command(sub, "restore")
    restore.add_argument("file", type=Path, help=owner_says("cli.restore.file"))
    restore.add_argument("--replace", action="store_true", help=owner_says("cli.restore.replace"))
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
    _read_from(settings)
    async with bot_store(settings) as bot:
        store = bot.store
        customer = None
        if args.customer:
            customer = await _customer(store, args.customer)
            if customer is None:
                print(f"svyaz export: {owner_says('data.no_customer', name=repr(args.customer))}",
                      file=sys.stderr)
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
        profile = await _profile(store, customer)
    print(owner_says("data.exported", count=written), file=sys.stderr)
    if profile:
        print(profile, file=sys.stderr)
    for line in copies:
        print(line, file=sys.stderr)
    return 0


async def _profile(store: Store, customer: str | None) -> str:
    """One customer's profile fields (the name a platform showed or they gave, phone,
    e-mail: the messages do not hold them), for an export of that customer; "" for all."""
    if customer is None:
        return ""
    found = await store.profiles.get(customer)
    return owner_says("data.profile", name=found.name or "—", phone=found.phone or "—",
                email=found.email or "—")


async def _copies(store: Store, customer: str | None) -> list[str]:
    """One line per kept copy of a file the customer (or any customer) sent."""
    lines = []
    for who in [customer] if customer else await store.history.customers():
        for f in await store.files.listing(who):
            lines.append(f"file {store.files.path(f.id)} customer={who} kind={f.kind} "
                         f"type={f.mime} bytes={f.size} name={f.name or '-'}")
    if lines:
        lines.insert(0, owner_says("data.files_kept", count=len(lines)))
    return lines


async def _forget(settings: Settings, args: argparse.Namespace) -> int:
    _read_from(settings)
    async with bot_store(settings) as bot:
        customer = await _customer(bot.store, args.customer)
        if customer is None:
            print(f"svyaz forget: {owner_says('data.no_customer', name=repr(args.customer))}",
                  file=sys.stderr)
            return 1
        if not args.yes:
            accounts = [a.account for a in await bot.store.identities.accounts(customer)]
            print(owner_says("data.would_erase", customer=customer,
                       accounts=", ".join(accounts) or owner_says("data.no_accounts")),
                  file=sys.stderr)
            return 1
        return await _erase(bot, customer, settings)


async def _erase(bot: BotStore, customer: str, settings: Settings) -> int:
    async with reminder_service(bot, settings) as reminders:
        done = await erase(bot.store, customer, reminders=reminders, local=bot.local)
    print(owner_says("data.erased", customer=customer, accounts=done.accounts,
               reminders=done.reminders))
    if done.files == "rewritten":
        print(owner_says("data.rewritten", folder=settings.data_dir))
    elif done.files == "external":
        print(owner_says("data.external"))
    print(owner_says("data.old_backups"))
    return 0


def _read_from(settings: Settings) -> None:
    """Say which data the command reads (stderr: export's data may go to stdout); a data
    folder that does not exist is an error (``NoData``), never created empty."""
    from bots.reminder_list import check_folder, source_line

    check_folder(settings)
    print(source_line(settings), file=sys.stderr)


def _run(job: Any, args: argparse.Namespace) -> int:
    try:
        settings = _settings()
    except ValidationError as exc:
        print(f"svyaz: {owner_says('data.bad_settings', error=exc)}", file=sys.stderr)
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
    print(f"svyaz {command}: {owner_says('data.redis_server')}", file=sys.stderr)
    return False


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


async def _backup(settings: Settings, args: argparse.Namespace) -> int:
    from storage.persistence import snapshot

    if not _local_only(settings, "backup"):
        return 2
    if _inside(args.file, settings.data_dir):
        print(f"svyaz backup: "
              f"{owner_says('data.backup_inside', file=args.file, folder=settings.data_dir)}",
              file=sys.stderr)
        return 2
    _read_from(settings)
    async with bot_store(settings) as bot:
        keys = await bot.store.redis.dbsize()
        size = await snapshot(bot.store.redis, args.file)
    print(owner_says("data.backup_written", file=args.file, keys=keys, size=size))
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
        problem = owner_says("data.bot_running")
    server = EmbeddedRedis(settings.data_dir, folder_wait=0)
    if problem is None and server.holds_data() and not args.replace:
        problem = owner_says("data.holds_data", folder=settings.data_dir)
    if problem is not None:
        print(f"svyaz restore: {problem}", file=sys.stderr)
        return 2
    keys = await asyncio.to_thread(server.load_snapshot, args.file)
    print(owner_says("data.restored", keys=keys, folder=settings.data_dir))
    return 0


def _restore_problem(file: Path) -> str | None:
    try:
        with file.open("rb") as f:
            magic = f.read(5)
    except OSError as exc:
        return owner_says("data.unreadable", file=file, error=exc.strerror)
    return None if magic == b"REDIS" else owner_says("data.not_backup", file=file)

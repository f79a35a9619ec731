"""``svyaz segments`` (how many customers each named segment has, per channel, now) and
``svyaz broadcast create|dry-run|start|pause|cancel|status``.

They read the bot's Redis like ``svyaz export`` (``bots.access.bot_store``) and the flows folder
(``SVYAZ_FLOWS``: ``_segments.yaml``, ``broadcasts/*.yaml``). ``start`` queues the segment's
customers; the running bot (``svyaz run``) sends them. This module only parses arguments and
prints; the work is ``bots.broadcasts``'s.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bots import importer, invites
from bots.access import bot_store
from bots.audience import SegmentFile, dry_run
from bots.broadcasts import Broadcaster, BroadcastError
from bots.channels import enabled
from bots.cmd_flows import known_steps, owner_lang
from bots.config import Settings
from connectors.registry import INSTALLED
from flows import broadcast as spec_file
from flows import segments
from flows.broadcast import BroadcastSpec
from flows.errors import SvyazError
from flows.messages import msg
from storage.keys import DAY, INVITE_TTL
from storage.store import Store

ACTIONS = ("create", "dry-run", "start", "pause", "cancel", "status")


def register(sub: argparse._SubParsersAction[Any]) -> None:
    lang = owner_lang()
    text = msg("cli.segments").render(lang)
    p = sub.add_parser("segments", help=text, description=text)
    p.add_argument("--folder", default=None, help=msg("cli.folder").render(lang))
    p.set_defaults(handler=segments_command)
    text = msg("cli.broadcast").render(lang)
    p = sub.add_parser("broadcast", help=text, description=text)
    p.add_argument("action", choices=ACTIONS)
    p.add_argument("target", help=msg("cli.broadcast.target").render(lang))
    p.add_argument("--id", default=None, help=msg("cli.broadcast.id").render(lang))
    p.set_defaults(handler=broadcast_command)
    text = msg("cli.import").render(lang)
    p = sub.add_parser("import", help=text, description=text)
    p.add_argument("file", type=Path, help="customers.csv")
    p.add_argument("--yes", action="store_true", help=msg("cli.import.yes").render(lang))
    p.add_argument("--invite", type=Path, default=None, metavar="invites.csv",
                   help=msg("cli.import.invite").render(lang))
    p.add_argument("--days", type=int, default=INVITE_TTL // DAY,
                   help=msg("cli.import.days").render(lang))
    p.set_defaults(handler=import_command)


def import_command(args: argparse.Namespace) -> int:
    settings = _settings()
    if settings is None:
        return 2
    lang = owner_lang()
    try:
        plan = importer.read_rows(args.file.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        print(f"svyaz import: {args.file}: {exc}", file=sys.stderr)
        return 1

    targets = offline_targets(settings) if args.invite else {}
    if args.invite and not targets:
        print(msg("import.no_invite_channel").render(lang), file=sys.stderr)
        return 1

    async def job(store: Store) -> list[str]:
        await importer.known(store, plan)
        created = await importer.apply(store, plan) if args.yes else []
        if args.invite and created:
            made = await invites.invite(store.identities, [
                (c, row.name or "") for c, row in zip(created, plan.rows, strict=True)],
                targets, args.days * DAY)
            args.invite.write_text(invites.as_csv(made), encoding="utf-8")
        return created

    if _run(settings, job) is None:
        return 1
    _report(plan, args, targets, lang)
    return 0


def _report(plan: importer.Plan, args: argparse.Namespace, targets: dict[str, str],
            lang: Any) -> None:
    for row in plan.rows:
        who = ", ".join(filter(None, (row.name, row.phone, row.email)))
        print(msg("import.row", line=row.line, who=who,
                  tags=", ".join(row.tags) or "—").render(lang))
    for line_no, reason in sorted(plan.refused, key=lambda refused: refused[0]):
        print(msg("import.refused", line=line_no, reason=reason).render(lang))
    key = "import.done" if args.yes else "import.dry"
    print(msg(key, created=len(plan.rows), refused=len(plan.refused)).render(lang))
    if args.invite and args.yes:
        print(msg("import.invited", count=len(plan.rows) * len(targets), file=args.invite,
                  channels=", ".join(targets) or "—").render(lang))


def offline_targets(settings: Settings) -> dict[str, str]:
    """Where each enabled messenger's link points, without starting a connector (the MAX
    bot's username then comes from ``SVYAZ_MAX_BOT_USERNAME``)."""
    found = {info.name: info.setup.link_target(settings, None)
             for info in enabled(settings) if info.setup is not None and info.address is None}
    return {name: target for name, target in found.items() if target}


def _settings() -> Settings | None:
    try:
        return Settings(_env_file=".env")
    except ValidationError as exc:
        print(f"svyaz: bad settings: {exc}", file=sys.stderr)
        return None


def segments_command(args: argparse.Namespace) -> int:
    settings = _settings()
    if settings is None:
        return 2
    folder = args.folder or str(settings.flows)
    found, problems = segments.read(folder, channels=INSTALLED.names(),
                                    steps=known_steps(folder))
    lang = owner_lang()
    for problem in problems:
        print(problem.in_lang(lang), file=sys.stderr)
    if any(p.severity == "error" for p in problems):
        return 1
    if not found:
        print(msg("segments.none", folder=folder).render(lang), file=sys.stderr)
        return 1
    counts = _run(settings, lambda store: dry_run(store, found))
    if counts is None:
        return 1
    for name, segment in found.items():
        print(line(name, segment.title, counts[name], lang))
    return 0


def line(name: str, title: str | None, by_channel: dict[str, int], lang: Any) -> str:
    channels = ", ".join(f"{ch} {n}" for ch, n in sorted(by_channel.items())) or "—"
    return msg("segments.count", segment=name, title=f" ({title})" if title else "",
               total=sum(by_channel.values()), channels=channels).render(lang)


def _run(settings: Settings, job: Callable[[Store], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        async with bot_store(settings) as bot:
            return await job(bot.store)
    try:
        return asyncio.run(go())
    except (SvyazError, BroadcastError) as exc:
        print(f"svyaz: {exc}", file=sys.stderr)
        return None


def broadcast_command(args: argparse.Namespace) -> int:
    settings = _settings()
    if settings is None:
        return 2
    named = SegmentFile(Path(settings.flows), INSTALLED.names())
    lang = owner_lang()
    spec = None
    if args.action in ("create", "dry-run"):
        spec, problems = spec_file.read_file(Path(args.target), named(),
                                             known_steps(str(settings.flows)))
        for problem in problems:
            print(problem.in_lang(lang), file=sys.stderr)
        if spec is None:
            return 1
    said = _run(settings, lambda store: _act(Broadcaster(store=store, segments=named), store,
                                             args, spec, lang))
    if said is None:
        return 1
    print(said)
    return 0


async def _act(owner: Broadcaster, store: Store, args: argparse.Namespace,
               spec: BroadcastSpec | None, lang: Any) -> str:
    target = args.target
    if spec is not None and args.action == "create":
        return msg("broadcast.created", id=await owner.create(spec, args.id)).render(lang)
    if spec is not None:
        return line(spec.segment, spec.title, await owner.dry_run(spec), lang)
    if args.action == "start":
        queued = await owner.start(target)
        return msg("broadcast.started", id=target, queued=queued).render(lang)
    if args.action in ("pause", "cancel"):
        await (owner.pause if args.action == "pause" else owner.cancel)(target)
        done = "paused" if args.action == "pause" else "cancelled"
        return msg("broadcast.status_set", id=target, status=done).render(lang)
    return await status(owner, store, target, lang)


async def status(owner: Broadcaster, store: Store, broadcast: str, lang: Any) -> str:
    numbers = await owner.numbers(broadcast)
    record = await store.broadcasts.get(broadcast)
    head = msg("broadcast.status", id=broadcast,
               status=record.status if record else "?").render(lang)
    rows = [f"  {channel}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            for channel, counts in sorted(numbers.items())]
    return "\n".join([head, *rows])

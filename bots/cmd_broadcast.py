"""``svyaz segments``: how many customers each named segment of ``_segments.yaml`` has, per
channel, now (a dry run: nothing is sent).

It reads the bot's Redis like ``svyaz export`` (``bots.access.bot_store``) and the flows
folder (``SVYAZ_FLOWS``). This module only parses arguments and prints.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from pydantic import ValidationError

from bots.access import bot_store
from bots.audience import dry_run
from bots.cmd_flows import owner_lang
from bots.config import Settings
from connectors.registry import INSTALLED
from flows import segments
from flows.errors import SvyazError
from flows.messages import msg


def register(sub: argparse._SubParsersAction[Any]) -> None:
    lang = owner_lang()
    text = msg("cli.segments").render(lang)
    p = sub.add_parser("segments", help=text, description=text)
    p.add_argument("--folder", default=None, help=msg("cli.folder").render(lang))
    p.set_defaults(handler=segments_command)


def segments_command(args: argparse.Namespace) -> int:
    try:
        settings = Settings(_env_file=".env")
    except ValidationError as exc:
        print(f"svyaz: bad settings: {exc}", file=sys.stderr)
        return 2
    folder = args.folder or str(settings.flows)
    found, problems = segments.read(folder, channels=INSTALLED.names())
    lang = owner_lang()
    for problem in problems:
        print(problem.in_lang(lang), file=sys.stderr)
    if any(p.severity == "error" for p in problems):
        return 1
    if not found:
        print(msg("segments.none", folder=folder).render(lang), file=sys.stderr)
        return 1
    try:
        counts = asyncio.run(_count(settings, found))
    except SvyazError as exc:
        print(f"svyaz segments: {exc}", file=sys.stderr)
        return 1
    for name, segment in found.items():
        print(line(name, segment, counts[name], lang))
    return 0


async def _count(settings: Settings, found: dict[str, segments.Segment]) -> Any:
    async with bot_store(settings) as bot:
        return await dry_run(bot.store, found)


def line(name: str, segment: segments.Segment, by_channel: dict[str, int], lang: Any) -> str:
    channels = ", ".join(f"{ch} {n}" for ch, n in sorted(by_channel.items())) or "—"
    title = f" ({segment.title})" if segment.title else ""
    return msg("segments.count", segment=name, title=title, total=sum(by_channel.values()),
               channels=channels).render(lang)

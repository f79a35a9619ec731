"""``svyaz stats FLOW [--days N] [--from DAY --to DAY] [--channel CH]``: a flow's funnel in
the terminal, in Russian, as the owner reads it (``bots.stats``).

It reads the bot's Redis as ``svyaz export`` does (``bots.access.bot_store``: the running
bot's embedded Redis or ``SVYAZ_REDIS_URL``) and the flows folder for the steps' order. This
module only parses arguments and prints.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date, datetime
from typing import Any

from bots import stats
from bots.config import Settings
from bots.flowsource import FlowSource
from bots.reminder_list import check_folder
from flows.errors import SvyazError


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``stats`` to the parser."""
    parser = sub.add_parser(
        "stats", help="воронка сценария: сколько начали, дошли до каждого шага, завершили",
        description="Воронка сценария за период: начали, завершили, конверсия, на каждом "
        "шаге — вошли, ответили, ушли (вошли и не пошли дальше), повторы, медиана времени "
        "ответа и выбранные кнопки. Всё, кроме медианы, — точные числа.")
    parser.add_argument("flow", help="имя сценария (flow: в файле), например booking")
    parser.add_argument("--days", type=int, default=7,
                        help="за сколько последних дней, считая сегодня (1 — только сегодня; "
                        "по умолчанию 7)")
    parser.add_argument("--from", dest="first", type=date.fromisoformat,
                        help="свой период: с какого дня (ГГГГ-ММ-ДД)")
    parser.add_argument("--to", dest="last", type=date.fromisoformat,
                        help="свой период: по какой день (по умолчанию сегодня)")
    parser.add_argument("--channel", help="только один канал (vk, max, web...)")
    parser.set_defaults(handler=stats_command)


async def _stats(settings: Settings, args: argparse.Namespace) -> list[str]:
    from bots.access import bot_store

    flows = FlowSource(settings.flows, timezone=settings.timezone).load()
    check_folder(settings)
    last = args.last or stats.today(flows, datetime.now().astimezone())
    days = stats.days_of(last, args.days, args.first)
    if not days:
        raise SvyazError("--from позже, чем --to: в периоде нет ни одного дня")
    async with bot_store(settings) as bot:
        figures = await stats.read(bot.store.funnel, flows, args.flow, days, args.channel)
    where = (f"сервер Redis из SVYAZ_REDIS_URL (бот «{settings.bot}»)" if settings.redis_url
             else f"{settings.data_dir.resolve()} (бот «{settings.bot}»)")
    return [f"данные: {where}", *stats.lines(figures, flows.flows[args.flow].title)]


def stats_command(args: argparse.Namespace) -> int:
    if args.days < 1:
        print("svyaz stats: --days — не меньше 1", file=sys.stderr)
        return 2
    try:
        printed = asyncio.run(_stats(Settings(_env_file=".env"), args))
    except stats.UnknownFlow as exc:
        print(f"svyaz stats: {exc}", file=sys.stderr)
        return 1
    except SvyazError as exc:
        print(f"svyaz stats: {exc}", file=sys.stderr)
        return 1
    print("\n".join(printed))
    return 0

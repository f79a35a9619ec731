"""``svyaz reminders``: what is scheduled, as an owner reads it.

Owns the gathering and the lines of the list: for each reminder its time, flow and key, the
moment it reminds of (the visit), and whom it goes to — the customer's name (when their
profile keeps one), the channel they were last active on and their id — under a first line
saying which data it read (the data folder's Redis, or the server at ``SVYAZ_REDIS_URL``).
A data folder that does not exist is reported, never created (an empty one would only say
"no reminders" about a bot that keeps its data elsewhere). The words are the owner's
language (``SVYAZ_LANG``: Russian unless ``en``), the channel by its name for the owner
(«чат на сайте») in Russian. Printing is the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from bots.cmd_flows import owner_lang
from connectors.registry import INSTALLED
from flows.errors import SvyazError
from flows.messages import Lang, msg

if TYPE_CHECKING:
    from bots.config import Settings
    from storage.reminders import Record
    from storage.store import Store


class NoData(SvyazError):
    """The data folder the settings name does not exist: nothing to read there."""


@dataclass(frozen=True, slots=True)
class Row:
    when: datetime | None  # None: paused
    record: Record | None
    customer: str
    name: str | None
    channel: str | None


def source_line(settings: Settings) -> str:
    if settings.redis_url:
        return msg("reminders.source_redis", bot=settings.bot).render(owner_lang())
    return msg("reminders.source_folder", folder=settings.data_dir.resolve(),
               bot=settings.bot).render(owner_lang())


def check_folder(settings: Settings) -> None:
    folder = settings.data_dir.resolve()
    if not settings.redis_url and not folder.is_dir():
        raise NoData(msg("reminders.no_folder", folder=folder).render(owner_lang()))


async def gather(settings: Settings) -> list[Row]:
    from bots.access import bot_store, reminder_service

    check_folder(settings)
    async with bot_store(settings) as bot, reminder_service(bot, settings) as service:
        found = await service.scheduled()
        return [await _row(bot.store, customer, record, when)
                for customer, record, when in found]


async def _row(store: Store, customer: str, record: Record | None,
               when: datetime | None) -> Row:
    profile = await store.profiles.get(customer)
    accounts = await store.identities.accounts(customer)
    channel = accounts[0].account.split(":", 1)[0] if accounts else None
    return Row(when, record, customer, profile.name, channel)


def lines(rows: list[Row], zone: tzinfo, lang: Lang | None = None) -> list[str]:
    """One line per reminder, soonest first (in ``lang``; by default the owner's)."""
    lang = lang or owner_lang()

    def local(moment: datetime | None) -> str:
        return (moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment
                else msg("reminders.paused").render(lang))

    out = []
    for row in sorted(rows, key=lambda r: (r.when is None, r.when or datetime.min)):
        flow, key = (row.record.flow, row.record.key) if row.record else ("?", "?")
        about = row.record.about if row.record else None
        visit = msg("reminders.about", at=local(about)).render(lang) if about else ""
        who = msg("reminders.who", name=row.name or msg("reminders.no_name"),
                  channel=_channel(row.channel, lang), customer=row.customer).render(lang)
        out.append(f"{local(row.when)}  {flow:<20} {key:<24} {visit:<22} {who}")
    return out or [msg("reminders.none").render(lang)]


def _channel(name: str | None, lang: Lang) -> str:
    """The channel as the owner calls it («ВКонтакте», «чат на сайте»; English: its name)."""
    info = INSTALLED.get(name) if name else None
    if info is None:
        return name or "?"
    return info.title if lang == "ru" else info.name

"""``svyaz reminders``: what is scheduled, as an owner reads it.

Owns the gathering and the lines of the list: for each reminder its time, flow and key, the
moment it reminds of (the visit), and whom it goes to — the customer's name (when their
profile keeps one), the channel they were last active on and their id — under a first line
saying which data it read (the data folder's Redis, or the server at ``SVYAZ_REDIS_URL``).
A data folder that does not exist is reported, never created (an empty one would only say
"no reminders" about a bot that keeps its data elsewhere). Printing is the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from flows.errors import SvyazError

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
        return f"data: the Redis server at SVYAZ_REDIS_URL (bot '{settings.bot}')"
    return f"data: {settings.data_dir.resolve()} (bot '{settings.bot}')"


def check_folder(settings: Settings) -> None:
    folder = settings.data_dir.resolve()
    if not settings.redis_url and not folder.is_dir():
        raise NoData(
            f"no data folder {folder}: the bot has not run here; run this command where "
            f"'svyaz run' runs, or set SVYAZ_DATA_DIR (or SVYAZ_REDIS_URL) as it has them"
        )


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


def lines(rows: list[Row], zone: tzinfo) -> list[str]:
    """One line per reminder, soonest first."""
    def local(moment: datetime | None) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else "paused"

    out = []
    for row in sorted(rows, key=lambda r: (r.when is None, r.when or datetime.min)):
        flow, key = (row.record.flow, row.record.key) if row.record else ("?", "?")
        about = row.record.about if row.record else None
        visit = f"about {local(about)}" if about else ""
        who = f"{row.name or '(no name)'}, {row.channel or '?'}, customer {row.customer}"
        out.append(f"{local(row.when)}  {flow:<20} {key:<24} {visit:<22} {who}")
    return out or ["no reminders scheduled"]

"""How the commands reach the bot's data, and erasing a customer everywhere it is kept.

``bot_store`` opens the bot's ``Store`` for a command (``svyaz export``, ``forget``,
``backup``, ``reminders``): ``SVYAZ_REDIS_URL`` when set; else the embedded Redis that a
running ``svyaz run`` serves on the data folder's socket (so nothing needs stopping); else an
embedded Redis started here on the folder for the command's length.

``erase`` is the one erasure (152-FZ) of the CLI and of ``DELETE /api/v1/customers/{id}``:
the customer's reminder jobs, every key (``Store.forget``: with the notices and the global
indexes pointing at them, ``Notices.erase``) and, on the embedded Redis, the
files under the data folder (``storage.persistence.rewrite_files``). An external server's
files are its operator's (``svyaz forget`` tells the owner what they must do: the catalogue's
``data.external``). This module must not parse arguments or print.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from storage.embedded import _ping
from storage.errors import StorageError
from storage.persistence import rewrite_files
from storage.store import Store, connect

if TYPE_CHECKING:
    from bots.config import Settings
    from bots.scheduler import ReminderService
    from storage.embedded import EmbeddedRedis

Files = Literal["rewritten", "no-aof", "external"]


@dataclass(frozen=True, slots=True)
class BotStore:
    """The bot's store for one command; ``local`` when it is the data folder's own Redis."""

    store: Store
    local: bool
    url: str


@dataclass(frozen=True, slots=True)
class Erased:
    customer: str
    accounts: int
    reminders: int
    files: Files


def running_embedded(data_dir: Path) -> str | None:
    """The socket of an embedded Redis that ``svyaz run`` already serves, if any."""
    sock = data_dir.resolve() / "redis.sock"
    return f"unix://{sock}" if sock.exists() and _ping(str(sock)) else None


def served_url(configured: str | None, embedded: EmbeddedRedis | None) -> str:
    """Where the Redis in use answers: the embedded one started for a missing URL, else the
    configured one (``storage.client.connect`` starts the embedded one for no URL)."""
    if embedded is not None:
        return embedded.url
    if not configured:
        raise StorageError("no Redis: neither a URL nor an embedded Redis")
    return configured


@asynccontextmanager
async def bot_store(settings: Settings) -> AsyncIterator[BotStore]:
    """The bot's ``Store``: its Redis server, the running bot's embedded one, or one started
    here (the folder is then this command's until it ends)."""
    url = settings.redis_url or running_embedded(settings.data_dir)
    store, embedded = await connect(url, settings.data_dir, bot=settings.bot,
                                    maxmemory=settings.redis_maxmemory)
    try:
        yield BotStore(store, local=settings.redis_url is None, url=served_url(url, embedded))
    finally:
        await store.close()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


async def erase(store: Store, customer: str, *, reminders: ReminderService | None,
                local: bool) -> Erased:
    """Erase ``customer``: reminder jobs, keys, then (``local``) the embedded Redis's files."""
    accounts = len(await store.identities.accounts(customer))
    cancelled = await reminders.cancel_all(customer) if reminders is not None else 0
    await store.forget(customer)
    files: Files = "external"
    if local:
        files = "rewritten" if await rewrite_files(store.redis) else "no-aof"
    return Erased(customer, accounts, cancelled, files)


@asynccontextmanager
async def reminder_service(bot: BotStore, settings: Settings) -> AsyncIterator[ReminderService]:
    """A ``ReminderService`` that lists and cancels jobs but never runs one."""
    from bots.metrics import Metrics
    from bots.scheduler import ReminderService

    async def nowhere(*_: object, **__: object) -> bool:
        return False

    service = ReminderService(store=bot.store, redis_url=bot.url, metrics=Metrics(),
                              inject=nowhere, zone=settings.zone)
    try:
        await service.start(lead=False)
        yield service
    finally:
        await service.stop()

"""A runtime wired from real parts (Redis, storage, loader, engine, scheduler) for bots tests.

Channels are ``Recorder``s: the platform side of a channel reduced to a list of what was sent,
with per-user refusal (``Undeliverable``) so delivery failover can be exercised.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web

from bots.delivery import Delivery
from bots.effects import Effects
from bots.flowsource import FlowSource
from bots.linking import LinkTargets
from bots.metrics import Metrics
from bots.owner import Owner, OwnerNote
from bots.runtime import Runtime
from bots.scheduler import ReminderService
from connectors.base import Capabilities, ChannelUnavailable, Priority, Undeliverable
from flows import engine
from flows.types import Channel, Event, Inbound, Reply
from storage.store import Store

FLOWS = Path(__file__).parent / "flows"
ZONE = ZoneInfo("Europe/Moscow")


class Recorder:
    """A channel whose platform only records: (user_id, text) per delivered reply."""

    capabilities = Capabilities(max_text=4096, max_buttons=10, max_per_row=5, max_rows=6,
                                max_label=40)

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.sent: list[tuple[str, Reply]] = []
        self.refuse: set[str] = set()
        self.down: set[str] = set()

    def routes(self) -> list[web.RouteDef]:
        return []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(
        self, user_id: str, reply: Reply, *, message_key: str, priority: Priority = "live",
        since: float | None = None,
    ) -> None:
        if user_id in self.refuse:
            raise Undeliverable(f"{self.channel}:{user_id} blocked the bot")
        if user_id in self.down:
            raise ChannelUnavailable(f"{self.channel} is down")
        self.sent.append((user_id, reply))

    async def answer_callback(self, inbound: Inbound) -> None:
        return None

    def health(self) -> dict[str, str | bool]:
        return {"ok": True}

    def texts(self, user_id: str | None = None) -> list[str]:
        return [r.text for u, r in self.sent if user_id is None or u == user_id]


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 11, 23, 12, 0, tzinfo=ZONE))

    def __call__(self) -> datetime:
        return self.now

    def utc(self) -> datetime:
        return self.now.astimezone(UTC)

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Harness:
    store: Store
    runtime: Runtime
    reminders: ReminderService
    channels: dict[Channel, Recorder]
    metrics: Metrics
    clock: Clock
    owner_notes: list[OwnerNote]
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    async def send(self, channel: Channel, user: str, event: Event, *, wait: bool = True,
                   event_id: str | None = None) -> None:
        inbound = Inbound(channel=channel, user_id=user,
                          event_id=event_id or f"e{next(self._ids)}", event=event)
        await self.runtime.accept(inbound)
        if wait:
            await self.runtime.idle()

    def texts(self, channel: Channel, user: str | None = None) -> list[str]:
        return self.channels[channel].texts(user)

    async def customer(self, channel: Channel, user: str) -> str:
        found = await self.store.identities.customer_of(f"{channel}:{user}")
        assert found is not None
        return found


@pytest.fixture
async def harness(redis_url: str, bot_prefix: str) -> AsyncIterator[Harness]:
    store = Store.from_url(redis_url, bot=bot_prefix)
    flows = FlowSource(FLOWS, timezone="Europe/Moscow")
    flows.load()
    metrics = Metrics()
    clock = Clock()
    channels: dict[Channel, Recorder] = {ch: Recorder(ch) for ch in ("vk", "max", "web")}
    notes: list[OwnerNote] = []

    async def note(n: OwnerNote) -> None:
        notes.append(n)

    http = aiohttp.ClientSession()
    delivery = Delivery(store=store, connectors=channels, metrics=metrics)
    holder: dict[str, Runtime] = {}

    async def inject(customer: str, event: Event, *, event_id: str) -> bool:
        return await holder["rt"].inject(customer, event, event_id=event_id)

    reminders = ReminderService(store=store, redis_url=redis_url, metrics=metrics,
                                inject=inject, zone=ZONE, clock=clock.utc, owner_notify=note)
    owner = Owner(webhook=None, chats={}, connectors=channels, http=lambda: http)
    effects = Effects(store=store, reminders=reminders, owner=owner,
                      links=lambda: LinkTargets(
                          {"web": "http://bot.test", "max": "testbot", "vk": "club1"}),
                      channels=frozenset(channels), http=lambda: http, delivery=delivery)
    runtime = Runtime(store=store, flows=flows.current, advance=engine.advance,
                      delivery=delivery, effects=effects, metrics=metrics, clock=clock,
                      owner_notify=note)
    holder["rt"] = runtime
    await reminders.start(lead=False)
    yield Harness(store, runtime, reminders, channels, metrics, clock, notes)
    await runtime.close()
    await reminders.stop()
    await http.close()
    await store.close()

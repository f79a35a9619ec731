"""One bot process's sending side for the kill -9 tests of MAX replies (tests/bots): a fresh
``Store``, the real MAX connector against the MAX fake, and ``Delivery`` over them. A test
kills one (a ``Crash`` at a named point) and starts another on the same Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bots.delivery import Delivery
from bots.metrics import Metrics
from connectors.maxbot import MaxConnector
from connectors.maxbot.client import RetryPolicy
from storage.store import Store
from tests.fakes.max import MaxFake


@dataclass
class Process:
    store: Store
    connector: MaxConnector
    delivery: Delivery


@asynccontextmanager
async def max_process(redis_url: str, bot_prefix: str,
                      max_fake: MaxFake) -> AsyncIterator[Process]:
    store = Store.from_url(redis_url, bot=bot_prefix)
    connector = MaxConnector(token=max_fake.token, api_url=max_fake.url, mode="webhook",
                             webhook_secret="s3cret_Value-42", sink=None,  # type: ignore[arg-type]
                             retry=RetryPolicy(2, 0.01, 0.02), timeout=0.5)
    delivery = Delivery(store=store, connectors={"max": connector}, metrics=Metrics())
    try:
        yield Process(store, connector, delivery)
    finally:
        await connector.stop()
        await store.close()

"""Long polling against the MAX fake: markers, held requests, back-off, auth, cancellation."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from connectors.base import Unavailable
from connectors.maxbot import MaxConnector
from connectors.maxbot.client import RetryPolicy
from flows.backoff import Backoff
from flows.types import ButtonEvent, ContactEvent, Inbound, StartEvent, TextEvent
from tests.fakes import max_wire as w
from tests.fakes.max import MaxFake, max_fake_fixture  # noqa: F401 - provides max_fake


@dataclass
class Sink:
    got: list[Inbound] = field(default_factory=list)
    fail: int = 0
    calls: int = 0

    async def __call__(self, inbound: Inbound) -> None:
        self.calls += 1
        if self.fail:
            self.fail -= 1
            raise Unavailable("redis down")
        self.got.append(inbound)


def make(fake: MaxFake, sink: Sink, token: str | None = None) -> MaxConnector:
    connector = MaxConnector(
        token=token or fake.token,
        api_url=fake.url,
        mode="polling",
        webhook_secret=None,
        sink=sink,
        retry=RetryPolicy(3, 0.01, 0.05),
        poll_hold=2,
    )
    connector.poller.backoff = Backoff(base=0.02, cap=0.1)
    return connector


@pytest.fixture
async def polling(max_fake: MaxFake) -> AsyncIterator[tuple[MaxConnector, Sink]]:
    sink = Sink()
    connector = make(max_fake, sink)
    yield connector, sink
    await connector.stop()


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def update_queries(fake: MaxFake) -> list[dict[str, str]]:
    return [r.query for r in fake.requests if r.path == "/updates"]


async def test_updates_arrive_in_order_and_the_marker_advances(
    polling: tuple[MaxConnector, Sink], max_fake: MaxFake
) -> None:
    connector, sink = polling
    max_fake.enqueue(w.bot_started(1, "promo"), w.message_created(1, "Привет 🙂"))
    await connector.start()
    await until(lambda: len(sink.got) == 2)
    max_fake.enqueue(w.callback(1, "yes"), w.contact(1, "+79991234567"))
    await until(lambda: len(sink.got) == 4)
    assert [i.event for i in sink.got] == [
        StartEvent(payload="promo"),
        TextEvent(text="Привет 🙂"),
        ButtonEvent(button="yes"),
        ContactEvent(phone="+79991234567", name="Иван Петров"),
    ]
    queries = update_queries(max_fake)
    assert "marker" not in queries[0]
    assert queries[1]["marker"] == "2"
    assert queries[1]["timeout"] == "2"
    await until(lambda: connector.poller.marker == 4)
    assert connector.health() == {"ok": True, "mode": "polling", "detail": "polling"}


async def test_an_empty_poll_is_held_not_spun(
    polling: tuple[MaxConnector, Sink], max_fake: MaxFake
) -> None:
    connector, _ = polling
    await connector.start()
    await asyncio.sleep(1.0)
    assert len(update_queries(max_fake)) == 1  # the first request is still being held


async def test_storage_outage_keeps_the_marker_and_loses_nothing(
    polling: tuple[MaxConnector, Sink], max_fake: MaxFake
) -> None:
    connector, sink = polling
    sink.fail = 1
    max_fake.enqueue(w.message_created(1, "a"), w.message_created(1, "b"))
    await connector.start()
    await until(lambda: len(sink.got) == 2)
    assert [i.event for i in sink.got] == [TextEvent(text="a"), TextEvent(text="b")]
    assert sink.calls == 3  # one refused, then each once
    assert "marker" not in update_queries(max_fake)[1]  # the same batch was fetched again


async def test_failures_back_off_and_log_once_each_way(
    polling: tuple[MaxConnector, Sink],
    max_fake: MaxFake,
    caplog: pytest.LogCaptureFixture,
) -> None:
    connector, sink = polling
    caplog.set_level(logging.INFO, logger="svyaz.connectors.max")
    max_fake.inject("/updates", 500, times=4)
    max_fake.enqueue(w.message_created(1, "после сбоя"))
    await connector.start()
    await until(lambda: len(sink.got) == 1)
    statuses = [r.status for r in max_fake.requests if r.path == "/updates"]
    assert statuses[:5] == [500, 500, 500, 500, 200]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("MAX polling failed" in m for m in messages) == 1
    assert sum("MAX polling recovered after 4" in m for m in messages) == 1


async def test_refused_token_stops_polling_and_turns_health_red(max_fake: MaxFake) -> None:
    sink = Sink()
    connector = make(max_fake, sink, token="WRONG")
    try:
        await connector.start()
        await until(lambda: not connector.health()["ok"])
        await asyncio.sleep(0.2)  # GET /me (the username) and the webhook check, then nothing
        assert sorted(r.path for r in max_fake.requests) == ["/me", "/subscriptions"]
        health = connector.health()
        assert health["ok"] is False
        assert "SVYAZ_MAX_TOKEN" in str(health["detail"])
    finally:
        await connector.stop()


async def test_stop_cancels_a_held_poll_promptly(max_fake: MaxFake) -> None:
    connector = make(max_fake, Sink())
    connector.poller.hold = 30
    await connector.start()
    await until(lambda: len(update_queries(max_fake)) == 1)
    started = time.monotonic()
    await connector.stop()
    assert time.monotonic() - started < 1.0
    assert connector.health()["ok"] is False


async def test_garbage_update_is_skipped_not_fatal(
    polling: tuple[MaxConnector, Sink], max_fake: MaxFake
) -> None:
    connector, sink = polling
    max_fake.enqueue({"update_type": "message_created", "timestamp": 1}, w.message_created(2, "ok"))
    await connector.start()
    await until(lambda: len(sink.got) == 1)
    assert sink.got[0].event == TextEvent(text="ok")


async def test_an_update_from_user_0_is_skipped_and_polling_goes_on(
    polling: tuple[MaxConnector, Sink], max_fake: MaxFake, caplog: pytest.LogCaptureFixture
) -> None:
    connector, sink = polling
    max_fake.enqueue(w.message_created(0, "ghost"), w.message_created(2, "ok"))
    await connector.start()
    await until(lambda: len(sink.got) == 1)
    assert sink.got[0].event == TextEvent(text="ok")
    assert "user_id" in caplog.text
    assert connector.health()["ok"] is True


async def test_polling_learns_the_username_for_deep_links(
    polling: tuple[MaxConnector, Sink], max_fake: MaxFake
) -> None:
    connector, _ = polling
    await connector.start()
    await until(lambda: connector.bot_username is not None)
    assert connector.deep_link("link-abc") == "https://max.ru/svyaz_test_bot?start=link-abc"


async def test_the_username_is_learnt_once_max_answers(max_fake: MaxFake) -> None:
    connector = make(max_fake, Sink())
    max_fake.inject("/me", 503, times=4)  # MAX is out at start-up
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("connectors.maxbot.ME_RETRY_CAP", 0.05)
        try:
            await connector.start()
            assert connector.deep_link("x") is None
            await until(lambda: connector.bot_username is not None)
        finally:
            await connector.stop()
    assert connector.deep_link("x") == "https://max.ru/svyaz_test_bot?start=x"


async def test_a_configured_username_overrides_get_me(max_fake: MaxFake) -> None:
    connector = MaxConnector(token=max_fake.token, api_url=max_fake.url, mode="polling",
                             webhook_secret=None, sink=Sink(), bot_username="shop_bot")
    try:
        await connector.start()
        await until(lambda: any(r.path == "/me" for r in max_fake.requests))
        assert connector.deep_link("x") == "https://max.ru/shop_bot?start=x"
    finally:
        await connector.stop()


async def test_an_existing_webhook_is_reported_once(
    polling: tuple[MaxConnector, Sink],
    max_fake: MaxFake,
    caplog: pytest.LogCaptureFixture,
) -> None:
    connector, _ = polling
    max_fake.subscriptions.append({"url": "https://old.example.ru/hook", "time": 1})
    await connector.start()
    await until(lambda: len(update_queries(max_fake)) == 1)
    (line,) = [r.getMessage() for r in caplog.records if "webhook subscription" in r.getMessage()]
    assert "https://old.example.ru/hook" in line

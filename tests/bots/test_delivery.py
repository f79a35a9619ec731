"""bots.delivery: the pure channel choice, and the outbox executor with failover."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from bots_harness import Harness, Recorder

from bots.app import Services
from bots.delivery import Delivery, Target, plan_initiated, plan_reply, split_account
from bots.metrics import Metrics
from connectors.maxbot import MaxConnector
from connectors.maxbot.client import RetryPolicy
from flows.types import Button, Channel, Inbound, Reply, TextEvent
from storage.history import HistoryEntry
from storage.store import Sent, Store
from tests.fakes.max import MaxFake, max_fake_fixture  # noqa: F401 - provides max_fake


@dataclass(frozen=True)
class Info:
    account: str
    last_active: float


def test_a_reply_goes_where_the_customer_wrote() -> None:
    inbound = Inbound("max", "42", "e", TextEvent("hi"))
    assert plan_reply(inbound) == [Target("max", "42")]
    in_chat = Inbound("max", "42", "e", TextEvent("hi"), reply_to="chat:9")
    assert plan_reply(in_chat) == [Target("max", "chat:9")]


def test_initiated_most_recent_first_and_only_enabled_channels() -> None:
    accounts = [Info("vk:1", 10.0), Info("web:s", 30.0), Info("max:2", 20.0),
                Info("tg:3", 40.0)]
    assert plan_initiated(accounts, {"vk", "max", "web"}) == [
        Target("web", "s"), Target("max", "2"), Target("vk", "1")]
    assert plan_initiated(accounts, {"vk"}) == [Target("vk", "1")]
    assert plan_initiated([], {"vk"}) == []
    routed = plan_initiated(accounts, {"vk", "max"}, {"max:2": "dialog:9:2"})
    assert routed == [Target("max", "dialog:9:2"), Target("vk", "1")]
    assert split_account("vk:") is None


async def test_failover_sends_the_rest_on_the_next_channel(harness: Harness) -> None:
    delivery = harness.runtime._delivery
    web, vk = harness.channels["web"], harness.channels["vk"]
    web.refuse.add("s")
    replies = [Reply("один"), Reply("два")]
    result = await delivery.send("c1", [Target("web", "s"), Target("vk", "1")], replies,
                                 failover=True)
    assert result.target == Target("vk", "1")
    assert result.tried == (Target("web", "s"), Target("vk", "1"))
    assert vk.texts() == ["один", "два"]
    assert web.texts() == []
    assert await harness.store.outbox.pending() == []
    history = await harness.store.history.read("c1")
    assert [(e.channel, e.text) for e in history] == [("vk", "один"), ("vk", "два")]
    assert harness.metrics.delivery_failovers.labels("web")._value.get() == 1


async def test_nothing_works_returns_no_target(harness: Harness) -> None:
    harness.channels["web"].refuse.add("s")
    harness.channels["vk"].refuse.add("1")
    result = await harness.runtime._delivery.send(
        "c1", [Target("web", "s"), Target("vk", "1")], [Reply("x")], failover=True)
    assert result.target is None
    assert await harness.store.outbox.pending() == []


async def test_a_reply_to_a_channel_that_is_down_stays_in_the_outbox(harness: Harness) -> None:
    delivery = harness.runtime._delivery
    max_ = harness.channels["max"]
    max_.down.add("7")
    ok = await delivery.reply("c2", Inbound("max", "7", "e", TextEvent("hi")), [Reply("ответ")])
    assert ok is False
    pending = await harness.store.outbox.pending()
    assert [(p.channel, p.user_id, p.reply.text) for p in pending] == [("max", "7", "ответ")]
    max_.down.clear()
    assert await delivery.resend_stale(min_idle_ms=0) == 1
    assert max_.texts("7") == ["ответ"]
    assert await harness.store.outbox.pending() == []
    assert await delivery.resend_stale(min_idle_ms=0) == 0


def test_recorder_is_a_connector() -> None:
    from connectors.base import Connector

    recorder: Connector = Recorder("web")
    assert recorder.channel == "web"
    assert Metrics().render().startswith(b"# HELP")


async def test_a_refused_reply_stays_in_the_history_for_the_next_visit(harness: Harness) -> None:
    harness.channels["web"].refuse.add("s")  # the browser tab was closed meanwhile
    inbound = Inbound("web", "s", "e", TextEvent("hi"))
    assert await harness.runtime._delivery.reply("c3", inbound, [Reply("ответ")]) is False
    history = await harness.store.history.read("c3")
    assert [(e.text, e.note) for e in history] == [("ответ", "not delivered")]
    assert await harness.store.outbox.pending() == []


async def test_history_keeps_button_ids_and_web_replays_them_as_buttons(
    harness: Harness,
) -> None:
    keyboard = (Button("book", "Записаться"), Button("site", "Сайт", "https://example.ru"))
    customer = await harness.store.identities.resolve("web:s")
    inbound = Inbound("web", "s", "e", TextEvent("hi"))
    reply = Reply("Что дальше?", keyboard)
    assert await harness.runtime._delivery.reply(customer, inbound, [reply])
    (item,) = await Services(store=harness.store).web_history("s")
    assert (item.direction, item.text, item.buttons) == ("out", "Что дальше?", keyboard)


async def test_web_replays_label_only_history_buttons_with_empty_ids(harness: Harness) -> None:
    old = HistoryEntry(1.0, "vk", "out", "Когда?", ("Утро",))  # stored before ids were kept
    await harness.store.history.append(await harness.store.identities.resolve("web:s5"), old)
    (item,) = await Services(store=harness.store).web_history("s5")
    assert item.buttons == (Button("", "Утро"),)


class SlowChannel(Recorder):
    """A channel whose send waits (as behind a rate limiter) before it goes out."""

    def __init__(self, channel: Channel, wait: float) -> None:
        super().__init__(channel)
        self.wait = wait

    async def send(self, user_id: str, reply: Reply, *, message_key: str) -> None:
        await asyncio.sleep(self.wait)
        await super().send(user_id, reply, message_key=message_key)


async def test_a_send_queued_long_keeps_its_lease_and_is_not_re_sent(harness: Harness) -> None:
    # Renewed every 50 ms, stale after 500: margin enough for a loaded machine.
    slow = SlowChannel("vk", wait=1.2)
    delivery = Delivery(store=harness.store, connectors={"vk": slow}, metrics=harness.metrics,
                        renew_every=0.05)
    sweeper = Delivery(store=harness.store, connectors={"vk": slow}, metrics=harness.metrics)
    sending = asyncio.create_task(
        delivery.send("c6", [Target("vk", "1")], [Reply("раз")], failover=False))
    for _ in range(5):  # the sweep of another process, while the send waits in the queue
        await asyncio.sleep(0.2)
        assert await sweeper.resend_stale(min_idle_ms=500) == 0
    assert (await sending).target == Target("vk", "1")
    assert slow.texts() == ["раз"]
    assert await harness.store.outbox.pending() == []


async def test_without_renewal_the_sweep_would_take_the_waiting_send(harness: Harness) -> None:
    slow = SlowChannel("vk", wait=1.5)  # still sending when the claim comes, even if late
    delivery = Delivery(store=harness.store, connectors={"vk": slow}, metrics=harness.metrics,
                        renew_every=60.0)
    sending = asyncio.create_task(
        delivery.send("c7", [Target("vk", "1")], [Reply("два")], failover=False))
    await asyncio.sleep(0.3)
    assert len(await harness.store.outbox.claim_stale(150)) == 1  # the test can fail
    await sending


@asynccontextmanager
async def _crash_after_max_accepted(
    redis_url: str, bot_prefix: str, max_fake: MaxFake, *, arrived: bool
) -> AsyncIterator[tuple[Delivery, Store]]:
    """A turn whose MAX reply went out (or, ``arrived=False``, was lost on the way) and whose
    process died before the acknowledgement: the outbox still holds the entry."""
    store = Store.from_url(redis_url, bot=bot_prefix)
    connector = MaxConnector(token=max_fake.token, api_url=max_fake.url, mode="webhook",
                             webhook_secret="s3cret_Value-42", sink=None,  # type: ignore[arg-type]
                             retry=RetryPolicy(2, 0.01, 0.02))
    delivery = Delivery(store=store, connectors={"max": connector}, metrics=Metrics())
    inbound = Inbound("max", "5551001", "e1", TextEvent("привет"),
                      reply_to="dialog:1005551001:5551001")
    sent: list[Sent] = []  # acknowledged with the next round trip, which never comes
    try:
        assert await delivery.reply("c1", inbound, [Reply("Какую услугу?"), Reply("Стрижка")],
                                    sent=sent)
        assert len(max_fake.sent) == 2
        assert len(await store.outbox.pending()) == 2
        if not arrived:
            max_fake.sent.clear()
        yield delivery, store
    finally:
        await connector.stop()
        await store.close()


async def test_a_max_reply_that_arrived_before_a_crash_is_not_re_sent(
    redis_url: str, bot_prefix: str, max_fake: MaxFake, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "svyaz.connectors.max")
    async with _crash_after_max_accepted(
            redis_url, bot_prefix, max_fake, arrived=True) as (delivery, store):
        assert await delivery.resend_stale(min_idle_ms=0) == 2  # settled, not sent again
        assert [s.body["text"] for s in max_fake.sent] == ["Какую услугу?", "Стрижка"]
        assert await store.outbox.pending() == []
        # what bench/drills/kill9.py counts as resends_found_delivered
        assert caplog.text.count("had arrived before; not sent again") == 2


async def test_a_max_reply_lost_before_a_crash_is_re_sent(
    redis_url: str, bot_prefix: str, max_fake: MaxFake
) -> None:
    async with _crash_after_max_accepted(
            redis_url, bot_prefix, max_fake, arrived=False) as (delivery, store):
        assert await delivery.resend_stale(min_idle_ms=0) == 2
        assert sorted(s.body["text"] for s in max_fake.sent) == ["Какую услугу?", "Стрижка"]
        assert await store.outbox.pending() == []


async def test_a_reminder_re_sent_after_a_crash_is_not_shown_twice_on_max(
    redis_url: str, bot_prefix: str, max_fake: MaxFake
) -> None:
    """The dialog's chat, kept from the customer's last message, lets a reminder's re-send
    read the dialog back too (a bare user id names no chat to read)."""
    async with _crash_after_max_accepted(
            redis_url, bot_prefix, max_fake, arrived=True) as (delivery, store):
        await store.identities.resolve("max:5551001")  # the account, as intake records it
        customer = (await store.identities.customer_of("max:5551001")) or ""
        await delivery.resend_stale(min_idle_ms=0)
        max_fake.sent.clear()
        await delivery.reply(customer, Inbound("max", "5551001", "e2", TextEvent("ок"),
                                               reply_to="dialog:1005551001:5551001"),
                             [Reply("Хорошо")])
        assert await store.identities.routes(customer) == {
            "max:5551001": "dialog:1005551001:5551001"}
        result = await delivery.initiate(customer, [Reply("Напоминание: завтра в 12:30")])
        assert result.target == Target("max", "dialog:1005551001:5551001")
        assert max_fake.sent[-1].user_id == 5551001  # still sent by user id
        # The process died after MAX accepted it and before the acknowledgement:
        await store.outbox.put(customer, "max", result.target.user_id,
                               Reply("Напоминание: завтра в 12:30"))
        await delivery.resend_stale(min_idle_ms=0)
        assert [s.body["text"] for s in max_fake.sent] == ["Хорошо", "Напоминание: завтра в 12:30"]

"""bots.delivery: the pure channel choice, and the outbox executor with failover."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from bots_harness import Harness, Recorder

from bots.delivery import (
    Delivered,
    Delivery,
    Kept,
    Send,
    Target,
    account_on,
    plan_initiated,
    plan_reply,
    split_account,
)
from bots.metrics import Metrics
from bots.webdialogue import history as web_history
from connectors.base import ChannelUnavailable, Priority
from connectors.maxbot import MaxConnector
from connectors.maxbot.client import RetryPolicy
from flows.types import Button, ButtonEvent, Channel, DialogState, Inbound, Reply, TextEvent
from storage.errors import StorageUnavailable
from storage.history import HistoryEntry
from storage.kept import gone
from storage.outbox import OutboxEntry
from storage.store import Sent, Store
from tests.fakes.max import MaxFake, max_fake_fixture  # noqa: F401 - provides max_fake
from tests.redeem import redeem_link_token
from tests.waiting import until


@dataclass(frozen=True)
class Info:
    account: str
    last_active: float


async def _linked(harness: Harness, *accounts: str) -> str:
    """A customer with ``accounts`` linked, the first the most recently active."""
    customer = await harness.store.identities.resolve(accounts[0])
    for age, account in enumerate(accounts):
        await harness.store.identities.attach(account, customer, 1000.0 - age)
    return customer


def _everywhere(customer: str, *texts: str) -> Send:
    return Send(customer, tuple(Reply(text) for text in texts), "reminder")


def _there(customer: str, target: Target, text: str) -> Send:
    return Send(customer, (Reply(text),), "reply", account=target)


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
    delivery = harness.runtime.turns._delivery
    web, vk = harness.channels["web"], harness.channels["vk"]
    web.refuse.add("s")
    customer = await _linked(harness, "web:s", "vk:1")
    result = await delivery.deliver(_everywhere(customer, "один", "два"))
    assert result.target == Target("vk", "1")
    assert result.tried == (Target("web", "s"), Target("vk", "1"))
    assert vk.texts() == ["один", "два"]
    assert web.texts() == []
    assert await harness.store.outbox.pending() == []
    history = await harness.store.history.read(customer)
    assert [(e.channel, e.text) for e in history] == [("vk", "один"), ("vk", "два")]
    assert harness.metrics.delivery_failovers.labels("web")._value.get() == 1


async def test_nothing_works_returns_no_target(harness: Harness) -> None:
    harness.channels["web"].refuse.add("s")
    harness.channels["vk"].refuse.add("1")
    customer = await _linked(harness, "web:s", "vk:1")
    result = await harness.runtime.turns._delivery.deliver(_everywhere(customer, "x"))
    assert result.target is None
    assert result.tried == (Target("web", "s"), Target("vk", "1"))
    assert await harness.store.outbox.pending() == []


async def test_a_reply_to_a_channel_that_is_down_stays_in_the_outbox(harness: Harness) -> None:
    delivery = harness.runtime.turns._delivery
    max_ = harness.channels["max"]
    max_.down.add("7")
    ok = await delivery.reply("c2", Inbound("max", "7", "e", TextEvent("hi")), [Reply("ответ")])
    assert ok is False
    pending = await harness.store.outbox.pending()
    assert [(p.customer, p.channel, p.user_id, p.reply.text) for p in pending] == [
        ("c2", "max", "7", "ответ")]
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
    assert await harness.runtime.turns._delivery.reply("c3", inbound, [Reply("ответ")]) is False
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
    assert await harness.runtime.turns._delivery.reply(customer, inbound, [reply])
    (item,) = await web_history(harness.store, "s")
    assert (item.direction, item.text, item.buttons) == ("out", "Что дальше?", keyboard)


async def test_web_replays_label_only_history_buttons_with_empty_ids(harness: Harness) -> None:
    old = HistoryEntry(1.0, "vk", "out", "Когда?", ("Утро",))  # stored before ids were kept
    await harness.store.history.append(await harness.store.identities.resolve("web:s5"), old)
    (item,) = await web_history(harness.store, "s5")
    assert item.buttons == (Button("", "Утро"),)


class SlowChannel(Recorder):
    """A channel whose send waits (as behind a rate limiter) before it goes out."""

    def __init__(self, channel: Channel, wait: float) -> None:
        super().__init__(channel)
        self.wait = wait

    async def send(
        self, user_id: str, reply: Reply, *, message_key: str, priority: Priority = "live",
        since: float | None = None,
    ) -> None:
        await asyncio.sleep(self.wait)
        await super().send(user_id, reply, message_key=message_key)


async def test_a_send_queued_long_keeps_its_lease_and_is_not_re_sent(harness: Harness) -> None:
    # Renewed every 50 ms, stale after 500: margin enough for a loaded machine.
    slow = SlowChannel("vk", wait=1.2)
    delivery = Delivery(store=harness.store, connectors={"vk": slow}, metrics=harness.metrics,
                        renew_every=0.05)
    sweeper = Delivery(store=harness.store, connectors={"vk": slow}, metrics=harness.metrics)
    sending = asyncio.create_task(
        delivery.deliver(_there("c6", Target("vk", "1"), "раз")))
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
        delivery.deliver(_there("c7", Target("vk", "1"), "два")))

    async def claimed() -> list[OutboxEntry]:  # once its lease is 150 ms old
        return await harness.store.outbox.claim_stale(150)

    assert len(await until(claimed, what="a claim of the waiting send")) == 1  # can fail
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
                             retry=RetryPolicy(2, 0.01, 0.02),
                             timeout=0.5)  # (a re-send waits that long for a post to land)
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
        result = await delivery.deliver(_everywhere(customer, "Напоминание: завтра в 12:30"))
        assert result.target == Target("max", "dialog:1005551001:5551001")
        assert max_fake.sent[-1].user_id == 5551001  # still sent by user id
        # The process died after MAX accepted it and before the acknowledgement:
        await store.outbox.put(customer, "max", result.target.user_id,
                               Reply("Напоминание: завтра в 12:30"))
        await delivery.resend_stale(min_idle_ms=0)
        assert [s.body["text"] for s in max_fake.sent] == ["Хорошо", "Напоминание: завтра в 12:30"]


def _delivery(harness: Harness, *channels: Channel, clock: float = 1000.0) -> Delivery:
    """A Delivery over the harness's store and recording channels, with a fixed clock."""
    connectors = {ch: harness.channels[ch] for ch in channels or ("web", "vk", "max")}
    return Delivery(store=harness.store, connectors=connectors, metrics=harness.metrics,
                    clock=lambda: clock)


async def test_a_delivered_reply_is_recorded_counted_and_acknowledged(harness: Harness) -> None:
    delivery = _delivery(harness, clock=1234.5)
    keyboard = (Button("a", "Да"), Button("b", "Нет"))
    assert delivery.channels == frozenset({"web", "vk", "max"})
    assert await delivery.reply("c1", Inbound("vk", "1", "e", TextEvent("hi")),
                                [Reply("раз", keyboard), Reply("два")])
    assert harness.channels["vk"].texts("1") == ["раз", "два"]
    [first, second] = await harness.store.history.read("c1")
    assert (first.ts, first.channel, first.direction, first.text, first.buttons, first.note,
            first.keyboard) == (1234.5, "vk", "out", "раз", ("Да", "Нет"), "", keyboard)
    assert (second.text, second.buttons) == ("два", ())
    assert harness.metrics.messages_out.labels("vk")._value.get() == 2
    assert await harness.store.outbox.pending() == []


async def test_no_replies_is_a_success_that_sends_nothing(harness: Harness) -> None:
    delivery = _delivery(harness)
    harness.channels["vk"].refuse.add("1")
    assert await delivery.reply("c1", Inbound("vk", "1", "e", TextEvent("hi")), []) is True
    assert await harness.store.history.read("c1") == []


async def test_with_sent_the_outbox_keeps_replies_until_the_caller_acknowledges(
    harness: Harness,
) -> None:
    delivery = _delivery(harness, clock=7.0)
    sent: list[Sent] = []
    assert await delivery.reply("c1", Inbound("max", "2", "e", TextEvent("hi")),
                                [Reply("раз"), Reply("два")], sent=sent)
    pending = await harness.store.outbox.pending()
    assert sorted(s.entry_id for s in sent) == sorted(e.id for e in pending)  # same ms
    assert [(s.customer, s.history.text, s.history.ts, s.history.buttons) for s in sent] == [
        ("c1", "раз", 7.0, ()), ("c1", "два", 7.0, ())]
    assert await harness.store.history.read("c1") == []  # recorded with the acknowledgement
    await harness.store.acknowledge(sent)
    assert await harness.store.outbox.pending() == []
    assert [e.text for e in await harness.store.history.read("c1")] == ["раз", "два"]


async def _kept(harness: Harness, inbound: Inbound, replies: list[Reply],
                n: int) -> tuple[Delivery, Kept]:
    """A turn's save keeping its first ``n`` replies in the state, under a lock."""
    delivery = _delivery(harness)
    prepared = delivery.prepare("c1", inbound, replies)
    lock = await harness.store.states.locks.acquire("c1")
    await harness.store.states.save("c1", DialogState(), version=0, lock=lock,
                                    replies=prepared[:n])
    return delivery, Kept(lock, prepared[:n])


async def test_replies_kept_ahead_are_sent_under_their_ids(harness: Harness) -> None:
    inbound = Inbound("vk", "1", "e", TextEvent("hi"))
    replies = [Reply("раз"), Reply("два")]
    delivery, kept = await _kept(harness, inbound, replies, 1)
    sent: list[Sent] = []
    assert await delivery.reply("c1", inbound, replies, sent=sent, kept=kept)
    assert harness.channels["vk"].texts("1") == ["раз", "два"]
    assert [(item.entry_id == kept.entries[0].id, item.kept) for item in sent] == [
        (True, True), (False, False)]  # the second: an outbox entry of its own
    store = harness.store
    assert await store.release_if_idle(kept.lock, sent, gone=gone([kept.entries[0].id])) is None
    assert await store.outbox.pending() == []
    assert not await store.redis.hexists(store.keys.state("c1"), "out")
    assert [e.text for e in await store.history.read("c1")] == ["раз", "два"]
    assert _delivery(harness, "web").prepare("c1", inbound, replies) == []  # vk is off


async def test_a_refused_kept_reply_is_recorded_and_never_sent(harness: Harness) -> None:
    inbound = Inbound("web", "s", "e", TextEvent("hi"))
    replies = [Reply("раз"), Reply("два")]
    delivery, kept = await _kept(harness, inbound, replies, 2)
    harness.channels["web"].refuse.add("s")
    assert await delivery.reply("c1", inbound, replies, sent=[], kept=kept) is False
    assert await harness.store.outbox.pending() == []  # never to be sent: not left behind
    assert [(e.text, e.note) for e in await harness.store.history.read("c1")] == [
        ("раз", "not delivered"), ("два", "not delivered")]
    assert harness.metrics.messages_out.labels("web")._value.get() == 0


async def test_kept_replies_a_platform_fails_move_to_the_outbox_with_their_marks(
        harness: Harness) -> None:
    """Down for now: the replies left (in order) go to the outbox under the same ids, their
    post marks with them, for its sweep; the state keeps none of them."""
    inbound = Inbound("vk", "1", "e", TextEvent("hi"))
    replies = [Reply("раз"), Reply("два")]
    delivery, kept = await _kept(harness, inbound, replies, 2)
    store = harness.store
    first = kept.entries[0].id
    await store.redis.hset(store.keys.state("c1"), f"p:{first}", 1_000)
    harness.channels["vk"].down.add("1")
    assert await delivery.reply("c1", inbound, replies, sent=[], kept=kept) is False
    assert sorted(e.id for e in await store.outbox.pending()) == sorted(e.id for e in kept.entries)
    assert await store.outbox.posts.posted(first) == 1.0
    fields = {f.decode() for f in await store.redis.hkeys(store.keys.state("c1"))}
    assert not fields & {"out", f"p:{first}"}
    harness.channels["vk"].down.clear()
    assert await delivery.resend_stale(min_idle_ms=0) == 2
    # (the outbox's re-send orders a turn's entries by their lease time, then their ids,
    # whose random part breaks a tie within a millisecond: as for any turn's entries)
    assert sorted(harness.channels["vk"].texts("1")) == ["два", "раз"]


async def test_a_reply_in_a_dialog_chat_remembers_the_route_once(harness: Harness) -> None:
    delivery = _delivery(harness)
    customer = await harness.store.identities.resolve("max:5")
    route = "dialog:1005:5"
    assert await delivery.reply(customer, Inbound("max", "5", "e", TextEvent("a"),
                                                  reply_to=route), [Reply("ок")])
    assert await harness.store.identities.routes(customer) == {"max:5": route}
    await harness.store.redis.delete(harness.store.keys.routes(customer))
    await delivery.reply(customer, Inbound("max", "5", "e2", TextEvent("b"), reply_to=route),
                         [Reply("ок")])
    assert await harness.store.identities.routes(customer) == {}  # known here: not re-written
    other = await harness.store.identities.resolve("max:6")
    await delivery.reply(other, Inbound("max", "6", "e", TextEvent("a"), reply_to="chat:77"),
                         [Reply("ок")])
    assert await harness.store.identities.routes(other) == {}  # a group chat is no route


async def test_a_reply_that_went_nowhere_remembers_no_route(harness: Harness) -> None:
    delivery = _delivery(harness)
    customer = await harness.store.identities.resolve("max:5")
    harness.channels["max"].refuse.add("dialog:1005:5")
    assert not await delivery.reply(customer, Inbound("max", "5", "e", TextEvent("a"),
                                                      reply_to="dialog:1005:5"), [Reply("ок")])
    assert await harness.store.identities.routes(customer) == {}


async def test_a_reminder_goes_to_the_latest_account_with_its_note(harness: Harness) -> None:
    delivery = _delivery(harness, clock=5.0)
    customer = await harness.store.identities.resolve("vk:1")
    token = await harness.store.identities.issue_link_token(customer)
    assert await redeem_link_token(harness.store.identities, token, "web:s") == customer
    await harness.store.redis.zadd(harness.store.keys.accounts(customer), {"vk:1": 1.0})
    harness.channels["web"].refuse.add("s")
    result = await delivery.deliver(Send(customer, (Reply("Напоминание"),), "reminder",
                                         note="reminder"))
    assert result == Delivered(Target("vk", "1"), (Target("web", "s"), Target("vk", "1")))
    history = await harness.store.history.read(customer)
    assert [(e.channel, e.text, e.note) for e in history][-1] == ("vk", "Напоминание",
                                                                  "reminder")
    assert harness.metrics.delivery_failovers.labels("web")._value.get() == 1


async def test_a_channel_without_a_connector_is_skipped(harness: Harness) -> None:
    delivery = _delivery(harness, "vk")
    customer = await _linked(harness, "max:2", "vk:1")
    result = await delivery.deliver(_everywhere(customer, "x"))
    assert result == Delivered(Target("vk", "1"), (Target("vk", "1"),))


async def test_a_failed_over_send_is_not_re_sent_on_the_first_channel(harness: Harness) -> None:
    delivery = _delivery(harness)
    harness.channels["max"].down.add("2")
    customer = await _linked(harness, "max:2", "vk:1")
    result = await delivery.deliver(_everywhere(customer, "x"))
    assert result.target == Target("vk", "1")
    assert await harness.store.outbox.pending() == []  # the max entry was given up


async def test_resend_sends_the_named_entries_and_gives_up_refused_ones(
    harness: Harness,
) -> None:
    delivery = _delivery(harness, clock=9.0)
    ok = await harness.store.outbox.put("c1", "vk", "1", Reply("дойдёт"))
    refused = await harness.store.outbox.put("c1", "web", "s", Reply("закрыто"))
    down = await harness.store.outbox.put("c1", "max", "2", Reply("позже"))
    harness.channels["web"].refuse.add("s")
    harness.channels["max"].down.add("2")
    assert await delivery.resend([ok, refused, down]) == 1
    assert harness.channels["vk"].texts("1") == ["дойдёт"]
    assert [e.id for e in await harness.store.outbox.pending()] == [down]  # for the next sweep
    [entry] = await harness.store.history.read("c1")
    assert (entry.text, entry.note, entry.ts) == ("дойдёт", "re-sent", 9.0)
    vk_only = _delivery(harness, "vk")
    harness.channels["max"].down.clear()
    assert await vk_only.resend([down]) == 0  # no connector for it here: left alone
    assert [e.id for e in await harness.store.outbox.pending()] == [down]


async def test_a_button_press_is_acknowledged_on_its_channel_only(harness: Harness) -> None:
    answered: list[Inbound] = []

    class Answering(Recorder):
        async def answer_callback(self, inbound: Inbound) -> None:
            answered.append(inbound)

    class Broken(Recorder):
        async def answer_callback(self, inbound: Inbound) -> None:
            raise ChannelUnavailable("down")

    delivery = Delivery(store=harness.store, metrics=harness.metrics,
                        connectors={"max": Answering("max"), "vk": Broken("vk")})
    pressed = Inbound("max", "2", "e", ButtonEvent("yes", "Да"), callback_id="cb1")
    await delivery.acknowledge(pressed)
    await delivery.acknowledge(Inbound("max", "2", "e2", TextEvent("hi")))  # no callback
    await delivery.acknowledge(Inbound("web", "s", "e3", ButtonEvent("y", "Да"),
                                       callback_id="cb"))  # no such channel here
    await delivery.acknowledge(Inbound("vk", "1", "e4", ButtonEvent("y", "Да"),
                                       callback_id="cb"))  # cosmetic: no error
    assert answered == [pressed]


async def test_a_refusal_is_logged_with_customer_channel_and_error_only(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    delivery = _delivery(harness)
    harness.channels["web"].refuse.add("s")
    customer = await _linked(harness, "web:s")
    with caplog.at_level(logging.INFO, logger="svyaz.bots"):
        await delivery.deliver(_everywhere(customer, "секрет"))

        class Broken(Recorder):
            async def answer_callback(self, inbound: Inbound) -> None:
                raise ChannelUnavailable("down")

        broken = Delivery(store=harness.store, metrics=harness.metrics,
                          connectors={"vk": Broken("vk")})
        await broken.acknowledge(Inbound("vk", "1", "e", ButtonEvent("y", "Да"),
                                         callback_id="cb"))
    refused, unanswered = [r for r in caplog.records if r.name == "svyaz.bots"]
    assert (refused.levelname, refused.getMessage()) == ("WARNING", "delivery refused")
    assert (refused.customer, refused.channel, refused.error) == (  # type: ignore[attr-defined]
        customer, "web", "Undeliverable")
    assert "секрет" not in caplog.text
    assert (unanswered.levelname, unanswered.getMessage()) == (
        "INFO", "callback of vk not acknowledged: ChannelUnavailable")


async def test_the_sweep_re_sends_entries_a_minute_old_by_default(harness: Harness) -> None:
    delivery = _delivery(harness)
    young = await harness.store.outbox.put("c1", "vk", "1", Reply("молодое"))
    old = await harness.store.outbox.put("c1", "vk", "1", Reply("старое"))
    lease = harness.store.outbox.keys_of(old).lease  # (one customer: one shard)
    for entry, age_ms in ((young, 55_000), (old, 65_000)):
        leased = await harness.store.redis.zscore(lease, entry)
        assert leased is not None
        await harness.store.redis.zadd(lease, {entry: leased - age_ms})
    assert await delivery.resend_stale() == 1
    assert harness.channels["vk"].texts("1") == ["старое"]
    assert [e.id for e in await harness.store.outbox.pending()] == [young]


async def _unavailable(*args: object, **kwargs: object) -> None:
    raise StorageUnavailable("redis unavailable: ConnectionError")


async def test_entries_written_ahead_name_the_customer_channel_and_recipient(
    harness: Harness,
) -> None:
    delivery = _delivery(harness)
    inbound = Inbound("max", "7", "e", TextEvent("hi"), reply_to="chat:9")
    [prepared] = delivery.prepare("c1", inbound, [Reply("раз")])
    await harness.store.outbox.put_prepared([prepared])
    entry = await harness.store.outbox.get(prepared.id)
    assert entry is not None
    assert (entry.customer, entry.channel, entry.user_id, entry.reply.text) == (
        "c1", "max", "chat:9", "раз")


async def test_a_reminder_without_a_note_records_none(harness: Harness) -> None:
    delivery = _delivery(harness)
    customer = await harness.store.identities.resolve("vk:1")
    assert (await delivery.deliver(_everywhere(customer, "Привет"))).target == Target("vk", "1")
    [entry] = await harness.store.history.read(customer)
    assert (entry.text, entry.note) == ("Привет", "")


async def test_a_route_that_cannot_be_stored_does_not_fail_the_reply(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery = _delivery(harness)
    customer = await harness.store.identities.resolve("max:5")
    monkeypatch.setattr(harness.store.identities, "set_route", _unavailable)
    assert await delivery.reply(customer, Inbound("max", "5", "e", TextEvent("a"),
                                                  reply_to="dialog:1005:5"), [Reply("ок")])
    assert harness.channels["max"].texts("dialog:1005:5") == ["ок"]


async def test_resend_goes_on_past_the_entries_it_cannot_send(harness: Harness) -> None:
    delivery = _delivery(harness, "vk", "web")
    put = harness.store.outbox.put
    nowhere = await put("c1", "max", "2", Reply("некуда"))  # no max connector here
    refused = await put("c1", "web", "s", Reply("закрыто"))
    down = await put("c1", "vk", "2", Reply("позже"))
    ok = await put("c1", "vk", "1", Reply("дойдёт"))
    harness.channels["web"].refuse.add("s")
    harness.channels["vk"].down.add("2")
    assert await delivery.resend([nowhere, refused, down, ok]) == 1
    assert harness.channels["vk"].texts("1") == ["дойдёт"]
    assert sorted(e.id for e in await harness.store.outbox.pending()) == sorted([nowhere, down])


class Laned(Recorder):
    """A channel that records the lane and the re-send mark of each send."""

    def __init__(self, channel: Channel) -> None:
        super().__init__(channel)
        self.lanes: list[tuple[str, Priority, float | None]] = []

    async def send(
        self, user_id: str, reply: Reply, *, message_key: str, priority: Priority = "live",
        since: float | None = None,
    ) -> None:
        self.lanes.append((reply.text, priority, since))
        await super().send(user_id, reply, message_key=message_key)


async def test_why_a_message_goes_picks_its_lane_and_a_re_send_says_since_when(
    harness: Harness,
) -> None:
    vk = Laned("vk")
    delivery = Delivery(store=harness.store, connectors={"vk": vk}, metrics=harness.metrics)
    customer = await _linked(harness, "vk:1")
    for why in ("reply", "operator", "reminder", "notice"):
        await delivery.deliver(Send(customer, (Reply(why),), why))  # type: ignore[arg-type]
    stale = await harness.store.outbox.put(customer, "vk", "1", Reply("снова"))
    entry = await harness.store.outbox.get(stale)
    assert entry is not None
    assert await delivery.resend([stale]) == 1
    assert vk.lanes == [("reply", "live", None), ("operator", "live", None),
                        ("reminder", "bulk", None), ("notice", "bulk", None),
                        ("снова", "live", entry.created)]


async def test_no_other_channel_is_tried_after_the_deadline(harness: Harness) -> None:
    clock = [100.0]
    delivery = Delivery(store=harness.store, connectors=harness.channels,
                        metrics=harness.metrics, clock=lambda: clock[0])
    customer = await _linked(harness, "web:s", "vk:1")
    harness.channels["web"].refuse.add("s")
    late = Send(customer, (Reply("поздно"),), "notice", deadline=99.0)
    assert await delivery.deliver(late) == Delivered(None, (Target("web", "s"),))
    in_time = Send(customer, (Reply("вовремя"),), "notice", deadline=101.0)
    assert (await delivery.deliver(in_time)).target == Target("vk", "1")
    assert harness.channels["vk"].texts() == ["вовремя"]


def test_the_account_on_a_channel_is_its_latest_by_its_route() -> None:
    accounts = [Info("vk:1", 10.0), Info("max:2", 30.0), Info("vk:3", 20.0)]
    assert account_on("vk", accounts) == Target("vk", "3")
    assert account_on("max", accounts, {"max:2": "dialog:9:2"}) == Target("max", "dialog:9:2")
    assert account_on("web", accounts) is None


class Keyed(Recorder):
    """A channel that records the message key of each send."""

    def __init__(self, channel: Channel) -> None:
        super().__init__(channel)
        self.keys: list[str] = []

    async def send(
        self, user_id: str, reply: Reply, *, message_key: str, priority: Priority = "live",
        since: float | None = None,
    ) -> None:
        self.keys.append(message_key)
        await super().send(user_id, reply, message_key=message_key)


async def test_the_outbox_id_is_the_message_key_of_a_send_and_a_re_send(
    harness: Harness,
) -> None:
    vk = Keyed("vk")
    delivery = Delivery(store=harness.store, connectors={"vk": vk}, metrics=harness.metrics)
    sent: list[Sent] = []
    assert await delivery.reply("c1", Inbound("vk", "1", "e", TextEvent("hi")), [Reply("раз")],
                                sent=sent)
    stale = await harness.store.outbox.put("c1", "vk", "1", Reply("снова"))
    assert await delivery.resend([stale]) == 1
    assert vk.keys == [sent[0].entry_id, stale]


async def test_a_lease_that_cannot_be_renewed_is_logged_and_the_send_goes_on(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    slow = SlowChannel("vk", wait=0.3)
    delivery = Delivery(store=harness.store, connectors={"vk": slow}, metrics=harness.metrics,
                        renew_every=0.05)
    monkeypatch.setattr(harness.store.outbox, "touch", _unavailable)
    with caplog.at_level(logging.WARNING, logger="svyaz.bots"):
        result = await delivery.deliver(_there("c1", Target("vk", "1"), "раз"))
    assert result.target == Target("vk", "1")
    assert slow.texts() == ["раз"]
    warnings = [r for r in caplog.records if r.name == "svyaz.bots"]
    assert warnings
    assert {(r.levelname, r.getMessage(), r.error) for r in warnings} == {  # type: ignore[attr-defined]
        ("WARNING", "outbox lease not renewed", "StorageUnavailable")}


def test_a_send_only_account_is_never_chosen_for_a_reminder() -> None:
    accounts = [Info("sms:+79161234567", 50.0), Info("vk:1", 10.0)]
    assert plan_initiated(accounts, {"vk", "sms", "email"}) == [Target("vk", "1")]

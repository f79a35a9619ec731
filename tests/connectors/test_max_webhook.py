"""POST /max/webhook end to end: the fake pushes updates, the connector answers MAX."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from connectors.base import Unavailable
from connectors.maxbot import MaxConnector
from connectors.maxbot.client import MaxClient, RetryPolicy
from flows.types import ButtonEvent, ContactEvent, Inbound, Reply, StartEvent, TextEvent
from tests.fakes import max_wire as w
from tests.fakes.max import MaxFake, max_fake_fixture  # noqa: F401 - provides max_fake

SECRET = "s3cret_Value-42"


@dataclass
class Sink:
    got: list[Inbound] = field(default_factory=list)
    fail: int = 0

    async def __call__(self, inbound: Inbound) -> None:
        if self.fail:
            self.fail -= 1
            raise Unavailable("redis down")
        self.got.append(inbound)


@dataclass
class Bot:
    connector: MaxConnector
    sink: Sink
    url: str


@pytest.fixture
async def bot(max_fake: MaxFake) -> AsyncIterator[Bot]:
    sink = Sink()
    connector = MaxConnector(
        token=max_fake.token,
        api_url=max_fake.url,
        mode="webhook",
        webhook_secret=SECRET,
        sink=sink,
        retry=RetryPolicy(4, 0.01, 0.05),
    )
    app = web.Application()
    app.router.add_routes(connector.routes())
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    await connector.start()
    yield Bot(connector, sink, f"http://127.0.0.1:{runner.addresses[0][1]}/max/webhook")
    await connector.stop()
    await runner.cleanup()


async def test_message_in_reply_out(bot: Bot, max_fake: MaxFake) -> None:
    status, body = await max_fake.push(
        bot.url, w.message_created(5551001, "Хочу записаться 💇"), secret=SECRET
    )
    assert (status, body) == (200, '{"ok": true}')
    (inbound,) = bot.sink.got
    assert inbound.event == TextEvent(text="Хочу записаться 💇")
    await bot.connector.send(
        inbound.reply_to or inbound.user_id, Reply(text="Какую услугу?"), message_key="k1"
    )
    (sent,) = max_fake.sent
    assert sent.user_id == 5551001
    assert sent.body["text"] == "Какую услугу?"


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET[:-1]])
async def test_wrong_or_missing_secret_is_403_and_nothing_processed(
    bot: Bot,
    max_fake: MaxFake,
    secret: str | None,
) -> None:
    status, _ = await max_fake.push(bot.url, w.message_created(1, "hi"), secret=secret)
    assert status == 403
    assert bot.sink.got == []


async def test_repeated_update_is_processed_once(bot: Bot, max_fake: MaxFake) -> None:
    update = w.message_created(1, "раз")
    for _ in range(3):
        assert (await max_fake.push(bot.url, update, secret=SECRET))[0] == 200
    assert [i.event for i in bot.sink.got] == [TextEvent(text="раз")]


async def test_storage_outage_is_503_and_the_retry_is_processed(
    bot: Bot, max_fake: MaxFake
) -> None:
    bot.sink.fail = 1
    update = w.bot_started(7, "link-abc")
    assert (await max_fake.push(bot.url, update, secret=SECRET))[0] == 503
    assert bot.sink.got == []
    assert (await max_fake.push(bot.url, update, secret=SECRET))[0] == 200
    assert [i.event for i in bot.sink.got] == [StartEvent(payload="link-abc")]


@pytest.mark.parametrize(
    "raw",
    [b"{broken", b"[]", b'{"update_type": "message_created", "timestamp": 1}'],
)
async def test_garbage_is_400_with_a_log_line(
    bot: Bot,
    max_fake: MaxFake,
    raw: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    status, _ = await max_fake.push(bot.url, {}, secret=SECRET, raw=raw)
    assert status == 400
    assert bot.sink.got == []
    assert "not a MAX update" in caplog.text


@pytest.mark.parametrize("update", [w.message_created(0, "hi"), w.bot_started(0)],
                         ids=["message", "started"])
async def test_an_update_from_user_0_is_400_and_reaches_nobody(
    bot: Bot, max_fake: MaxFake, update: dict[str, object]
) -> None:
    assert (await max_fake.push(bot.url, update, secret=SECRET))[0] == 400
    assert bot.sink.got == []


async def test_ignored_update_type_is_200(bot: Bot, max_fake: MaxFake) -> None:
    update = {
        "update_type": "dialog_muted",
        "timestamp": w.now_ms(),
        "chat_id": 1,
        "user": w.user(1),
        "muted_until": 0,
    }
    assert (await max_fake.push(bot.url, update, secret=SECRET))[0] == 200
    assert bot.sink.got == []


async def test_callback_is_answered_once_as_soon_as_recorded(bot: Bot, max_fake: MaxFake) -> None:
    await max_fake.push(bot.url, w.callback(5, "yes", callback_id="cb-9"), secret=SECRET)
    (inbound,) = bot.sink.got
    assert inbound.event == ButtonEvent(button="yes")
    for _ in range(100):
        if max_fake.answers:
            break
        await asyncio.sleep(0.01)
    await bot.connector.answer_callback(inbound)  # the runtime may call it too: no second POST
    assert max_fake.answers == [("cb-9", {})]


async def test_unrecorded_callback_is_not_answered(bot: Bot, max_fake: MaxFake) -> None:
    bot.sink.fail = 1
    status, _ = await max_fake.push(bot.url, w.callback(5, "yes"), secret=SECRET)
    assert status == 503
    await asyncio.sleep(0.1)
    assert max_fake.answers == []


async def test_contact_card(bot: Bot, max_fake: MaxFake) -> None:
    await max_fake.push(bot.url, w.contact(5, "79991234567"), secret=SECRET)
    (inbound,) = bot.sink.got
    assert inbound.event == ContactEvent(phone="79991234567", name="Иван Петров")


async def test_without_a_configured_secret_any_delivery_is_accepted(max_fake: MaxFake) -> None:
    sink = Sink()
    connector = MaxConnector(
        token="T", api_url=max_fake.url, mode="webhook", webhook_secret=None, sink=sink
    )
    app = web.Application()
    app.router.add_routes(connector.routes())
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/max/webhook"
    try:
        assert (await max_fake.push(url, w.message_created(1, "x")))[0] == 200
    finally:
        await connector.stop()
        await runner.cleanup()
    assert len(sink.got) == 1
    assert connector.health() == {"ok": True, "mode": "webhook", "detail": "webhook"}


async def test_start_checks_the_token_and_learns_the_username(bot: Bot, max_fake: MaxFake) -> None:
    for _ in range(100):
        if bot.connector.bot_username:
            break
        await asyncio.sleep(0.01)
    assert bot.connector.deep_link("link-abc") == "https://max.ru/svyaz_test_bot?start=link-abc"


async def test_refused_token_turns_health_red_before_any_message(max_fake: MaxFake) -> None:
    connector = MaxConnector(
        token="WRONG", api_url=max_fake.url, mode="webhook", webhook_secret=SECRET, sink=Sink()
    )
    await connector.start()
    try:
        for _ in range(100):
            if not connector.health()["ok"]:
                break
            await asyncio.sleep(0.01)
        assert connector.health()["ok"] is False
        assert [r.path for r in max_fake.requests] == ["/me"]
    finally:
        await connector.stop()


# A re-send after a crash: MAX has no idempotency key, so the connector reads the dialog back.

async def _reply_to(bot: Bot, max_fake: MaxFake, user: int) -> str:
    await max_fake.push(bot.url, w.message_created(user, "Привет"), secret=SECRET)
    target = bot.sink.got[-1].reply_to
    assert target == f"dialog:{w.chat_of(user)}:{user}"
    return target


async def test_a_resend_of_what_arrived_is_not_shown_twice(bot: Bot, max_fake: MaxFake) -> None:
    target = await _reply_to(bot, max_fake, 5551001)
    long = "слово " * 900  # two messages on MAX
    since = time.time()
    await bot.connector.send(target, Reply(text=long), message_key="k1")
    assert len(max_fake.sent) == 2
    await bot.connector.send(target, Reply(text=long), message_key="k1", since=since)
    assert len(max_fake.sent) == 2
    assert max_fake.sent[0].user_id == 5551001  # still answered by user id


async def test_a_resend_sends_the_parts_that_did_not_arrive(bot: Bot, max_fake: MaxFake) -> None:
    target = await _reply_to(bot, max_fake, 5551001)
    long = "слово " * 900
    since = time.time()
    await bot.connector.send(target, Reply(text=long), message_key="k1")
    first, second = max_fake.sent
    max_fake.sent.remove(second)  # the process died between the two parts
    await bot.connector.send(target, Reply(text=long), message_key="k1", since=since)
    assert [s.body["text"] for s in max_fake.sent] == [first.body["text"], second.body["text"]]


async def test_an_older_identical_message_does_not_count(bot: Bot, max_fake: MaxFake) -> None:
    target = await _reply_to(bot, max_fake, 5551001)
    await bot.connector.send(target, Reply(text="Понял"), message_key="k1")
    later = time.time() + 5  # this entry was written after that message
    await bot.connector.send(target, Reply(text="Понял"), message_key="k2", since=later)
    assert [s.body["text"] for s in max_fake.sent] == ["Понял", "Понял"]


async def test_a_resend_that_cannot_tell_sends(bot: Bot, max_fake: MaxFake) -> None:
    target = await _reply_to(bot, max_fake, 5551001)
    since = time.time()
    await bot.connector.send(target, Reply(text="Да"), message_key="k1")
    await bot.connector.send("5551001", Reply(text="Да"), message_key="k1")
    max_fake.inject("/messages", 500, method="GET", times=None)
    # the dialog cannot be read: a double beats a loss
    await bot.connector.send(target, Reply(text="Да"), message_key="k1", since=since)
    # a bare user id names no chat to read
    await bot.connector.send("5551001", Reply(text="Да"), message_key="k1", since=since)
    assert len(max_fake.sent) == 4


async def test_a_send_by_user_id_learns_the_dialog_from_maxs_answer(
    bot: Bot, max_fake: MaxFake
) -> None:
    """MAX's answer names the dialog: the route a later re-send reads back (bots.delivery
    keeps it); a group chat's answer names none."""
    assert bot.connector.route_of("5551001") is None
    since = time.time()
    await bot.connector.send("5551001", Reply(text="Да"), message_key="k1")
    await bot.connector.send(f"chat:{w.chat_of(5551002)}", Reply(text="Всем"), message_key="k2")
    route = bot.connector.route_of("5551001")
    assert route == f"dialog:{w.chat_of(5551001)}:5551001"
    assert bot.connector.route_of("5551002") is None
    await bot.connector.send(route, Reply(text="Да"), message_key="k1", since=since)
    assert [s.body["text"] for s in max_fake.sent] == ["Да", "Всем"]


def _hurried(max_fake: MaxFake) -> MaxConnector:
    """A connector whose posts time out after 0.3 s (MAX's answer is made to hang longer)."""
    return MaxConnector(
        token=max_fake.token, api_url=max_fake.url, mode="webhook", webhook_secret=SECRET,
        sink=Sink(), retry=RetryPolicy(4, 0.01, 0.05), timeout=0.3,
    )


async def test_a_retry_after_an_accepted_post_timed_out_is_not_shown_twice(
    max_fake: MaxFake,
) -> None:
    customers = [5552000 + n for n in range(30)]
    connector = _hurried(max_fake)
    max_fake.inject("/messages", None, method="POST", delay=2.0, accept_first=True, times=30)
    try:
        await asyncio.gather(*(
            connector.send(f"dialog:{w.chat_of(c)}:{c}", Reply(text=f"Ответ {c}"),
                           message_key=f"k{c}")
            for c in customers
        ))
    finally:
        await connector.stop()
    assert sorted(s.user_id or 0 for s in max_fake.sent) == customers  # each exactly once
    posts = [r for r in max_fake.requests if r.method == "POST" and r.path == "/messages"]
    assert len(posts) == 30


async def test_a_retry_that_cannot_read_the_chat_back_posts_again(max_fake: MaxFake) -> None:
    connector = _hurried(max_fake)
    max_fake.inject("/messages", None, method="POST", delay=2.0, accept_first=True)
    try:  # a bare user id names no chat to read: a double beats a loss
        await connector.send("5551001", Reply(text="Да"), message_key="k1")
    finally:
        await connector.stop()
    assert [s.body["text"] for s in max_fake.sent] == ["Да", "Да"]


async def test_maxapi_reads_the_fakes_message_list(max_fake: MaxFake) -> None:
    client = MaxClient(token=max_fake.token, api_url=max_fake.url)
    try:
        await client.send("5551001", {"text": "раз", "attachments": []})
        await client.send("5551002", {"text": "чужое", "attachments": []})
        await client.send("5551001", {"text": "два", "attachments": []})
        posted = await client.recent(w.chat_of(5551001))
    finally:
        await client.close()
    assert [(p.by_bot, p.text) for p in posted] == [(True, "раз"), (True, "два")]
    assert posted[0].at <= posted[1].at

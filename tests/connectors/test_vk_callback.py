"""POST /vk/callback: confirmation, secret, malformed bodies, de-duplication, durable accept."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web

from connectors.base import Unavailable
from connectors.vk import CALLBACK_PATH, VkConnector
from connectors.vk.client import RetryPolicy
from flows.types import ButtonEvent, Inbound, PermissionEvent, Reply, TextEvent
from tests.fakes import vk as vk_fakes
from tests.fakes.vk import GROUP_ID, TOKEN, FakeVk

fake_vk = vk_fakes.fake_vk
fake_vk_factory = vk_fakes.fake_vk_factory

SECRET = "s3cr3t-callback"
CONFIRMATION = "a1b2c3d4"


@dataclass
class Sink:
    """Stands in for the runtime's sink: de-duplicates by event id, like the real one."""

    got: list[Inbound] = field(default_factory=list)
    calls: int = 0
    down: bool = False

    async def __call__(self, inbound: Inbound) -> None:
        self.calls += 1
        if self.down:
            raise Unavailable("redis is down")
        if all(i.event_id != inbound.event_id for i in self.got):
            self.got.append(inbound)


@dataclass
class Bot:
    url: str
    vk: VkConnector
    sink: Sink


@pytest.fixture
async def bot(fake_vk: FakeVk) -> AsyncIterator[Bot]:
    sink = Sink()
    vk = VkConnector(token=TOKEN, group_id=GROUP_ID, api_url=fake_vk.api_url, mode="callback",
                     secret=SECRET, confirmation=CONFIRMATION, sink=sink,
                     retry=RetryPolicy(attempts=3, base=0.01, cap=0.02))
    app = web.Application()
    app.add_routes(vk.routes())
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    await vk.start()
    port = runner.addresses[0][1]
    yield Bot(url=f"http://127.0.0.1:{port}{CALLBACK_PATH}", vk=vk, sink=sink)
    await vk.stop()
    await runner.cleanup()


async def post_raw(url: str, data: bytes) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.post(url, data=data) as resp:
        return resp.status, await resp.text()


def test_routes_only_in_callback_mode(fake_vk: FakeVk) -> None:
    async def sink(inbound: Inbound) -> None: ...

    def routes(mode: str) -> list[str]:
        vk = VkConnector(token=TOKEN, group_id=GROUP_ID, api_url=fake_vk.api_url,
                         mode=mode, sink=sink)  # type: ignore[arg-type]
        return [f"{r.method} {r.path}" for r in vk.routes()]  # type: ignore[attr-defined]

    assert routes("callback") == ["POST /vk/callback"]
    assert routes("longpoll") == []


async def test_confirmation_answers_the_string_as_plain_text(bot: Bot, fake_vk: FakeVk) -> None:
    assert await fake_vk.confirm(bot.url) == (200, CONFIRMATION)
    assert await fake_vk.confirm(bot.url, secret=SECRET) == (200, CONFIRMATION)
    async with aiohttp.ClientSession() as session, session.post(
        bot.url, json={"type": "confirmation", "group_id": GROUP_ID}
    ) as resp:
        assert resp.content_type == "text/plain"
    assert bot.sink.calls == 0


async def test_a_message_in_gives_the_right_call_out(bot: Bot, fake_vk: FakeVk) -> None:
    envelope = fake_vk.message_new(5551001, "Хочу записаться 💇")
    assert await fake_vk.push_callback(bot.url, envelope, secret=SECRET) == [(200, "ok")]
    [inbound] = bot.sink.got
    assert inbound.event == TextEvent("Хочу записаться 💇")
    assert inbound.event_id == envelope["event_id"]
    # the runtime answers through the connector
    await bot.vk.send(inbound.user_id, Reply("На какой день?"), message_key="o-1")
    [sent] = fake_vk.sent
    assert (sent.peer_id, sent.message) == (5551001, "На какой день?")


@pytest.mark.parametrize("secret", ["forged", "", None])
async def test_forged_or_missing_secret_is_403_and_nothing_processed(
    bot: Bot, fake_vk: FakeVk, secret: str | None
) -> None:
    envelope = fake_vk.message_new(5551001, "hi")
    assert await fake_vk.push_callback(bot.url, envelope, secret=secret) == [(403, "Bad Secret")]
    assert bot.sink.calls == 0


async def test_forged_secret_on_confirmation_is_403(bot: Bot, fake_vk: FakeVk) -> None:
    status, _ = await fake_vk.confirm(bot.url, secret="forged")
    assert status == 403


async def test_another_communitys_event_is_403(bot: Bot, fake_vk: FakeVk) -> None:
    envelope = {**fake_vk.message_new(5551001, "hi"), "group_id": GROUP_ID + 1}
    [(status, _)] = await fake_vk.push_callback(bot.url, envelope, secret=SECRET)
    assert status == 403
    assert bot.sink.calls == 0


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1,2]", b'{"no":"type"}',
     json.dumps({"type": "message_new", "event_id": "e", "secret": SECRET,
                 "object": {"message": {"text": "no from_id"}}}).encode()],
)
async def test_malformed_body_is_400_with_a_log_line(
    bot: Bot, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="svyaz.connectors.vk"):
        status, _ = await post_raw(bot.url, body)
    assert status == 400
    assert bot.sink.calls == 0
    assert any("malformed" in r.getMessage() for r in caplog.records)


async def test_repeated_event_is_processed_once(bot: Bot, fake_vk: FakeVk) -> None:
    envelope = fake_vk.message_new(5551001, "Да", payload='{"b":"yes"}')
    for _ in range(3):
        assert await fake_vk.push_callback(bot.url, envelope, secret=SECRET) == [(200, "ok")]
    assert bot.sink.calls == 1  # the connector's memory skipped the obvious repeats
    assert [i.event for i in bot.sink.got] == [ButtonEvent(button="yes", text="Да")]


async def test_storage_down_is_503_and_vk_retry_succeeds(bot: Bot, fake_vk: FakeVk) -> None:
    envelope = fake_vk.message_new(5551001, "Привет")
    bot.sink.down = True
    answers = await fake_vk.push_callback(bot.url, envelope, secret=SECRET, attempts=2)
    assert answers == [(503, "try later"), (503, "try later")]
    assert bot.sink.got == []
    bot.sink.down = False
    answers = await fake_vk.push_callback(bot.url, envelope, secret=SECRET, attempts=3)
    assert answers == [(200, "ok")]
    assert [i.event for i in bot.sink.got] == [TextEvent("Привет")]


async def test_events_we_do_not_handle_are_ok(bot: Bot, fake_vk: FakeVk) -> None:
    envelope = fake_vk.envelope("message_typing_state", {"state": "typing", "from_id": 1})
    assert await fake_vk.push_callback(bot.url, envelope, secret=SECRET) == [(200, "ok")]
    assert bot.sink.calls == 0


async def test_callback_button_press_is_answered(bot: Bot, fake_vk: FakeVk) -> None:
    envelope = fake_vk.message_event(5551001, {"b": "confirm"}, callback_id="8c1f2a7d0e")
    assert await fake_vk.push_callback(bot.url, envelope, secret=SECRET) == [(200, "ok")]
    [inbound] = bot.sink.got
    assert inbound.event == ButtonEvent(button="confirm")
    await bot.vk.answer_callback(inbound)
    [answer] = fake_vk.answers
    assert answer["event_id"] == "8c1f2a7d0e"


async def test_allow_and_deny(bot: Bot, fake_vk: FakeVk) -> None:
    for kind in ("message_allow", "message_deny"):
        envelope = fake_vk.envelope(kind, {"user_id": 5551001, "key": "k"})
        assert await fake_vk.push_callback(bot.url, envelope, secret=SECRET) == [(200, "ok")]
    assert [i.event for i in bot.sink.got] == [PermissionEvent(True), PermissionEvent(False)]


async def test_without_a_configured_secret_any_secret_is_accepted(fake_vk: FakeVk) -> None:
    sink = Sink()
    vk = VkConnector(token=TOKEN, group_id=GROUP_ID, api_url=fake_vk.api_url, mode="callback",
                     secret=None, confirmation=None, sink=sink)
    app = web.Application()
    app.add_routes(vk.routes())
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}{CALLBACK_PATH}"
    try:
        envelope = fake_vk.message_new(7, "hi")
        assert await fake_vk.push_callback(url, envelope) == [(200, "ok")]
        status, _ = await fake_vk.confirm(url)  # confirmation string not configured
        assert status == 500
    finally:
        await vk.stop()
        await runner.cleanup()
    assert len(sink.got) == 1

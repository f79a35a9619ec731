"""maxapi's own ``Bot`` against the MAX fake: the real library must accept every answer.

This is what makes the fake trustworthy for the connector tests: if the fake drifted from
the wire protocol maxapi speaks, these fail.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from maxapi import Bot
from maxapi.client.default import DefaultConnectionProperties
from maxapi.exceptions.max import InvalidToken, MaxApiError
from maxapi.types.attachments import CallbackButton, LinkButton, RequestContactButton
from maxapi.types.updates import UpdateUnionAdapter
from maxapi.utils.inline_keyboard import InlineKeyboardBuilder

from connectors.maxbot.parse import parse
from tests.fakes import max_wire as w
from tests.fakes.max import MaxFake, max_fake_fixture  # noqa: F401 - provides max_fake


def make_bot(fake: MaxFake, token: str | None = None) -> Bot:
    bot = Bot(
        token=token or fake.token,
        auto_requests=False,
        auto_check_subscriptions=False,
        default_connection=DefaultConnectionProperties(max_retries=0),
    )
    bot.set_api_url(fake.url)
    return bot


@pytest.fixture
async def bot(max_fake: MaxFake) -> AsyncIterator[Bot]:
    b = make_bot(max_fake)
    yield b
    await b.close_session()


async def test_get_me(bot: Bot, max_fake: MaxFake) -> None:
    me = await bot.get_me()
    assert me.user_id == max_fake.bot_id
    assert me.is_bot is True
    assert max_fake.requests[0].path == "/me"


async def test_send_message_with_keyboard(bot: Bot, max_fake: MaxFake) -> None:
    builder = InlineKeyboardBuilder()
    builder.row(
        CallbackButton(text="Да", payload="yes"), LinkButton(text="Сайт", url="https://e.com")
    )
    builder.row(RequestContactButton(text="Телефон"))
    sent = await bot.send_message(
        user_id=42, text="**Привет** 👋", attachments=[builder.as_markup()], format="markdown"
    )
    assert sent is not None
    assert sent.message.body is not None
    assert sent.message.body.mid == max_fake.sent[0].message["body"]["mid"]
    assert sent.message.body.text == "**Привет** 👋"
    assert max_fake.sent[0].body["format"] == "markdown"
    assert max_fake.sent[0].user_id == 42


async def test_send_to_chat_and_edit_and_delete(bot: Bot, max_fake: MaxFake) -> None:
    sent = await bot.send_message(chat_id=-7001234, text="в группу")
    assert sent is not None
    assert sent.message.body is not None
    mid = sent.message.body.mid
    assert max_fake.sent[0].chat_id == -7001234
    edited = await bot.edit_message(message_id=mid, text="исправлено")
    assert edited is not None
    assert edited.success is True
    assert max_fake.sent[0].body["text"] == "исправлено"
    deleted = await bot.delete_message(message_id=mid)
    assert deleted.success is True
    assert max_fake.sent == []


async def test_fake_refuses_what_max_refuses(bot: Bot, max_fake: MaxFake) -> None:
    builder = InlineKeyboardBuilder()
    builder.row(*(CallbackButton(text=str(i), payload=str(i)) for i in range(8)))
    with pytest.raises(MaxApiError) as info:
        await bot.send_message(user_id=1, text="x", attachments=[builder.as_markup()])
    assert info.value.code == 400
    assert "row 0 has 8 buttons > 7" in str(info.value.raw)


async def test_get_updates_all_kinds_validate_in_maxapi(bot: Bot, max_fake: MaxFake) -> None:
    updates = [
        w.message_created(5, "текст"),
        w.contact(5, "79990001122"),
        w.callback(5, "yes"),
        w.bot_started(5, "link-tok"),
    ]
    max_fake.enqueue(*updates)
    raw = await bot.get_updates(timeout=1)
    assert raw["marker"] == 4
    assert raw["updates"] == updates
    for update in raw["updates"]:
        UpdateUnionAdapter.validate_python(update)  # maxapi accepts the fake's shapes
        assert parse(update) is not None  # and so does svyaz
    again = await bot.get_updates(timeout=0, marker=raw["marker"])
    assert again == {"updates": [], "marker": 4}


async def test_get_updates_holds_when_empty(bot: Bot) -> None:
    started = time.monotonic()
    raw = await bot.get_updates(timeout=1)
    assert raw == {"updates": [], "marker": 0}
    assert time.monotonic() - started >= 0.9


async def test_send_callback(bot: Bot, max_fake: MaxFake) -> None:
    answered = await bot.send_callback(callback_id="cb-1", notification="Готово")
    assert answered.success is True
    assert max_fake.answers == [("cb-1", {"notification": "Готово"})]


async def test_subscriptions(bot: Bot, max_fake: MaxFake) -> None:
    url = "https://bot.example.ru/max/webhook"
    subscribed = await bot.subscribe_webhook(url=url, secret="s3cret_42")
    assert subscribed.success is True
    subs = await bot.get_subscriptions()
    assert [s.url for s in subs.subscriptions] == [url]
    max_fake.enqueue(w.message_created(1, "не придёт"))
    assert (await bot.get_updates(timeout=0))["updates"] == []  # webhook switches polling off
    await bot.delete_webhook()
    assert (await bot.get_subscriptions()).subscriptions == []
    assert len((await bot.get_updates(timeout=0))["updates"]) == 1


async def test_get_chat(bot: Bot) -> None:
    chat = await bot.get_chat_by_id(w.chat_of(5))
    assert chat.chat_id == w.chat_of(5)


async def test_wrong_token_is_invalid_token(max_fake: MaxFake) -> None:
    bad = make_bot(max_fake, token="nope")
    try:
        with pytest.raises(InvalidToken, match="verify.token"):
            await bad.get_me()
    finally:
        await bad.close_session()


async def test_injected_errors_reach_maxapi(bot: Bot, max_fake: MaxFake) -> None:
    max_fake.inject("/messages", 429, code="too.many.requests")
    with pytest.raises(MaxApiError) as info:
        await bot.send_message(user_id=1, text="x")
    assert info.value.code == 429
    max_fake.blocked.add(1)
    with pytest.raises(MaxApiError) as blocked:
        await bot.send_message(user_id=1, text="x")
    assert blocked.value.code == 403
    assert isinstance(blocked.value.raw, dict)
    assert blocked.value.raw["code"] == "chat.denied"

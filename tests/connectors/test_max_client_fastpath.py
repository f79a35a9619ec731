"""connectors.maxbot.client's direct POST path: the same request maxapi's ``send_message``
sends, the same errors, and attachments validated once, before anything is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from maxapi.enums.parse_mode import TextFormat
from maxapi.types.attachments import Attachments
from pydantic import TypeAdapter, ValidationError

import connectors.maxbot.wire as wire_mod
from connectors.base import ChannelAuthError, ChannelUnavailable, Undeliverable
from connectors.maxbot.client import (
    MaxClient,
    MaxRefused,
    RetryPolicy,
    make_bot,
    recipient,
)
from connectors.maxbot.render import NewMessageBody, keyboard, render
from connectors.maxbot.wire import mid_of, wire_attachments
from flows.types import Button, Reply
from tests.fakes import max_wire as w
from tests.fakes.max import MaxFake, max_fake_fixture  # noqa: F401 - provides max_fake

FAST = RetryPolicy(attempts=4, base=0.01, cap=0.02)
# What maxapi's models refuse (they accept less obvious mistakes, e.g. a callback without
# a payload, so those never were refused client-side).
MALFORMED: list[dict[str, object]] = [
    keyboard([[{"type": "teleport", "text": "x"}]]),
    keyboard([[{"type": "callback", "payload": "no text"}]]),
    {"type": "inline_keyboard", "payload": {}},
    {"type": "bogus"},
]


@dataclass
class Seen:
    method: str
    path_qs: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    """A loopback server that records each request as it arrives and answers from a script
    (``(status, body)``; a dict body is sent as JSON), then with a valid sent message."""

    script: list[tuple[int, object]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(
            Seen(request.method, request.path_qs, dict(request.headers), await request.read())
        )
        if self.script:
            status, body = self.script.pop(0)
            if isinstance(body, dict):
                return web.json_response(body, status=status)
            return web.Response(status=status, text=str(body))
        return web.json_response({"message": w.message_created(1)["message"]})


@pytest.fixture
async def recorder() -> AsyncIterator[Recorder]:
    rec = Recorder()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rec.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield rec
    await runner.cleanup()


async def maxapi_send(url: str, target: str, body: NewMessageBody) -> None:
    """What ``MaxClient.send`` did before the direct path: maxapi's own ``send_message``."""
    bot = make_bot("TESTTOKEN", url, 5.0)
    chat_id, user_id = recipient(target)
    adapter: TypeAdapter[list[Any]] = TypeAdapter(list[Attachments])
    attachments = adapter.validate_python(body["attachments"]) if body["attachments"] else []
    try:
        await bot.send_message(
            chat_id=chat_id,
            user_id=user_id,
            text=body.get("text"),
            attachments=attachments or None,
            format=TextFormat.MARKDOWN if body.get("format") == "markdown" else None,
        )
    finally:
        await bot.close_session()


def _bodies() -> list[NewMessageBody]:
    buttons = (
        Button(id="y", text="Да"),
        Button(id="n", text="Нет"),
        Button(id="s", text="Сайт", url="https://example.com/?a=1&b=ё"),
    )
    return [
        *render(Reply(text="Здравствуйте 👋")),
        *render(Reply(text="**Итого:** 1 200 ₽", markdown=True)),
        *render(Reply(text="Телефон?", request_phone=True, buttons=buttons)),
        *render(Reply(text="Фото", image_url="https://example.com/a.jpg", buttons=buttons)),
        {"attachments": [keyboard([[]])], "text": "an empty keyboard is dropped"},
        {"attachments": [keyboard(rows=[[{"type": "callback", "text": "x", "payload": "p"}]])]},
    ]


@pytest.mark.parametrize("target", ["5551001", "chat:-7001234", "chat:0", "0"])
async def test_request_is_byte_for_byte_what_maxapi_sent(recorder: Recorder, target: str) -> None:
    client = MaxClient(token="TESTTOKEN", api_url=recorder.url, retry=FAST, timeout=5.0)
    try:
        for body in _bodies():
            await maxapi_send(recorder.url, target, body)
            await client.send(target, body)
    finally:
        await client.close()
    pairs = list(zip(recorder.seen[::2], recorder.seen[1::2], strict=True))
    assert len(pairs) == len(_bodies())
    for before, after in pairs:
        assert after == before
        assert after.headers["Authorization"] == "TESTTOKEN"
        assert "access_token" not in after.path_qs


async def test_wire_matches_the_fake_and_keeps_maxapi_defaults(
    max_fake: MaxFake,
) -> None:
    client = MaxClient(token=max_fake.token, api_url=max_fake.url, retry=FAST)
    try:
        (body,) = render(Reply(text="Фото", image_url="https://e.com/a.jpg",
                               buttons=(Button(id="y", text="Да"),)))
        mid = await client.send("42", body)
    finally:
        await client.close()
    (sent,) = max_fake.sent
    assert mid == sent.message["body"]["mid"]
    assert max_fake.requests[0].path == "/messages"
    assert max_fake.requests[0].query == {"user_id": "42"}
    assert sent.body == {
        "attachments": [
            {"type": "image", "payload": {"url": "https://e.com/a.jpg", "token": None}},
            {"type": "inline_keyboard", "payload": {"buttons": [
                [{"type": "callback", "text": "Да", "payload": "y", "intent": "default"}],
            ]}},
        ],
        "text": "Фото",
    }


@pytest.mark.parametrize("attachment", MALFORMED)
async def test_malformed_attachment_is_refused_before_any_request(
    max_fake: MaxFake, attachment: dict[str, object]
) -> None:
    client = MaxClient(token=max_fake.token, api_url=max_fake.url, retry=FAST)
    body: NewMessageBody = {"attachments": [attachment], "text": "hi"}
    try:
        for _ in range(2):  # a refused attachment is not cached as good
            with pytest.raises(ValidationError):
                await client.send("1", body)
    finally:
        await client.close()
    assert max_fake.requests == []


async def test_too_long_text_is_refused_before_any_request(max_fake: MaxFake) -> None:
    client = MaxClient(token=max_fake.token, api_url=max_fake.url, retry=FAST)
    try:
        with pytest.raises(ValueError, match="4000"):
            await client.send("1", {"attachments": [], "text": "x" * 4000})
    finally:
        await client.close()
    assert max_fake.requests == []


async def test_429_then_200_returns_the_mid(max_fake: MaxFake) -> None:
    max_fake.inject("/messages", 429, code="too.many.requests")
    client = MaxClient(token=max_fake.token, api_url=max_fake.url, retry=FAST)
    try:
        mid = await client.send("7", render(Reply(text="hi"))[0])
    finally:
        await client.close()
    assert [r.status for r in max_fake.requests] == [429, 200]
    (sent,) = max_fake.sent
    assert mid == sent.message["body"]["mid"]


async def test_every_attempt_takes_a_limiter_slot(max_fake: MaxFake) -> None:
    max_fake.inject("/messages", 503, times=2)
    client = MaxClient(token=max_fake.token, api_url=max_fake.url, retry=FAST)
    granted = 0
    slot = client.limiter.slot

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal granted
        granted += 1
        return slot(*args, **kwargs)

    client.limiter.slot = counting  # type: ignore[method-assign]
    try:
        await client.send("7", render(Reply(text="hi"))[0])
    finally:
        await client.close()
    assert granted == 3 == len(max_fake.requests)


@pytest.mark.parametrize(
    ("script", "error"),
    [
        ([(200, "not json")], MaxRefused),  # maxapi: MaxApiError(200, text)
        ([(200, "[1, 2]")], MaxRefused),
        ([(400, "plain text")], MaxRefused),
        ([(403, {"code": "chat.denied", "message": "blocked"})], Undeliverable),
        ([(502, "bad gateway")] * 4, ChannelUnavailable),
        ([(403, {"code": "verify.token", "message": "Invalid access_token"})],
         ChannelAuthError),  # stops the channel
    ],
)
async def test_odd_answers_map_as_before(
    recorder: Recorder, script: list[tuple[int, object]], error: type[Exception]
) -> None:
    recorder.script = list(script)
    client = MaxClient(token="TESTTOKEN", api_url=recorder.url, retry=FAST)
    try:
        with pytest.raises(error):
            await client.send("1", render(Reply(text="hi"))[0])
    finally:
        await client.close()
    assert (client.auth_error is not None) == (error is ChannelAuthError)


async def test_a_session_closed_under_a_send_is_retried(max_fake: MaxFake) -> None:
    client = MaxClient(token=max_fake.token, api_url=max_fake.url, retry=FAST)
    bot = client._bot
    real = bot.ensure_session
    calls = 0

    async def closed_once() -> Any:
        nonlocal calls
        calls += 1
        session = await real()
        if calls == 1:
            await session.close()  # aiohttp raises RuntimeError: nothing was sent
        return session

    bot.ensure_session = closed_once  # type: ignore[method-assign]
    try:
        await client.send("1", render(Reply(text="hi"))[0])
    finally:
        await client.close()
    assert calls == 2
    assert len(max_fake.sent) == 1


async def test_answer_posts_an_empty_body_and_checks_the_answer(recorder: Recorder) -> None:
    client = MaxClient(token="TESTTOKEN", api_url=recorder.url, retry=FAST)
    recorder.script = [(200, {"success": True}), (200, {"unexpected": 1})]
    try:
        await client.answer("cb-1")
        with pytest.raises(ValidationError):  # as maxapi's SendedCallback refused it
            await client.answer("cb-2")
    finally:
        await client.close()
    first = recorder.seen[0]
    assert (first.method, first.path_qs, first.body) == ("POST", "/answers?callback_id=cb-1", b"{}")


def test_mid_of_reads_the_answer_and_falls_back_to_maxapi_model() -> None:
    message = w.message_created(1)["message"]
    assert mid_of({"message": message}) == message["body"]["mid"]
    assert mid_of({"message": {**message, "body": None}}) == ""
    with pytest.raises(ValidationError):
        mid_of({})


def test_each_distinct_attachment_is_validated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    validated: list[object] = []
    adapter = wire_mod._ATTACHMENT

    class Spy:
        def validate_python(self, value: object) -> Any:
            validated.append(value)
            return adapter.validate_python(value)

    monkeypatch.setattr(wire_mod, "_ATTACHMENT", Spy())
    monkeypatch.setattr(wire_mod, "_wire_cache", {})
    keyboards: list[Callable[[], dict[str, object]]] = [
        lambda: keyboard([[{"type": "callback", "text": "A", "payload": "a"}]]),
        lambda: keyboard([[{"type": "callback", "text": "B", "payload": "b"}]]),
    ]
    first = [wire_attachments([make()]) for make in keyboards for _ in range(3)]
    assert len(validated) == 2
    assert first[0] == first[1] == first[2] != first[3]


def test_the_cache_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire_mod, "_wire_cache", {})
    monkeypatch.setattr(wire_mod, "WIRE_CACHE_SIZE", 5)
    for i in range(20):
        wire_attachments([{"type": "image", "payload": {"url": f"https://e.com/{i}.jpg"}}])
    assert len(wire_mod._wire_cache) == 5
    assert "19.jpg" in next(reversed(wire_mod._wire_cache))


def test_a_huge_attachment_is_validated_each_time_not_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(wire_mod, "_wire_cache", {})
    rows = [[{"type": "callback", "text": f"{r}.{c}", "payload": "p" * 200} for c in range(7)]
            for r in range(30)]
    (wire,) = wire_attachments([keyboard(rows)])
    assert len(wire["payload"]["buttons"]) == 30
    assert wire_mod._wire_cache == {}


async def test_a_recipients_request_url_is_built_once(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The URL of a recipient's sends is parsed and its query encoded once (the bytes on the
    wire stay maxapi's: ``test_request_is_byte_for_byte_what_maxapi_sent``)."""
    monkeypatch.setattr(wire_mod, "_urls", {})
    client = MaxClient(token="TESTTOKEN", api_url=recorder.url, retry=FAST, timeout=5.0)
    try:
        for target in ("5551001", "5551001", "chat:-7001234", "5551001"):
            await client.send(target, {"attachments": [], "text": "привет"})
    finally:
        await client.close()
    assert [r.path_qs for r in recorder.seen] == [
        "/messages?user_id=5551001", "/messages?user_id=5551001", "/messages?chat_id=-7001234",
        "/messages?user_id=5551001"]
    assert [str(u) for u in wire_mod._urls.values()] == [
        f"{recorder.url}/messages?user_id=5551001", f"{recorder.url}/messages?chat_id=-7001234"]

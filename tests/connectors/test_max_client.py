"""connectors.maxbot.client against the MAX fake: wire, rate limit, retries, error mapping."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from connectors.base import ChannelAuthError, ChannelUnavailable, Undeliverable
from connectors.maxbot.client import MaxClient, MaxRefused, RetryPolicy, classify, recipient
from connectors.maxbot.render import PHONE_LABEL, render
from flows.types import Button, Reply
from tests.fakes.max import MaxFake, max_fake_fixture  # noqa: F401 - provides max_fake

FAST = RetryPolicy(attempts=12, base=0.02, cap=0.3)


@pytest.fixture
async def client(max_fake: MaxFake) -> AsyncIterator[MaxClient]:
    c = MaxClient(token=max_fake.token, api_url=max_fake.url, retry=FAST, timeout=2.0)
    yield c
    await c.close()


def _posts(fake: MaxFake) -> list[int]:
    return [r.status for r in fake.requests if r.path == "/messages"]


async def test_text_goes_to_the_user(client: MaxClient, max_fake: MaxFake) -> None:
    (body,) = render(Reply(text="Здравствуйте 👋"))
    mid = await client.send("5551001", body)
    (sent,) = max_fake.sent
    assert sent.user_id == 5551001
    assert sent.body == {"attachments": [], "text": "Здравствуйте 👋"}
    assert mid == sent.message["body"]["mid"]
    assert max_fake.requests[0].query == {"user_id": "5551001"}


async def test_keyboard_and_markdown_reach_the_wire(client: MaxClient, max_fake: MaxFake) -> None:
    reply = Reply(
        text="*Да?*",
        markdown=True,
        request_phone=True,
        buttons=(Button(id="y", text="Да"), Button(id="s", text="Сайт", url="https://e.com")),
    )
    (body,) = render(reply)
    await client.send("42", body)
    (sent,) = max_fake.sent
    assert sent.body["format"] == "markdown"
    rows = sent.body["attachments"][0]["payload"]["buttons"]
    assert rows == [
        [{"type": "callback", "text": "Да", "payload": "y", "intent": "default"}],
        [{"type": "link", "text": "Сайт", "url": "https://e.com"}],
        [{"type": "request_contact", "text": PHONE_LABEL}],
    ]


async def test_group_chat_target(client: MaxClient, max_fake: MaxFake) -> None:
    await client.send("chat:-7001234", render(Reply(text="hi"))[0])
    assert max_fake.requests[0].query == {"chat_id": "-7001234"}


@pytest.mark.parametrize("bad", ["", "abc", "chat:x"])
def test_bad_target_is_undeliverable(bad: str) -> None:
    with pytest.raises(Undeliverable):
        recipient(bad)


async def test_blocked_user_is_undeliverable_without_retry(
    client: MaxClient,
    max_fake: MaxFake,
) -> None:
    max_fake.blocked.add(9)
    with pytest.raises(Undeliverable, match="403 chat.denied"):
        await client.send("9", render(Reply(text="hi"))[0])
    assert _posts(max_fake) == [403]


async def test_chat_not_found_is_undeliverable(client: MaxClient, max_fake: MaxFake) -> None:
    max_fake.inject("/messages", 404, code="chat.not.found")
    with pytest.raises(Undeliverable):
        await client.send("9", render(Reply(text="hi"))[0])


async def test_bad_request_is_refused_and_logged(
    client: MaxClient,
    max_fake: MaxFake,
    caplog: pytest.LogCaptureFixture,
) -> None:
    max_fake.inject("/messages", 400, code="proto.payload")
    with pytest.raises(MaxRefused):
        await client.send("9", render(Reply(text="hi"))[0])
    assert "MAX refused POST /messages: HTTP 400" in caplog.text


async def test_401_stops_the_channel_with_one_log_line(
    max_fake: MaxFake,
    caplog: pytest.LogCaptureFixture,
) -> None:
    c = MaxClient(token="WRONG", api_url=max_fake.url, retry=FAST)
    try:
        for _ in range(3):
            with pytest.raises(ChannelAuthError):
                await c.send("1", render(Reply(text="hi"))[0])
    finally:
        await c.close()
    assert c.auth_error is not None
    assert len(max_fake.requests) == 1  # later sends fail fast
    lines = [r for r in caplog.records if "refused the bot token" in r.getMessage()]
    assert len(lines) == 1
    assert "WRONG" not in caplog.text


async def test_429_and_500_are_retried(client: MaxClient, max_fake: MaxFake) -> None:
    max_fake.inject("/messages", 429, code="too.many.requests", times=2)
    max_fake.inject("/messages", 503, times=1)
    await client.send("1", render(Reply(text="hi"))[0])
    assert sorted(_posts(max_fake)) == [200, 429, 429, 503]
    assert len(max_fake.sent) == 1


async def test_persistent_failure_gives_up_bounded(max_fake: MaxFake) -> None:
    max_fake.inject("/messages", 500, times=None)
    c = MaxClient(token=max_fake.token, api_url=max_fake.url, retry=RetryPolicy(3, 0.01, 0.02))
    try:
        with pytest.raises(ChannelUnavailable, match="failed 3 times; last: HTTP 500"):
            await c.send("1", render(Reply(text="hi"))[0])
    finally:
        await c.close()
    assert _posts(max_fake) == [500, 500, 500]


async def test_timeout_is_retried(max_fake: MaxFake) -> None:
    max_fake.inject("/messages", None, delay=1.0)
    c = MaxClient(token=max_fake.token, api_url=max_fake.url, retry=FAST, timeout=0.3)
    try:
        await c.send("1", render(Reply(text="hi"))[0])
    finally:
        await c.close()
    assert len(max_fake.sent) >= 1  # the slow first try may land too: MAX has no random_id


async def test_network_down_is_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = MaxClient(token="T", api_url=f"http://127.0.0.1:{port}", retry=RetryPolicy(2, 0.01, 0.02))
    try:
        with pytest.raises(ChannelUnavailable, match="failed 2 times"):
            await c.send("1", render(Reply(text="hi"))[0])
    finally:
        await c.close()


async def test_callback_answer_has_no_toast(client: MaxClient, max_fake: MaxFake) -> None:
    await client.answer("cb-77")
    assert max_fake.answers == [("cb-77", {})]


@pytest.mark.slow
async def test_429_storm_delivers_everything_within_30_per_second(
    client: MaxClient,
    max_fake: MaxFake,
) -> None:
    max_fake.inject("/messages", 429, code="too.many.requests", times=None, ratio=0.3, seconds=2.0)
    bodies = [render(Reply(text=f"сообщение {i}"))[0] for i in range(50)]
    await asyncio.gather(*(client.send(str(1000 + i), b) for i, b in enumerate(bodies)))
    texts = sorted(s.body["text"] for s in max_fake.sent)
    assert texts == sorted(b["text"] for b in bodies)
    assert 429 in _posts(max_fake)
    assert max_fake.max_in_window(1.0) <= 30


@pytest.mark.parametrize(
    ("status", "raw", "outcome"),
    [
        (429, {}, "retry"),
        (500, "oops", "retry"),
        (503, {}, "retry"),
        (401, {}, "auth"),
        (403, {"code": "verify.token"}, "auth"),
        (403, {"code": "chat.denied"}, "undeliverable"),
        (404, {"code": "chat.not.found"}, "undeliverable"),
        (400, {"code": "proto.payload"}, "refused"),
    ],
)
def test_classify(status: int, raw: object, outcome: str) -> None:
    assert classify(status, raw) == outcome


async def test_send_after_close_works_and_leaves_no_open_session(max_fake: MaxFake) -> None:
    c = MaxClient(token=max_fake.token, api_url=max_fake.url, retry=FAST)
    await c.close()
    await c.send("1", render(Reply(text="из outbox при остановке"))[0])
    assert len(max_fake.sent) == 1
    assert c._bot.session is not None
    assert c._bot.session.closed

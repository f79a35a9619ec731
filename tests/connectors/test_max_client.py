"""connectors.maxbot.client against the MAX fake: wire, rate limit, retries, error mapping."""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from connectors.base import (
    ChannelAuthError,
    ChannelUnavailable,
    Priority,
    Undeliverable,
)
from connectors.maxbot.client import MaxClient, MaxRefused, RetryPolicy, classify, recipient
from connectors.maxbot.render import PHONE_LABEL, render
from flows.types import Button, Reply
from tests.fakes.max import MaxFake, max_fake_fixture  # noqa: F401 - provides max_fake
from tests.waiting import until

FAST = RetryPolicy(attempts=12, base=0.02, cap=0.3)


@pytest.fixture
async def client(max_fake: MaxFake) -> AsyncIterator[MaxClient]:
    c = MaxClient(token=max_fake.token, api_url=max_fake.url, retry=FAST, timeout=2.0)
    yield c
    await c.close()


class JitterNetwork:
    """A loopback HTTP relay that holds each request and each answer a random 0..``jitter``
    seconds (seeded), like a jittery network between the client and the platform."""

    def __init__(self, upstream: str, jitter: float, seed: int = 6) -> None:
        self.upstream = upstream.rstrip("/")
        self.jitter = jitter
        self._rng = random.Random(seed)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._relay)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._session = aiohttp.ClientSession()
        host, port = self._runner.addresses[0][:2]
        return f"http://{host}:{port}"

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _relay(self, request: web.Request) -> web.Response:
        assert self._session is not None
        await asyncio.sleep(self._rng.uniform(0, self.jitter))  # on the way there
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() in ("authorization", "content-type")}
        async with self._session.request(
            request.method, self.upstream + request.path_qs, data=await request.read(),
            headers=headers,
        ) as upstream:
            body, status = await upstream.read(), upstream.status
            content_type = upstream.content_type
        await asyncio.sleep(self._rng.uniform(0, self.jitter))  # and back
        return web.Response(status=status, body=body, content_type=content_type)


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


@pytest.mark.slow
async def test_jittery_network_and_a_storm_never_show_max_more_than_30_a_second(
    max_fake: MaxFake,
) -> None:
    """Each way 0-150 ms of random network delay, 30% of sends answered 429 (then 500), a
    burst of 120 sends at once: all delivered, and no second at the fake ever sees more than 30."""
    max_fake.inject("/messages", 429, code="too.many.requests", times=None, ratio=0.3,
                    seconds=1.5)
    asyncio.get_running_loop().call_later(  # then a storm of 500s
        1.5, lambda: max_fake.inject("/messages", 500, times=None, ratio=0.3, seconds=2.0)
    )
    bodies = [render(Reply(text=f"напоминание {i}"))[0] for i in range(120)]
    async with JitterNetwork(max_fake.url, jitter=0.15) as url:
        c = MaxClient(token=max_fake.token, api_url=url, retry=FAST, timeout=5.0)
        await asyncio.gather(*(c.send(str(1000 + i), b) for i, b in enumerate(bodies)))
        await c.close()
    assert sorted(s.body["text"] for s in max_fake.sent) == sorted(b["text"] for b in bodies)
    assert {429, 500} <= set(_posts(max_fake))
    assert len(max_fake.requests) > 130  # the retries counted too
    assert max_fake.max_in_window(1.0) <= 30


async def test_a_live_send_overtakes_a_queued_bulk_burst(max_fake: MaxFake) -> None:
    from connectors.maxbot import MaxConnector

    async def nowhere(inbound: object) -> None:
        raise AssertionError("no inbound expected")

    max_conn = MaxConnector(token=max_fake.token, api_url=max_fake.url, mode="webhook",
                            webhook_secret=None, sink=nowhere, retry=FAST)
    done: dict[str, float] = {}

    async def send(user: str, priority: Priority) -> None:
        await max_conn.send(user, Reply(text="текст"), message_key=user, priority=priority)
        done[user] = time.monotonic()

    bulk = [asyncio.create_task(send(str(100 + i), "bulk")) for i in range(45)]
    await until(lambda: len(done) >= 30)  # 30 have gone, 15 bulk sends wait for the next second
    await send("7", "live")
    await asyncio.gather(*bulk)
    await max_conn.stop()
    waiting_bulk = sorted(done[str(100 + i)] for i in range(30, 45))
    assert done["7"] < waiting_bulk[0]
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

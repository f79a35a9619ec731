"""bots.app: the wired application on a loopback port — health, metrics, web chat, reload."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from bots_harness import FLOWS

from bots.app import EDGE, build_app
from bots.config import Settings
from bots.incidents import incident_text
from flows.types import Inbound, Reply, TextEvent
from storage.embedded import EmbeddedRedis
from storage.instance import Instance
from storage.store import Store
from tests.fakes.max import MaxFake, max_fake_fixture  # noqa: F401 - provides max_fake
from tests.held import holds

ORIGIN = "http://127.0.0.1:8080"


def make_settings(redis_url: str | None, bot: str, tmp: Path, **extra: object) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, redis_url=redis_url, bot=bot, flows=extra.pop("flows", FLOWS),
        data_dir=tmp / "data", **extra,
    )


@pytest.fixture
async def client(redis_url: str, bot_prefix: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    app = build_app(make_settings(redis_url, bot_prefix, tmp_path, api_token="t0ken"))
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        yield c


async def chat(client: TestClient) -> aiohttp.ClientWebSocketResponse:
    ws = await client.ws_connect("/chat/ws", headers={"Origin": ORIGIN})
    await ws.send_json({"type": "hello", "session": None})
    welcome = await ws.receive_json(timeout=5)
    assert welcome["type"] == "welcome"
    await ws.send_json({"type": "open"})  # the visitor opens the chat: the bot greets
    return ws


async def next_reply(ws: aiohttp.ClientWebSocketResponse) -> str:
    while True:
        frame = await ws.receive_json(timeout=5)
        if frame["type"] == "reply":
            return str(frame["text"])


async def test_healthz_reports_redis_channels_and_scheduler(client: TestClient) -> None:
    resp = await client.get("/healthz")
    assert resp.status == 200
    body = await resp.json()
    assert body["redis"]["ok"] is True
    assert body["channels"]["web"]["ok"] is True
    assert body["scheduler"]["ok"] is True
    assert "hello" in body["flows"]["loaded"]
    assert body["incidents"] == []


async def test_healthz_lists_the_open_incidents(client: TestClient) -> None:
    parts = client.server.app[EDGE].started
    assert parts is not None
    await parts.incidents.trouble("sms:balance")
    body = await (await client.get("/healthz")).json()
    assert [(i["kind"], i["detail"]) for i in body["incidents"]] == [
        ("sms:balance", incident_text("sms:balance"))]
    await parts.incidents.fine("sms:balance")


async def test_web_chat_dialogue_and_metrics(client: TestClient) -> None:
    ws = await chat(client)
    assert await next_reply(ws) == "Как вас зовут?"
    await ws.send_json({"type": "text", "text": "Оля", "id": "c1"})
    assert await next_reply(ws) == "Приятно познакомиться, Оля! Сколько вам лет?"
    await ws.close()
    for _ in range(50):  # the counter moves just after the frame went out
        text = await (await client.get("/metrics")).text()
        if "svyaz_turns_in_progress 0.0" in text:
            break
        await asyncio.sleep(0.05)
    assert 'svyaz_messages_in_total{channel="web"} 2.0' in text
    assert 'svyaz_messages_out_total{channel="web"} 2.0' in text
    assert "svyaz_turn_seconds_bucket" in text


async def test_history_is_replayed_on_reconnect(client: TestClient) -> None:
    ws = await client.ws_connect("/chat/ws", headers={"Origin": ORIGIN})
    await ws.send_json({"type": "hello", "session": None})
    session = (await ws.receive_json(timeout=5))["session"]
    await ws.send_json({"type": "open"})
    await next_reply(ws)
    await ws.send_json({"type": "text", "text": "Оля", "id": "c1"})
    await next_reply(ws)
    await ws.close()
    again = await client.ws_connect("/chat/ws", headers={"Origin": ORIGIN})
    await again.send_json({"type": "hello", "session": session})
    welcome = await again.receive_json(timeout=5)
    assert [h["text"] for h in welcome["history"]] == [  # the greeting once, no "/start"
        "Как вас зовут?", "Оля", "Приятно познакомиться, Оля! Сколько вам лет?"]
    await again.close()


async def test_healthz_is_503_when_redis_is_down(bot_prefix: str, tmp_path: Path) -> None:
    app = build_app(make_settings(None, bot_prefix, tmp_path))  # its own embedded Redis
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        embedded = app[EDGE].parts.embedded
        assert embedded is not None
        assert (await c.get("/healthz")).status == 200
        for task in app[EDGE].tasks:  # nothing brings it back while the test looks
            if task.get_name() == "embedded-redis":
                task.cancel()
        embedded.kill()
        try:
            resp = await c.get("/healthz")
            assert resp.status == 503
            assert (await resp.json())["redis"]["ok"] is False
        finally:
            embedded.start()


async def test_healthz_is_503_when_redis_answers_but_refuses_writes(
    bot_prefix: str, tmp_path: Path,
) -> None:
    app = build_app(make_settings(None, bot_prefix, tmp_path))  # its own embedded Redis
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        redis = app[EDGE].parts.store.redis
        assert (await c.get("/healthz")).status == 200
        await redis.config_set("maxmemory", "1")  # full: PING still answers
        try:
            resp = await c.get("/healthz")
            body = await resp.json()
        finally:
            await redis.config_set("maxmemory", "0")
        assert resp.status == 503
        assert body["redis"]["ok"] is False
        assert "OOM" in body["redis"]["error"]
        assert "maxmemory" in body["redis"]["error"]
        assert (await c.get("/healthz")).status == 200


async def test_a_message_sent_while_redis_refuses_writes_is_refused_not_crashed(
    bot_prefix: str, tmp_path: Path,
) -> None:
    app = build_app(make_settings(None, bot_prefix, tmp_path))
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        ws = await chat(c)
        assert await next_reply(ws) == "Как вас зовут?"
        redis = app[EDGE].parts.store.redis
        await redis.config_set("maxmemory", "1")
        try:
            await ws.send_json({"type": "text", "text": "Оля", "id": "c1"})
            frame = await ws.receive_json(timeout=5)
        finally:
            await redis.config_set("maxmemory", "0")
        assert frame["type"] == "error"
        assert frame["code"] == "unavailable"  # the widget says so; the socket stays open
        await ws.send_json({"type": "text", "text": "Оля", "id": "c2"})
        assert await next_reply(ws) == "Приятно познакомиться, Оля! Сколько вам лет?"
        await ws.close()


async def test_a_broken_edit_keeps_the_previous_flows(
    redis_url: str, bot_prefix: str, tmp_path: Path
) -> None:
    folder = tmp_path / "flows"
    shutil.copytree(FLOWS, folder)
    app = build_app(make_settings(redis_url, bot_prefix, tmp_path, flows=folder))
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        source = app[EDGE].parts.flows
        assert source is not None
        (folder / "hello.yaml").write_text("flow: hello\nsteps:\n  a: {nxt: b}\n", "utf-8")
        assert await source.check_once() is False
        assert source.refused == 1
        ws = await chat(c)
        assert await next_reply(ws) == "Как вас зовут?"  # the previous flows still run
        (folder / "hello.yaml").write_text(
            "flow: hello\ntriggers: [{command: start}]\nsteps:\n  a: {say: Новый привет!}\n",
            "utf-8")
        assert await source.check_once() is True
        ws2 = await chat(c)
        assert await next_reply(ws2) == "Новый привет!"
        await ws.close()
        await ws2.close()


async def test_api_is_off_without_a_token(redis_url: str, bot_prefix: str,
                                          tmp_path: Path) -> None:
    app = build_app(make_settings(redis_url, bot_prefix, tmp_path))
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        assert (await c.get("/api/v1/openapi.json")).status == 404


async def test_a_reply_reaches_a_socket_held_by_another_process(
    redis_url: str, bot_prefix: str, tmp_path: Path
) -> None:
    """Process B runs the turn (a bot-initiated flow); the browser is connected to A."""
    apps = [build_app(make_settings(redis_url, bot_prefix, tmp_path / name,
                                    secret_key="k" * 40)) for name in ("a", "b")]
    async with TestClient(TestServer(apps[0], host="127.0.0.1")) as a, \
            TestClient(TestServer(apps[1], host="127.0.0.1")) as b:
        ws = await chat(a)
        assert await next_reply(ws) == "Как вас зовут?"
        await ws.send_json({"type": "text", "text": "Оля", "id": "c1"})  # now a customer
        assert await next_reply(ws) == "Приятно познакомиться, Оля! Сколько вам лет?"
        services_b = b.app[EDGE].parts
        assert services_b.store is not None
        customer = (await services_b.store.history.customers())[0]
        from flows.types import TimerEvent

        assert await b.app[EDGE].inject(customer, TimerEvent("ping", "k"), event_id="t1")
        assert await next_reply(ws) == "Напоминание!"
        runtime_b = services_b.runtime
        assert runtime_b is not None
        await runtime_b.idle()
        history = await services_b.store.history.read(customer)
        assert [e.channel for e in history if e.text == "Напоминание!"] == ["web"]
        await ws.close()


async def test_a_restart_on_the_embedded_redis_takes_over_at_once(
    bot_prefix: str, tmp_path: Path, max_fake: MaxFake
) -> None:
    """What a killed process left in its own Redis (a customer's lock, a reply not yet
    delivered, a message not yet answered) is taken over at start, not after the lock's 30 s
    and the outbox's 60 s: no other process can reach that Redis."""
    server = EmbeddedRedis(tmp_path / "data")
    server.start()
    store = Store.from_url(server.url, bot=bot_prefix)
    try:
        customer = await store.identities.resolve("max:701")
        await store.states.locks.acquire(customer)  # held by the process that died
        await store.outbox.put(customer, "max", "701", Reply("Ответ, который не дошёл"))
        await store.inbox.push(customer, Inbound("max", "701", "e-701", TextEvent("эхо")))
    finally:
        await store.close()
        server.stop()
    app = build_app(make_settings(None, bot_prefix, tmp_path, max_token=max_fake.token,
                                  max_mode="webhook", max_webhook_secret="hook-secret-16ch",
                                  max_api_url=max_fake.url))
    async with TestClient(TestServer(app, host="127.0.0.1")):
        deadline = time.monotonic() + 8  # the lock alone would hold it for 10 s (lock_wait)
        while len(max_fake.sent) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    assert [(s.user_id, s.body["text"]) for s in max_fake.sent] == [
        (701, "Ответ, который не дошёл"), (701, "Говорите.")]


async def test_a_restart_on_a_shared_redis_takes_over_what_its_name_held(
    redis_url: str, bot_prefix: str, tmp_path: Path, max_fake: MaxFake
) -> None:
    """On a Redis other processes share, a process started again after a crash takes its
    data folder slot back, with the name of the one that died there (storage.instance): its
    locks and unsent replies are taken over at once; another live process's are left alone."""
    dead, other = Instance.claim(tmp_path / "data"), Instance.passing()
    stores = [Store.from_url(redis_url, bot=bot_prefix, instance=i.name) for i in (dead, other)]
    try:
        mine = await stores[0].identities.resolve("max:702")
        await stores[0].states.locks.acquire(mine)  # held by the process that died
        await stores[0].outbox.put(mine, "max", "702", Reply("Ответ, который не дошёл"))
        await stores[0].inbox.push(mine, Inbound("max", "702", "e-702", TextEvent("эхо")))
        theirs = await stores[1].identities.resolve("max:703")
        held = await stores[1].states.locks.acquire(theirs)  # a live process's turn in progress
        sending = await stores[1].outbox.put(theirs, "max", "703", Reply("Отправляется"))
    finally:
        await stores[0].close()
        dead.release()  # the process died: the kernel lets the slot go
    app = build_app(make_settings(redis_url, bot_prefix, tmp_path, max_token=max_fake.token,
                                  max_mode="webhook", max_webhook_secret="hook-secret-16ch",
                                  max_api_url=max_fake.url))
    try:
        async with TestClient(TestServer(app, host="127.0.0.1")):
            deadline = time.monotonic() + 8  # the lock alone would hold it for 10 s
            while len(max_fake.sent) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert app[EDGE].parts.instance is not None
            assert app[EDGE].parts.instance.name == dead.name
        assert [(s.user_id, s.body["text"]) for s in max_fake.sent] == [
            (702, "Ответ, который не дошёл"), (702, "Говорите.")]
        assert await holds(stores[1], held)
        assert await stores[1].outbox.get(sending) is not None
    finally:
        await stores[1].close()


async def test_the_embedded_redis_is_started_again_when_it_dies(
    bot_prefix: str, tmp_path: Path
) -> None:
    """The OOM killer takes the embedded Redis: svyaz brings it back with its data."""
    app = build_app(make_settings(None, bot_prefix, tmp_path))
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        ws = await chat(c)
        assert await next_reply(ws) == "Как вас зовут?"
        embedded = app[EDGE].parts.embedded
        assert embedded is not None
        assert embedded._proc is not None
        dead = embedded._proc.pid
        os.kill(dead, signal.SIGKILL)  # not through svyaz: it has to notice by itself
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if embedded.running and embedded._proc is not None and embedded._proc.pid != dead \
                    and (await c.get("/healthz")).status == 200:
                break
            await asyncio.sleep(0.1)
        assert (await c.get("/healthz")).status == 200
        await ws.send_json({"type": "text", "text": "Оля", "id": "c1"})  # where it was
        assert await next_reply(ws) == "Приятно познакомиться, Оля! Сколько вам лет?"
        await ws.close()


async def test_the_max_deep_link_uses_the_username_from_get_me(
    redis_url: str, bot_prefix: str, tmp_path: Path, max_fake: MaxFake
) -> None:
    """No SVYAZ_MAX_BOT_USERNAME: the link offer still opens MAX, by the name GET /me gave."""
    app = build_app(make_settings(redis_url, bot_prefix, tmp_path, max_token=max_fake.token,
                                  max_mode="polling", max_api_url=max_fake.url))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        deadline = time.monotonic() + 8
        while not any(r.path == "/me" and r.status == 200 for r in max_fake.requests):
            assert time.monotonic() < deadline, "GET /me was never answered"
            await asyncio.sleep(0.02)
        ws = await chat(client)
        await ws.send_json({"type": "text", "text": "Продолжить в MAX", "id": "c1"})
        while "ссылку" not in (frame := await ws.receive_json(timeout=5)).get("text", ""):
            pass
        await ws.close()
    urls = [b.get("url") or "" for b in frame["buttons"]]
    assert any(u.startswith("https://max.ru/svyaz_test_bot?start=link-") for u in urls), frame


async def test_the_demo_page_offers_only_the_channels_turned_on(
    redis_url: str, bot_prefix: str, tmp_path: Path, max_fake: MaxFake
) -> None:
    """With the web chat alone, the demo page promises no other channel; with MAX on, it
    names MAX and still not VK."""
    alone = build_app(make_settings(redis_url, bot_prefix, tmp_path / "alone"))
    async with TestClient(TestServer(alone, host="127.0.0.1")) as c:
        page = await (await c.get("/chat")).text()
    assert "Чат с нашим ботом" in page
    for promise in ("продолжить", "MAX", "ВКонтакте"):
        assert promise not in page
    with_max = build_app(make_settings(redis_url, bot_prefix, tmp_path / "max",
                                       max_token=max_fake.token, max_api_url=max_fake.url))
    async with TestClient(TestServer(with_max, host="127.0.0.1")) as c:
        page = await (await c.get("/chat")).text()
    assert "Переписку можно продолжить в MAX" in page
    assert "ВКонтакте" not in page

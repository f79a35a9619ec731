"""bots.api: /api/v1 on the running app — bearer, validation, start a flow, read a customer,
cancel reminders, release a hand-off, OpenAPI."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from test_app import ORIGIN, make_settings, next_reply

from bots.app import EDGE, build_app

AUTH = {"Authorization": "Bearer t0ken"}
EXAMPLES = Path(__file__).resolve().parents[2] / "flows_examples"


@pytest.fixture
async def client(redis_url: str, bot_prefix: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    app = build_app(make_settings(redis_url, bot_prefix, tmp_path, api_token="t0ken"))
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        yield c


async def test_wrong_or_missing_token_is_401(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic t0ken"}):
        resp = await client.get("/api/v1/customers/x", headers=headers)
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "unauthorized"


async def test_invalid_json_is_a_clear_422(client: TestClient) -> None:
    resp = await client.post("/api/v1/flows/start", headers=AUTH, data=b"{not json")
    assert resp.status == 422
    assert (await resp.json())["error"]["code"] == "invalid_request"
    resp = await client.post("/api/v1/flows/start", headers=AUTH,
                             json={"flow": "ping", "account": "tg:1"})
    assert "account" in (await resp.json())["error"]["message"]


async def test_unknown_phone_is_404(client: TestClient) -> None:
    resp = await client.post("/api/v1/flows/start", headers=AUTH,
                             json={"flow": "ping", "phone": "+7 999 000-00-00"})
    assert resp.status == 404


async def test_api_starts_a_flow_reads_a_customer_and_cancels_reminders(
    client: TestClient,
) -> None:

    ws = await client.ws_connect("/chat/ws", headers={"Origin": ORIGIN})
    await ws.send_json({"type": "hello", "session": None})
    await ws.receive_json(timeout=5)
    await ws.send_json({"type": "open"})
    await next_reply(ws)
    for i, text in enumerate(("Оля", "30")):
        await ws.send_json({"type": "text", "text": text, "id": f"a{i}"})
        await next_reply(ws)
    await ws.send_json({"type": "text", "text": "напомни", "id": "c1"})
    assert await next_reply(ws) == "Напомню через минуту."
    services = client.app[EDGE].parts
    store = services.store
    assert store is not None
    customers = await store.history.customers()
    assert len(customers) == 1
    customer = customers[0]
    account = (await store.identities.accounts(customer))[0].account

    assert (await client.post("/api/v1/flows/start", json={})).status == 401
    bad = await client.post("/api/v1/flows/start", headers=AUTH,
                            json={"flow": "ping", "account": account, "phone": "+7"})
    assert bad.status == 422
    assert "exactly one" in (await bad.json())["error"]["message"]
    unknown = await client.post("/api/v1/flows/start", headers=AUTH,
                                json={"flow": "nope", "account": account})
    assert (await unknown.json())["error"]["code"] == "unknown_flow"
    started = await client.post("/api/v1/flows/start", headers=AUTH,
                                json={"flow": "ping", "account": account, "vars": {"n": 1}})
    assert started.status == 202
    assert await next_reply(ws) == "Напоминание!"

    got = await client.get(f"/api/v1/customers/{customer}", headers=AUTH)
    body = await got.json()
    assert body["accounts"][0]["account"] == account
    assert [r["key"] for r in body["reminders"]] == ["ping"]
    assert "Напоминание!" in [h["text"] for h in body["history"]]
    assert (await client.get("/api/v1/customers/nobody", headers=AUTH)).status == 404

    gone = await client.delete(f"/api/v1/customers/{customer}/reminders", headers=AUTH)
    assert (await gone.json()) == {"cancelled": 1}
    spec = await (await client.get("/api/v1/openapi.json")).json()
    assert "/flows/start" in spec["paths"]
    json.dumps(spec)
    await ws.close()
    await asyncio.sleep(0)


@pytest.fixture
async def owner_hook() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook", received
    await runner.cleanup()


async def test_handoff_quiets_the_bot_until_released(
    redis_url: str, bot_prefix: str, tmp_path: Path,
    owner_hook: tuple[str, list[dict[str, Any]]],
) -> None:
    settings = make_settings(redis_url, bot_prefix, tmp_path, api_token="t0ken",
                             flows=EXAMPLES, owner_webhook=owner_hook[0])
    async with TestClient(TestServer(build_app(settings), host="127.0.0.1")) as c:
        ws = await c.ws_connect("/chat/ws", headers={"Origin": ORIGIN})
        await ws.send_json({"type": "hello", "session": None})
        await ws.receive_json(timeout=5)
        await ws.send_json({"type": "open"})
        assert "Чем могу помочь" in await next_reply(ws) + await next_reply(ws)
        await ws.send_json({"type": "text", "text": "Позвать администратора", "id": "1"})
        assert "администратору" in await next_reply(ws)
        while (await ws.receive_json(timeout=5))["type"] != "idle":  # that turn is over
            pass
        notes = owner_hook[1]
        for _ in range(50):
            if notes:
                break
            await asyncio.sleep(0.05)
        assert notes[0]["event"] == "handoff"
        customer = notes[0]["customer"]
        await ws.send_json({"type": "text", "text": "алло?", "id": "2"})
        await ws.send_json({"type": "text", "text": "", "id": "2b"})  # answered in order:
        assert (await ws.receive_json(timeout=5))["type"] == "error"  # "алло?" taken, no typing
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive_json(timeout=0.7)  # the bot stays quiet
        resp = await c.post(f"/api/v1/customers/{customer}/release", headers=AUTH)
        assert await resp.json() == {"released": True}
        await ws.send_json({"type": "text", "text": "меню", "id": "3"})
        assert "Чем могу помочь" in await next_reply(ws)
        body = await (await c.get(f"/api/v1/customers/{customer}", headers=AUTH)).json()
        assert body["handoff"] is False
        assert "алло?" in [h["text"] for h in body["history"]]
        await ws.close()

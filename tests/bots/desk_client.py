"""Helpers of the desk tests: the wired app with operators, a logged-in browser-like client."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from test_app import ORIGIN, make_settings

from bots.app import EDGE, build_app
from bots.desk.passwords import hash_password
from storage.desk import Role
from storage.store import Store

PASSWORD = "пароль-оператора"
EXAMPLES = Path(__file__).resolve().parents[2] / "flows_examples"  # the salon's real flows
HANDED = "Передаю разговор администратору"  # how start.yaml's hand-off begins
CSRF = re.compile(r'name="csrf" value="([^"]*)"')


def store_of(app: web.Application) -> Store:
    return app[EDGE].parts.store


async def add_operator(app: web.Application, name: str, role: Role = "operator") -> None:
    assert await store_of(app).desk.operators.add(name, hash_password(PASSWORD), role)


def csrf_in(html: str) -> str:
    found = CSRF.search(html)
    assert found, html[:500]
    return found.group(1)


async def login(client: TestClient | aiohttp.ClientSession, name: str,
                password: str = PASSWORD) -> aiohttp.ClientResponse:
    page = await client.get("/desk/login")
    token = csrf_in(await page.text())
    return await client.post("/desk/login", data={"name": name, "password": password,
                                                  "csrf": token}, allow_redirects=False)


async def page_csrf(client: TestClient | aiohttp.ClientSession, path: str = "/desk/") -> str:
    resp = await client.get(path)
    assert resp.status == 200, await resp.text()
    return csrf_in(await resp.text())


@asynccontextmanager
async def desk_app(redis_url: str, bot: str, tmp: Path, *, port: int | None = None,
                   **extra: object) -> AsyncIterator[tuple[web.Application, TestClient]]:
    extra.setdefault("flows", EXAMPLES)
    app = build_app(make_settings(redis_url, bot, tmp, **extra))
    async with TestClient(TestServer(app, host="127.0.0.1", port=port)) as client:
        yield app, client


def second_browser(client: TestClient) -> aiohttp.ClientSession:
    """Another browser (its own cookies) on the same server; close it when done."""
    return aiohttp.ClientSession(base_url=str(client.make_url("/")),
                                 cookie_jar=aiohttp.CookieJar(unsafe=True))


async def web_chat(client: TestClient) -> aiohttp.ClientWebSocketResponse:
    """A visitor who writes before opening the greeting (so a trigger word starts its flow)."""
    ws = await client.ws_connect("/chat/ws", headers={"Origin": ORIGIN})
    await ws.send_json({"type": "hello", "session": None})
    assert (await ws.receive_json(timeout=5))["type"] == "welcome"
    return ws


async def next_reply(ws: aiohttp.ClientWebSocketResponse) -> dict[str, object]:
    while True:
        frame = await ws.receive_json(timeout=5)
        if frame["type"] == "reply":
            return dict(frame)

"""bots.parts and the composition root: the edge before and after the parts exist, a start-up
that fails closes what it opened, and /api/v1's routes are the ones its document describes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from test_app import make_settings

from bots import api
from bots.access import running_embedded
from bots.app import build_app
from bots.parts import Edge, NotStarted
from connectors.base import Unavailable
from flows.loader import FlowLoadError
from flows.types import Inbound, TextEvent
from storage.instance import Instance

TOKEN = "t0ken"


def edge() -> Edge:
    return Edge(clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))


async def test_the_edge_refuses_until_the_parts_exist() -> None:
    waiting = edge()
    with pytest.raises(NotStarted):
        _ = waiting.parts
    with pytest.raises(Unavailable):  # connectors answer "try again" (VK/MAX re-deliver)
        await waiting.accept(Inbound(channel="web", user_id="s", event_id="e1",
                                     event=TextEvent("hi")))
    with pytest.raises(Unavailable):
        await waiting.inject("c1", TextEvent("hi"), event_id="e2")
    assert waiting.web_greeting() == ()
    assert waiting.busy == 0
    assert waiting.started is None


async def test_api_answers_503_before_start_up(tmp_path: Path) -> None:
    app = web.Application()
    api.setup(app, make_settings(None, "b", tmp_path, api_token=TOKEN), edge())
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        for method, path in [("GET", "/api/v1/customers/c1"), ("DELETE", "/api/v1/customers/c1"),
                             ("POST", "/api/v1/customers/c1/release")]:
            resp = await client.request(method, path, headers=auth)
            assert resp.status == 503, path
            assert (await resp.json())["error"]["code"] == "unavailable"
        bad = await client.post("/api/v1/flows/start", data=b"{}", headers=auth)
        assert bad.status == 422  # the request is judged before the bot's state is


async def test_api_routes_are_the_documented_operations(tmp_path: Path) -> None:
    app = web.Application()
    api.setup(app, make_settings(None, "b", tmp_path, api_token=TOKEN), edge())
    (mounted,) = [r for r in app.router.resources() if r.get_info().get("prefix") == api.PREFIX]
    sub: web.Application = mounted.get_info()["app"]
    served = {(route.method.lower(), route.resource.canonical.removeprefix(api.PREFIX))
              for route in sub.router.routes() if route.resource is not None}
    documented = {(method, path) for path, ops in api.openapi_document()["paths"].items()
                  for method in ops}
    assert served - {("head", path) for _, path in served} == documented | {
        ("get", "/openapi.json")}
    assert ("head", "/customers/{customer}") in served  # a GET answers HEAD, as before


async def test_a_failed_start_closes_what_it_opened(bot_prefix: str, tmp_path: Path) -> None:
    broken = tmp_path / "flows"
    broken.mkdir()
    (broken / "hello.yaml").write_text("flow: hello\nsteps:\n  a: {nxt: b}\n", "utf-8")
    settings = make_settings(None, bot_prefix, tmp_path, flows=broken)  # its own embedded Redis
    with pytest.raises(FlowLoadError):
        async with TestClient(TestServer(build_app(settings), host="127.0.0.1")):
            pass
    assert running_embedded(settings.data_dir) is None  # the embedded Redis was stopped
    slot = Instance.claim(settings.data_dir)  # and the process's slot given back
    try:
        assert slot.slot == 0
    finally:
        slot.release()

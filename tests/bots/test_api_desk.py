"""/api/v1's desk routes: hand-offs waiting, take-over, an operator's message (202) through
the outbox to the web chat, release; and a complete, valid OpenAPI document."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from desk_client import HANDED, add_operator, desk_app, next_reply, store_of, web_chat
from openapi_spec_validator import validate

from bots.api import OPERATIONS, openapi_document

AUTH = {"Authorization": "Bearer t0ken-api"}


@pytest.fixture
async def api(redis_url: str, bot_prefix: str, tmp_path: Path
              ) -> AsyncIterator[tuple[web.Application, TestClient]]:
    async with desk_app(redis_url, bot_prefix, tmp_path, api_token="t0ken-api") as (app, c):
        await add_operator(app, "ivan")
        yield app, c


async def test_handoff_takeover_message_and_release(
    api: tuple[web.Application, TestClient],
) -> None:
    app, client = api
    ws = await web_chat(client)
    await ws.send_json({"type": "text", "text": "Позвать администратора", "id": "c1"})
    while not str((await next_reply(ws))["text"]).startswith(HANDED):
        pass
    body = await (await client.get("/api/v1/handoffs", headers=AUTH)).json()
    (waiting,) = body["handoffs"]
    customer = waiting["customer"]
    assert (waiting["channel"], waiting["operator"]) == ("web", None)
    assert waiting["last_message"].startswith(HANDED)
    assert isinstance(waiting["since"], float)
    resp = await client.post(f"/api/v1/customers/{customer}/messages", headers=AUTH,
                             json={"text": "Это Маша, слушаю вас", "operator": "Маша"})
    assert resp.status == 202
    assert (await resp.json())["channel"] == "web"
    frame = await next_reply(ws)
    assert (frame["text"], frame["from"], frame["operator"]) == (
        "Это Маша, слушаю вас", "operator", "Маша")
    assert (await (await client.get("/api/v1/handoffs", headers=AUTH)).json()) == {
        "handoffs": []}  # taken now: nobody waits
    taken = await client.post(f"/api/v1/customers/{customer}/takeover", headers=AUTH,
                              json={"operator": "ivan"})
    assert taken.status == 409
    again = await client.post(f"/api/v1/customers/{customer}/messages", headers=AUTH,
                              json={"text": "я тоже", "operator": "ivan"})
    assert again.status == 409
    released = await client.post(f"/api/v1/customers/{customer}/release", headers=AUTH)
    assert (await released.json()) == {"released": True}
    assert await store_of(app).desk.handoffs.holder(customer) is None
    mine = await client.post(f"/api/v1/customers/{customer}/takeover", headers=AUTH,
                             json={"operator": "ivan"})
    assert (await mine.json()) == {"customer": customer, "operator": "ivan"}
    await ws.close()


async def test_handoffs_are_listed_the_longest_waiting_first(
    api: tuple[web.Application, TestClient],
) -> None:
    app, client = api
    store = store_of(app)
    began = {"web:b": 3.0, "vk:1": 1.0, "web:c": 2.0}
    ids = {}
    for account, since in began.items():
        ids[account] = customer = await store.identities.resolve(account)
        await store.redis.hset(store.keys.state(customer), mapping={"v": 1, "d": '{"h":"waiting"}'})
        await store.desk.handoffs.began(customer, since)
    body = await (await client.get("/api/v1/handoffs", headers=AUTH)).json()
    assert [(h["customer"], h["channel"], h["since"]) for h in body["handoffs"]] == [
        (ids["vk:1"], "vk", 1.0), (ids["web:c"], "web", 2.0), (ids["web:b"], "web", 3.0)]


async def test_unknown_customers_bad_bodies_and_no_token(
    api: tuple[web.Application, TestClient],
) -> None:
    _, client = api
    for path, body in (("messages", {"text": "x", "operator": "ivan"}),
                       ("takeover", {"operator": "ivan"}), ("release", None)):
        resp = await client.post(f"/api/v1/customers/nobody/{path}", headers=AUTH, json=body)
        assert resp.status == 404, path
        assert (await client.post(f"/api/v1/customers/nobody/{path}", json=body)).status == 401
    bad = await client.post("/api/v1/customers/nobody/messages", headers=AUTH,
                            json={"text": "", "operator": "a b"})
    assert bad.status == 422
    assert (await client.get("/api/v1/handoffs")).status == 401
    assert (await client.get("/api/v1/customers/nobody?history=abc", headers=AUTH)).status in (
        404, 422)
    wrong = await client.put("/api/v1/handoffs", headers=AUTH)
    assert wrong.status == 405
    assert "GET" in wrong.headers["Allow"]


async def test_history_that_is_not_a_count_is_422(
    api: tuple[web.Application, TestClient],
) -> None:
    app, client = api
    customer = await store_of(app).identities.resolve("web:h")
    for value, status in (("abc", 422), ("0", 422), ("1001", 422), ("5", 200)):
        resp = await client.get(f"/api/v1/customers/{customer}?history={value}", headers=AUTH)
        assert resp.status == status, value
    assert (await client.get(f"/api/v1/customers/{customer}", headers=AUTH)).status == 200
    audit = [(r.operator, r.action, r.customer) for r in await store_of(app).desk.audit.latest()]
    assert audit == [("api", "card", customer)]  # 152-FZ: a read is a look; twice, one record


def test_the_document_is_valid_complete_and_has_no_dangling_ref() -> None:
    document = openapi_document(["booking", "start"])
    validate(document)
    text = str(document)
    assert "$defs" not in text
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for op in OPERATIONS:
        responses = document["paths"][op.path][op.method]["responses"]
        assert {"401", "503"} <= set(responses), op.path
        if "{customer}" in op.path:
            assert "404" in responses, op.path
    flow = document["components"]["schemas"]["StartFlow"]["properties"]["flow"]
    assert flow["enum"] == ["booking", "start"]
    assert document["components"]["schemas"]["JSON"]  # the vars' type, where $ref points

"""The desk's pages and take-over, on the wired app: hand-offs first with their waiting time,
filters and search, the thread and the card, claim (one operator only), answer through the
outbox to the web chat with the operator's name, hand back to the bot."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from desk_client import (
    HANDED,
    add_operator,
    desk_app,
    login,
    next_reply,
    page_csrf,
    second_browser,
    store_of,
    web_chat,
)

from bots.app import EDGE
from flows.schema import Texts
from flows.types import Button, DialogState, Frame, ScheduleReminder
from storage.history import HistoryEntry

UNHEARD = Texts().handoff_unheard


@pytest.fixture
async def desk(redis_url: str, bot_prefix: str, tmp_path: Path
               ) -> AsyncIterator[tuple[web.Application, TestClient]]:
    async with desk_app(redis_url, bot_prefix, tmp_path) as (app, client):
        await add_operator(app, "Ольга", "owner")
        await add_operator(app, "ivan")
        yield app, client


async def _customer_of_last_web(app: web.Application, before: set[str]) -> str:
    store = store_of(app)
    for _ in range(100):
        now = set(await store.desk.summaries.customers()) - before
        if now:
            return now.pop()
        await asyncio.sleep(0.02)
    raise AssertionError("no new customer")


async def _ask_for_a_person(
    app: web.Application, client: TestClient,
) -> tuple[aiohttp.ClientWebSocketResponse, str]:
    before = set(await store_of(app).desk.summaries.customers())
    ws = await web_chat(client)
    await ws.send_json({"type": "text", "text": "Позвать администратора", "id": "c1"})
    texts = [str((await next_reply(ws))["text"]) for _ in range(3)]
    assert texts[-1].startswith(HANDED), texts
    return ws, await _customer_of_last_web(app, before)


def _order(html: str) -> list[str]:
    return re.findall(r'data-customer="([^"]+)"', html)


async def test_a_handoff_is_heard_by_the_desk_and_listed_first_with_its_wait(
    desk: tuple[web.Application, TestClient],
) -> None:
    app, client = desk
    store = store_of(app)
    other = await store.identities.resolve("vk:5", name="Оля")
    await store.profiles.set_field(other, "phone", "+79161234567")
    ws, waiting = await _ask_for_a_person(app, client)
    await store.history.append(other, HistoryEntry(9e9, "vk", "in", "позже всех"))
    await login(client, "ivan")
    html = await (await client.get("/desk/")).text()
    assert _order(html)[:2] == [waiting, other]  # the hand-off first, though older
    assert "ждёт человека · ждёт 0 мин" in html
    assert 'id="waiting-count">1<' in html
    assert _order(await (await client.get("/desk/?state=bot")).text()) == [other]
    assert _order(await (await client.get("/desk/?channel=vk")).text()) == [other]
    assert _order(await (await client.get("/desk/?q=оля")).text()) == [other]
    assert _order(await (await client.get("/desk/?q=916 123")).text()) == [other]
    assert _order(await (await client.get("/desk/?q=нет такого")).text()) == []
    live = await (await client.get("/desk/live.json")).json()
    assert live["waiting"] == 1
    await ws.send_json({"type": "text", "text": "алло?", "id": "c2"})
    await ws.send_json({"type": "text", "text": "меню", "id": "c3"})  # heard: no «nobody»
    assert (await next_reply(ws))["text"] != UNHEARD
    await ws.close()


async def test_the_conversation_shows_labels_channels_operator_names_and_the_card(
    desk: tuple[web.Application, TestClient],
) -> None:
    app, client = desk
    store = store_of(app)
    customer = await store.identities.resolve("max:42", name="Пётр")
    await store.profiles.record_consent(customer, True, "v1", datetime(2026, 3, 1, tzinfo=UTC),
                                        "max")
    await store.profiles.set_field(customer, "email", "petr@example.ru")
    await store.history.append(customer, HistoryEntry(
        1.0e9, "max", "out", "Записать вас?", keyboard=(Button("b_yes_7", "Да, записать"),)))
    await store.history.append(customer, HistoryEntry(1.0e9 + 5, "max", "in", "Да, записать"))
    await store.history.append(customer, HistoryEntry(
        1.0e9 + 9, "max", "out", "Иду!", note="operator:Ольга"))
    await store.profiles.set_field(customer, "phone", "+79161234567")
    await store.identities.attach("vk:42", customer, 1.0e9)  # a second channel of theirs
    await store.redis.hset(store.keys.state(customer), mapping={"v": 1, "d": DialogState(
        stack=(Frame(f="booking", s="day"),)).model_dump_json(by_alias=True,
                                                               exclude_defaults=True)})
    await app[EDGE].parts.reminders.schedule(customer, ScheduleReminder(  # (kept in UTC)
        key="visit", at=datetime(2030, 12, 24, 7, tzinfo=UTC), flow="visit_reminder",
        about=datetime(2030, 12, 25, 9, 30, tzinfo=UTC)))
    await login(client, "ivan")
    html = await (await client.get(f"/desk/c/{customer}")).text()
    assert "Да, записать" in html
    assert "b_yes_7" not in html
    assert "MAX" in html
    assert '<div class="msg operator">' in html
    assert "Ольга" in html
    card = html[html.index('class="card customer"'):]
    assert "+79161234567" in card
    assert "petr@example.ru" in card
    assert "на обработку данных: дано 01.03.2026 03:00" in card  # the bot's zone, Moscow
    assert ">MAX · " in card
    assert ">ВКонтакте · " in card
    assert "visit_reminder · 24.12.2030 10:00 · визит 25.12.2030 12:30" in card
    assert "booking / day" in card
    assert "Взять" in html
    records = await store.desk.audit.latest()
    assert [(r.operator, r.action, r.customer) for r in records] == [("ivan", "card", customer)]
    assert (await client.get("/desk/c/nobody_here")).status == 404


async def test_claim_answer_and_hand_back_through_the_web_chat(
    desk: tuple[web.Application, TestClient],
) -> None:
    app, client = desk
    store = store_of(app)
    ws, customer = await _ask_for_a_person(app, client)
    await login(client, "Ольга")
    token = await page_csrf(client, f"/desk/c/{customer}")
    async with second_browser(client) as ivan:
        await login(ivan, "ivan")
        ivan_token = await page_csrf(ivan, f"/desk/c/{customer}")
        mine, theirs = await asyncio.gather(
            client.post(f"/desk/c/{customer}/claim", data={"csrf": token},
                        allow_redirects=False),
            ivan.post(f"/desk/c/{customer}/claim", data={"csrf": ivan_token},
                      allow_redirects=False))
        places = sorted([mine.headers["Location"], theirs.headers["Location"]])
        assert places == [f"/desk/c/{customer}", f"/desk/c/{customer}?error=taken"]
        holder = await store.desk.handoffs.holder(customer)
        loser = ivan if holder == "Ольга" else client
        loser_token = ivan_token if holder == "Ольга" else token
        resp = await loser.post(f"/desk/c/{customer}/say",
                                data={"csrf": loser_token, "text": "не моё"},
                                allow_redirects=False)
        assert resp.headers["Location"].endswith("error=not_yours")
    if holder != "Ольга":  # ivan won the race: Ольга takes it once he has let it go
        await store.desk.handoffs.unclaim(customer)
        await client.post(f"/desk/c/{customer}/claim", data={"csrf": token})
    state, _ = await store.states.load(customer)
    assert state is not None
    assert state.handoff == "taken"
    await client.post(f"/desk/c/{customer}/say", data={"csrf": token, "text": "Здравствуйте!"})
    frame = await next_reply(ws)
    assert (frame["text"], frame["from"], frame["operator"]) == (
        "Здравствуйте!", "operator", "Ольга")
    await ws.send_json({"type": "text", "text": "привет", "id": "c2"})  # the bot stays quiet
    page = await (await client.get(f"/desk/c/{customer}")).text()
    for _ in range(100):
        if "привет" in page:
            break
        await asyncio.sleep(0.02)
        page = await (await client.get(f"/desk/c/{customer}")).text()
    assert '<div class="msg operator">' in page
    assert '<div class="meta"><time>' in page  # the claim: an event of no channel, its time
    await client.post(f"/desk/c/{customer}/release", data={"csrf": token, "flow": ""})
    assert await store.desk.handoffs.holder(customer) is None
    await ws.send_json({"type": "text", "text": "меню", "id": "c3"})
    assert (await next_reply(ws))["text"] == "Чем могу помочь?"  # the bot answers again
    await ws.close()


async def test_hand_back_into_a_flow_the_operator_picks(
    desk: tuple[web.Application, TestClient],
) -> None:
    app, client = desk
    ws, customer = await _ask_for_a_person(app, client)
    await login(client, "ivan")
    token = await page_csrf(client, f"/desk/c/{customer}")
    await client.post(f"/desk/c/{customer}/claim", data={"csrf": token})
    resp = await client.post(f"/desk/c/{customer}/release",
                             data={"csrf": token, "flow": "nope"}, allow_redirects=False)
    assert resp.headers["Location"].endswith("error=flow")
    await client.post(f"/desk/c/{customer}/release", data={"csrf": token, "flow": "booking"})
    assert (await next_reply(ws))["text"] == "Какую услугу вы хотите?"
    await ws.close()


async def test_a_page_reads_hand_offs_and_the_most_recent_only(
    desk: tuple[web.Application, TestClient],
) -> None:
    from bots.desk.queries import page_rows, waiting_rows
    app, _ = desk
    store = store_of(app)
    ids = [await store.identities.resolve(f"web:p{n}") for n in range(5)]  # p4 latest
    await store.desk.handoffs.began(ids[0], 1.0)  # the oldest, but waiting
    state_key = store.keys.state(ids[0])
    await store.redis.hset(state_key, mapping={"v": 1, "d": '{"h":"waiting"}'})
    await store.desk.handoffs.began(ids[1], 2.0)  # went back to the bot: no state stage
    first = await page_rows(store, 1, 3)
    assert [r.customer for r in first.rows] == [ids[0], ids[4], ids[3]]
    assert first.rows[0].state == "waiting"
    assert (first.total, first.waiting) == (5, 1)
    assert await store.desk.handoffs.waiting() == {ids[0]: 1.0}  # the stale one dropped
    second = await page_rows(store, 2, 3)
    assert [r.customer for r in second.rows] == [ids[2], ids[1]]  # the hand-off not again
    await store.redis.hset(store.keys.state(ids[3]), mapping={"v": 1, "d": '{"h":"taken"}'})
    await store.desk.handoffs.began(ids[3], 0.5)  # taken meanwhile: not waiting
    assert [r.customer for r in await waiting_rows(store)] == [ids[0]]


async def test_the_list_pages_on(desk: tuple[web.Application, TestClient]) -> None:
    from bots.desk.pages import LIST_SHOWN
    app, client = desk
    store = store_of(app)
    ids = [await store.identities.resolve(f"web:q{n}") for n in range(LIST_SHOWN + 2)]
    await login(client, "ivan")
    first = await (await client.get("/desk/")).text()
    assert _order(first)[:2] == [ids[-1], ids[-2]]
    assert len(_order(first)) == LIST_SHOWN
    assert 'href="/desk/?page=2"' in first
    second = await (await client.get("/desk/?page=2")).text()
    assert _order(second) == [ids[1], ids[0]]
    assert "Страница 2 из 2" in second
    assert "page=3" not in second
    assert (await client.get("/desk/?page=x")).status == 200  # the first page


async def test_an_operator_takes_over_a_conversation_that_is_not_handed_off(
    desk: tuple[web.Application, TestClient],
) -> None:
    app, client = desk
    store = store_of(app)
    before = set(await store.desk.summaries.customers())
    ws = await web_chat(client)
    await ws.send_json({"type": "text", "text": "привет", "id": "c1"})
    while (await next_reply(ws))["text"] != "Чем могу помочь?":
        pass
    customer = await _customer_of_last_web(app, before)
    await login(client, "ivan")
    token = await page_csrf(client, f"/desk/c/{customer}")
    await client.post(f"/desk/c/{customer}/claim", data={"csrf": token})
    await ws.send_json({"type": "text", "text": "записаться", "id": "c2"})  # the bot is quiet
    deadline = time.monotonic() + 10
    while "записаться" not in [e.text for e in await store.history.read(customer)]:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    await client.post(f"/desk/c/{customer}/release", data={"csrf": token, "flow": ""})
    await ws.send_json({"type": "text", "text": "меню", "id": "c3"})
    said = [str((await next_reply(ws))["text"])]
    while said[-1] != "Чем могу помочь?":
        said.append(str((await next_reply(ws))["text"]))
    assert "Какую услугу вы хотите?" not in said  # nothing answered «записаться» while taken
    await ws.close()


async def test_handed_back_the_bot_goes_on_from_the_step_the_customer_was_on(
    desk: tuple[web.Application, TestClient],
) -> None:
    """«Вернуть боту» «с того же шага»: the customer's next message answers the question the
    bot had asked before the operator took over."""
    app, client = desk
    store = store_of(app)
    before = set(await store.desk.summaries.customers())
    ws = await web_chat(client)
    await ws.send_json({"type": "text", "text": "записаться", "id": "c1"})
    while (await next_reply(ws))["text"] != "Какую услугу вы хотите?":
        pass
    customer = await _customer_of_last_web(app, before)
    await login(client, "ivan")
    token = await page_csrf(client, f"/desk/c/{customer}")
    await client.post(f"/desk/c/{customer}/claim", data={"csrf": token})
    assert "booking / service" in await (await client.get(f"/desk/c/{customer}")).text()
    await client.post(f"/desk/c/{customer}/say", data={"csrf": token, "text": "Стрижка — 1500"})
    assert (await next_reply(ws))["text"] == "Стрижка — 1500"
    await client.post(f"/desk/c/{customer}/release", data={"csrf": token, "flow": ""})
    await ws.send_json({"type": "text", "text": "стрижка", "id": "c2"})
    assert (await next_reply(ws))["text"] == "К какому мастеру записать?"
    await ws.close()

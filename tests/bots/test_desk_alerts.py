"""The desk's banner: a channel that stopped working (VK refusing the token: error 5, from
the VK fake), an open incident, reminders that reached nobody — shown on every page to
whoever is logged in."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from desk_client import add_operator, desk_app, login, store_of

from bots.app import EDGE
from bots.incidents import UNREACHED, UNREACHED_SHOWN, Incidents, incident_text
from flows.types import TimerEvent
from tests.fakes.vk import FakeVk, fake_vk, fake_vk_factory  # noqa: F401 - fixtures


async def test_a_refused_vk_token_shows_on_the_desk(
    redis_url: str, bot_prefix: str, tmp_path: Path, fake_vk: FakeVk,  # noqa: F811
) -> None:
    async with desk_app(redis_url, bot_prefix, tmp_path, vk_token="not-the-token",
                        vk_group_id=fake_vk.group_id, vk_mode="longpoll",
                        vk_api_url=fake_vk.api_url) as (app, client):
        await add_operator(app, "ivan")
        await login(client, "ivan")
        deadline = time.monotonic() + 10
        while (await (await client.get("/healthz")).json())["channels"]["vk"]["ok"]:
            assert time.monotonic() < deadline, "VK never failed"
            await asyncio.sleep(0.05)
        html = await (await client.get("/desk/")).text()
        assert "Канал «ВКонтакте» не работает: VK refused the token (error 5)" in html
        assert "Канал «чат на сайте»" not in html


async def test_an_open_incident_shows_on_the_desk_until_closed(
    redis_url: str, bot_prefix: str, tmp_path: Path,
) -> None:
    async with desk_app(redis_url, bot_prefix, tmp_path) as (app, client):
        await add_operator(app, "ivan")
        await login(client, "ivan")
        incidents = store_of(app).incidents
        await incidents.open("redis:memory", "Память Redis почти заполнена", time.time())
        assert "Память Redis почти заполнена" in await (await client.get("/desk/")).text()
        await incidents.close("redis:memory")
        assert "Память Redis" not in await (await client.get("/desk/")).text()


VISIT = {"service": "Стрижка", "day": "2030-12-25", "time": "12:30"}


async def test_reminders_that_reached_nobody_show_on_the_desk_for_a_day(
    redis_url: str, bot_prefix: str, tmp_path: Path,
) -> None:
    """A reminder to a customer whose only channel is a closed web chat reaches nobody: the
    owner's note says who, and the desk's banner says so too — one banner for two such
    reminders, gone a day later (and back with the next)."""
    async with desk_app(redis_url, bot_prefix, tmp_path) as (app, client):
        await add_operator(app, "ivan")
        await login(client, "ivan")
        store, edge = store_of(app), app[EDGE]
        customer = await store.identities.resolve("web:gone")
        for n in (1, 2):
            await edge.inject(customer, TimerEvent("visit_reminder", "visit-2h", VISIT),
                              event_id=f"r{n}")
        deadline = time.monotonic() + 10
        while sum(e.note.startswith("undeliverable") for e in
                  await store.history.read(customer)) < 2:
            assert time.monotonic() < deadline, "the reminders were never refused"
            await asyncio.sleep(0.05)
        html = await (await client.get("/desk/")).text()
        assert html.count(incident_text(UNREACHED)) == 1
        assert [i.kind for i in await store.incidents.current()] == [UNREACHED]
        opened = (await store.incidents.current())[0].since
        for later, shown in ((UNREACHED_SHOWN - 60, True), (UNREACHED_SHOWN + 60, False)):
            await Incidents(store=store, connectors={}, notify=None,
                            clock=lambda later=later: opened + later).look()
            html = await (await client.get("/desk/")).text()
            assert (incident_text(UNREACHED) in html) is shown, later

"""The desk's banner: a channel that stopped working (VK refusing the token: error 5, from
the VK fake) is shown on every page to whoever is logged in."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from desk_client import add_operator, desk_app, login, store_of

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

"""The funnel on the wired app: the desk's page (for operators too: aggregate counts only)
with its SVG chart and table, its CSV export, and ``GET /api/v1/stats``."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from desk_client import add_operator, desk_app, login, store_of
from funnel_seed import seed, today

AUTH = {"Authorization": "Bearer t0ken"}


@pytest.fixture
async def desk(redis_url: str, bot_prefix: str, tmp_path: Path
               ) -> AsyncIterator[tuple[web.Application, TestClient]]:
    async with desk_app(redis_url, bot_prefix, tmp_path, api_token="t0ken") as (app, client):
        await add_operator(app, "ivan")
        await seed(store_of(app))
        yield app, client


async def test_an_operator_sees_the_booking_funnel(
    desk: tuple[web.Application, TestClient],
) -> None:
    _, client = desk
    closed = await client.get("/desk/stats", allow_redirects=False)
    assert closed.status in (302, 303)
    await login(client, "ivan")
    page = await (await client.get("/desk/stats?flow=booking&days=7")).text()
    stages = re.findall(r'data-stage="([^"]+)" data-count="(\d+)"', page)
    assert stages[0] == ("Начали", "40")
    assert stages[-1] == ("Завершили", "18")
    assert ("service", "40") in stages
    assert ("confirm", "20") in stages
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in page
    assert 'data-figure="conversion">45 %<' in page
    assert "«Стрижка» 12" in page  # (34 answers over three options: 12, 11, 11)
    vk = await (await client.get("/desk/stats?flow=booking&days=1&channel=vk")).text()
    assert 'data-figure="started">20<' in vk


async def test_the_csv_has_every_step(desk: tuple[web.Application, TestClient]) -> None:
    _, client = desk
    await login(client, "ivan")
    resp = await client.get("/desk/stats.csv?flow=booking&days=30")
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="funnel-booking-')
    rows = list(csv.DictReader(io.StringIO((await resp.read()).decode("utf-8-sig"))))
    by_step = {r["step"]: r for r in rows}
    assert by_step["day"]["entered"] == "31"
    assert by_step["day"]["retried"] == "9"
    assert by_step["day"]["dropped"] == "4"  # 31 entered, 27 answered
    assert by_step["итого: начали, завершили"]["entered"] == "40"


async def test_the_api_answers_the_figures(desk: tuple[web.Application, TestClient]) -> None:
    _, client = desk
    resp = await client.get("/api/v1/stats", params={"flow": "booking", "from": today()},
                            headers=AUTH)
    assert resp.status == 200
    body = await resp.json()
    assert (body["started"], body["finished"], body["from"], body["to"]) == (
        40, 18, today(), today())
    service = body["steps"][body["steps"].index(next(
        s for s in body["steps"] if s["step"] == "service"))]
    assert (service["entered"], service["answered"], service["dropped"]) == (40, 34, 6)
    assert service["median_seconds"] == {"from": 10, "to": 30}
    unknown = await client.get("/api/v1/stats", params={"flow": "nope"}, headers=AUTH)
    assert unknown.status == 422
    too_long = await client.get("/api/v1/stats", params={"flow": "booking", "days": "401"},
                                headers=AUTH)
    assert too_long.status == 422
    document = await (await client.get("/api/v1/openapi.json")).json()
    flow = document["paths"]["/stats"]["get"]["parameters"][0]
    assert "booking" in flow["schema"]["enum"]

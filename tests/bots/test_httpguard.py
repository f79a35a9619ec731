"""bots.httpguard.body_deadline: a body read within its deadline, without a timer when it came
with the headers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import bots.httpguard
from bots.httpguard import body_deadline


async def _echo(request: web.Request) -> web.Response:
    return web.Response(body=await request.read())


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application(middlewares=[body_deadline(5.0)])
    app.router.add_post("/hook", _echo)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


@pytest.fixture
def armed(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The deadlines ``bots.httpguard`` arms from now on (seconds each)."""
    deadlines: list[float] = []
    timeout = asyncio.timeout

    def counted(seconds: float | None) -> asyncio.Timeout:
        if seconds is not None:  # (aiohttp's own, without a deadline, pass None)
            deadlines.append(seconds)
        return timeout(seconds)

    monkeypatch.setattr(bots.httpguard.asyncio, "timeout", counted)
    return deadlines


async def test_a_body_that_came_with_its_headers_arms_no_timer(
    client: TestClient[web.Request, web.Application], armed: list[float],
) -> None:
    """A webhook's small body is in before the handler runs: reading it cannot wait, so no
    deadline is scheduled and cancelled for it (one of each per message before)."""
    answer = await client.post("/hook", data=b'{"update_type": "message_created"}')
    assert (answer.status, await answer.read()) == (200, b'{"update_type": "message_created"}')
    assert armed == []


async def test_a_body_still_on_its_way_is_read_under_the_deadline(
    client: TestClient[web.Request, web.Application], armed: list[float],
) -> None:
    async def slowly() -> AsyncIterator[bytes]:
        yield b"part one, "
        await asyncio.sleep(0.05)
        yield b"part two"

    answer = await client.post("/hook", data=slowly())
    assert (answer.status, await answer.read()) == (200, b"part one, part two")
    assert armed == [5.0]

"""Regression (issue 13, item 5): a flow whose HTTP step leads back to itself is stopped after
``MAX_CALLS`` calls of one event — in the runtime as in ``svyaz chat`` — instead of calling the
business forever while holding the customer's lock."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from aiohttp import web
from bots_harness import FLOWS, ZONE, Harness

from bots.flowchat import ChatSession
from flows import loader
from flows.chain import MAX_CALLS
from flows.schema import Texts
from flows.types import TextEvent

SORRY = Texts().stopped
ANSWERED = 60  # calls answered 200; then 503, so that an unbounded loop ends as well


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[str, list[str]]]:
    """The business's endpoint on a loopback port, counting the calls it gets."""
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path}")
        return web.json_response({"ok": True}, status=200 if len(seen) <= ANSWERED else 503)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", seen
    await runner.cleanup()


async def test_a_flow_calling_itself_is_stopped_at_the_bound(
    harness: Harness, endpoint: tuple[str, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    url, seen = endpoint
    await harness.send("web", "s1", TextEvent("крутись"))
    with caplog.at_level(logging.WARNING, logger="svyaz.bots"):
        await harness.send("web", "s1", TextEvent(url))
    assert seen == ["POST /ping"] * MAX_CALLS
    # a neutral apology, then the menu (the flow with the start command: hello)
    assert harness.texts("web", "s1") == ["Куда звонить?", SORRY, "Как вас зовут?"]
    customer = await harness.customer("web", "s1")
    state, _ = await harness.store.states.load(customer)
    assert state is not None
    assert (state.waiting, state.stack[-1].flow, state.stack[-1].step) == (None, "hello", "name")
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [m for m in warned if "flow loop step again" in m and str(MAX_CALLS) in m]
    assert harness.metrics.registry.get_sample_value("svyaz_turn_errors_total") == 1.0
    assert await harness.store.inbox.pending(customer) == []
    await harness.send("web", "s1", TextEvent("Оля"))  # the dialogue goes on from the menu
    assert harness.texts("web", "s1")[-1] == "Приятно познакомиться, Оля! Сколько вам лет?"
    assert len(seen) == MAX_CALLS


def test_svyaz_chat_stops_the_same_flow_at_the_same_bound() -> None:
    out = io.StringIO()
    session = ChatSession.start(loader.load(FLOWS), out, lang="en",
                                now=datetime(2026, 11, 23, 12, 0, tzinfo=ZONE))
    session.send(TextEvent("крутись"))
    session.send(TextEvent("http://127.0.0.1:1"))
    printed = out.getvalue()
    assert printed.count("(pretend answer: HTTP 200") == MAX_CALLS
    assert f"stopped: more than {MAX_CALLS} HTTP calls" in printed
    assert f"bot: {SORRY}" in printed
    assert session.state is not None
    assert session.state.waiting is None
    assert session.state.stack[-1].flow == "hello"

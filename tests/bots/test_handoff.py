"""Regression (issue 13, item 6): a hand-off no operator has taken leaves the customer neither
in silence nor stuck — nobody told means the customer hears so; «меню» and «отмена» bring the
bot back — and ``svyaz run`` warns at start when flows can hand off with nobody to tell."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from bots_harness import Harness
from test_app import make_settings

from bots.app import build_app
from bots.owner import Owner
from flows.schema import Texts
from flows.types import TextEvent

UNHEARD = Texts().handoff_unheard


@pytest.fixture
async def hook() -> AsyncIterator[tuple[str, list[dict[str, Any]], list[int]]]:
    """The owner's webhook on a loopback port: records notes, answers the queued status."""
    notes: list[dict[str, Any]] = []
    statuses: list[int] = []

    async def handle(request: web.Request) -> web.Response:
        notes.append(await request.json())
        return web.json_response({}, status=statuses.pop(0) if statuses else 200)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook", notes, statuses
    await runner.cleanup()


@pytest.fixture
async def owner_hook(
    harness: Harness, hook: tuple[str, list[dict[str, Any]], list[int]],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[list[dict[str, Any]], list[int]]]:
    """The harness with ``SVYAZ_OWNER_WEBHOOK`` set to ``hook``."""
    async with aiohttp.ClientSession() as http:
        owner = Owner(webhook=hook[0], chats={}, connectors={}, http=lambda: http)
        monkeypatch.setattr(harness.runtime.turns._effects, "_owner", owner)
        yield hook[1], hook[2]


async def handoff_of(harness: Harness, user: str) -> str | None:
    state, _ = await harness.store.states.load(await harness.customer("web", user))
    assert state is not None
    return state.handoff


async def test_with_no_owner_destination_the_customer_hears_nobody_will_answer(
    harness: Harness,
) -> None:
    await harness.send("web", "s1", TextEvent("оператор"))
    assert harness.texts("web", "s1") == ["Зову человека.", UNHEARD]
    assert await handoff_of(harness, "s1") == "unheard"
    await harness.send("web", "s1", TextEvent("алло?"))
    assert harness.texts("web", "s1")[2:] == [UNHEARD]
    await harness.send("web", "s1", TextEvent("меню"))
    assert harness.texts("web", "s1")[3:] == ["Как вас зовут?"]
    assert await handoff_of(harness, "s1") is None
    history = await harness.store.history.read(await harness.customer("web", "s1"))
    assert "алло?" in [entry.text for entry in history if entry.direction == "in"]


async def test_global_commands_work_while_no_operator_has_taken_the_handoff(
    harness: Harness, owner_hook: tuple[list[dict[str, Any]], list[int]],
) -> None:
    notes, _ = owner_hook
    await harness.send("web", "s1", TextEvent("оператор"))
    assert harness.texts("web", "s1") == ["Зову человека."]  # the owner was told: no alarm
    assert [note["event"] for note in notes] == ["handoff"]
    assert await handoff_of(harness, "s1") == "waiting"
    await harness.send("web", "s1", TextEvent("алло?"))  # for the operator, kept in history
    assert harness.texts("web", "s1") == ["Зову человека."]
    await harness.send("web", "s1", TextEvent("отмена"))
    assert harness.texts("web", "s1")[1:] == ["Хорошо, отменили.", "Как вас зовут?"]
    assert await handoff_of(harness, "s1") is None


async def test_a_handoff_the_owner_hook_refuses_is_unheard(
    harness: Harness, owner_hook: tuple[list[dict[str, Any]], list[int]],
) -> None:
    notes, statuses = owner_hook
    statuses.append(500)
    await harness.send("web", "s1", TextEvent("оператор"))
    assert len(notes) == 1
    assert harness.texts("web", "s1") == ["Зову человека.", UNHEARD]
    assert await handoff_of(harness, "s1") == "unheard"


@pytest.mark.parametrize("owner", [None, "http://127.0.0.1:9/hook"])
async def test_start_warns_when_flows_hand_off_with_no_owner_destination(
    redis_url: str, bot_prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture,
    owner: str | None,
) -> None:
    settings = make_settings(redis_url, bot_prefix, tmp_path, owner_webhook=owner)
    with caplog.at_level(logging.WARNING, logger="svyaz.bots"):
        async with TestClient(TestServer(build_app(settings), host="127.0.0.1")):
            pass
    warned = [r.getMessage() for r in caplog.records
              if r.levelno == logging.WARNING and "no owner destination" in r.getMessage()]
    if owner is None:
        assert len(warned) == 1
        assert "operator/call" in warned[0]
        assert "SVYAZ_OWNER_WEBHOOK" in warned[0]
    else:
        assert warned == []

"""Honest waiting: a customer nobody answers hears when to expect an answer (at once when
closed, after the owner's ``answer_within`` otherwise), may go back to the bot with a
button, and the bot takes over after ``release_after`` — all with the clock passed in."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from desk_client import EXAMPLES, HANDED, add_operator, desk_app, next_reply, store_of, web_chat

from bots.app import EDGE
from bots.cli import main
from bots.desk.canned import load_desk, waiting_of
from bots.desk.takeover import Takeover
from bots.desk.waiting import BACK, Waiting, decide, expectation, opening, span
from bots.texts import DESK_UNCLAIMED
from flows.hours import read

MSK = ZoneInfo("Europe/Moscow")
MONDAY_NOON = datetime(2026, 12, 7, 12, 0, tzinfo=MSK)  # within the salon's пн-сб 10:00-20:00
SUNDAY_NOON = datetime(2026, 12, 6, 12, 0, tzinfo=MSK)  # closed all day
SALON = read(days=["пн-сб"], hours="10:00-20:00")
DEFAULT = Waiting()


@pytest.mark.parametrize(("waited", "now", "working", "step"), [
    (60, MONDAY_NOON, SALON, "wait"),
    (16 * 60, MONDAY_NOON, SALON, "tell"),  # nobody took it within 15 minutes
    (60, SUNDAY_NOON, SALON, "tell"),  # closed: at once
    (16 * 60, MONDAY_NOON, None, "tell"),  # no hours declared: the time alone
    (60, SUNDAY_NOON, None, "wait"),
    (24 * 3600 + 1, MONDAY_NOON, SALON, "release"),
    (24 * 3600 + 1, SUNDAY_NOON, SALON, "release"),
])
def test_what_a_waiting_hand_off_needs(waited: float, now: datetime,
                                       working: object, step: str) -> None:
    since = now.timestamp() - waited
    assert decide(since, now, working=working, waiting=DEFAULT) == step  # type: ignore[arg-type]


def test_the_customer_hears_when_to_expect_an_answer() -> None:
    closed = expectation(SUNDAY_NOON.timestamp(), SUNDAY_NOON, working=SALON, waiting=DEFAULT)
    assert closed.text.startswith("Сейчас мы не работаем. Сотрудник ответит, когда мы "
                                  "откроемся: завтра в 10:00.")
    assert closed.buttons == (BACK,)
    assert BACK.id == "cmd:menu"
    busy = expectation(MONDAY_NOON.timestamp(), MONDAY_NOON, working=SALON, waiting=DEFAULT)
    assert busy.text.startswith("Сотрудники пока заняты. Мы ответим сегодня до 20:00.")
    anytime = expectation(MONDAY_NOON.timestamp() - 3600, MONDAY_NOON, working=None,
                          waiting=DEFAULT)
    assert anytime.text.startswith("Сотрудники пока заняты. Мы ответим в течение 23 ч.")


def test_openings_and_spans_in_russian() -> None:
    saturday_night = datetime(2026, 12, 5, 21, 0, tzinfo=MSK)
    assert opening(SALON.next_opening(saturday_night) or saturday_night,
                   saturday_night) == "в понедельник, 7 декабря, в 10:00"
    early = MONDAY_NOON.replace(hour=8)
    assert opening(SALON.next_opening(early) or early, early) == "сегодня в 10:00"
    assert [span(s) for s in (30, 40 * 60, 3 * 3600, 5 * 86400)] == [
        "1 мин", "40 мин", "3 ч", "5 дн"]


def _flows(tmp_path: Path, desk: str) -> Path:
    folder = tmp_path / "flows"
    shutil.copytree(EXAMPLES, folder)
    (folder / "_desk.yaml").write_text(desk, encoding="utf-8")
    return folder


def test_the_owner_sets_the_times_in_the_desk_file(tmp_path: Path) -> None:
    assert waiting_of(EXAMPLES) == Waiting()  # not written: 15 minutes and a day
    folder = _flows(tmp_path, "waiting:\n  answer_within: 5 минут\n  release_after: 2h\n")
    assert waiting_of(folder) == Waiting(answer_within=300.0, release_after=7200.0)


@pytest.mark.parametrize(("text", "where", "says"), [
    ("waiting:\n  answer_within: скоро\n", ":2:18:", "'скоро' is not a duration"),
    ("waiting:\n  answer_within: 2d\n", ":2:18:", "must be shorter than release_after"),
    ("waiting:\n  release_in: 2h\n", ":2:3:", "unknown key 'release_in'"),
])
def test_mistakes_in_the_waiting_times_are_named(tmp_path: Path, text: str, where: str,
                                                 says: str) -> None:
    (tmp_path / "_desk.yaml").write_text(text, encoding="utf-8")
    desk, problems = load_desk(tmp_path)
    said = [str(p.in_lang("en")) for p in problems]
    assert any(where in p and says in p for p in said), said
    assert waiting_of(tmp_path) == Waiting()  # the defaults until it is fixed


def test_svyaz_check_reports_the_waiting_times(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check", str(_flows(tmp_path, "waiting:\n  release_after: завтра\n"))]) == 1
    assert "'завтра' — не промежуток времени" in capsys.readouterr().out


@pytest.fixture
async def desk(redis_url: str, bot_prefix: str, tmp_path: Path
               ) -> AsyncIterator[tuple[web.Application, TestClient]]:
    flows = _flows(tmp_path, "waiting:\n  answer_within: 5m\n  release_after: 2h\n")
    async with desk_app(redis_url, bot_prefix, tmp_path, flows=flows) as (app, client):
        await add_operator(app, "ivan")
        yield app, client


async def _handed_off(app: web.Application, client: TestClient,
                      ) -> tuple[aiohttp.ClientWebSocketResponse, str]:
    ws = await web_chat(client)
    await ws.send_json({"type": "text", "text": "Позвать администратора", "id": "c1"})
    while not str((await next_reply(ws))["text"]).startswith(HANDED):
        pass
    waiting = await store_of(app).desk.handoffs.waiting()
    assert len(waiting) == 1
    return ws, next(iter(waiting))


async def test_closed_the_customer_is_told_at_once_and_can_go_back_to_the_bot(
    desk: tuple[web.Application, TestClient],
) -> None:
    app, client = desk
    store, takeover = store_of(app), Takeover(app[EDGE])
    ws, customer = await _handed_off(app, client)
    await store.desk.handoffs.began(customer, SUNDAY_NOON.timestamp() - 30)
    assert await takeover.sweep(SUNDAY_NOON) == (1, 0)
    told = await next_reply(ws)
    assert str(told["text"]).startswith("Сейчас мы не работаем. Сотрудник ответит, когда мы "
                                        "откроемся: завтра в 10:00.")
    assert told["buttons"] == [{"id": "cmd:menu", "text": "Вернуться к боту"}]
    assert await takeover.sweep(SUNDAY_NOON + timedelta(minutes=10)) == (0, 0)  # once
    await ws.send_json({"type": "button", "button": "cmd:menu", "id": "c2"})
    assert (await next_reply(ws))["text"] == "Чем могу помочь?"
    state, _ = await store.states.load(customer)
    assert state is not None
    assert state.handoff is None
    assert await takeover.sweep(SUNDAY_NOON + timedelta(hours=3)) == (0, 0)  # back already
    assert await store.desk.handoffs.waiting() == {}
    mark = store.keys.desk_told(customer, SUNDAY_NOON.timestamp() - 30)
    assert await store.redis.exists(mark)
    await store.forget(customer)  # erasure reaches the mark too
    assert not await store.redis.exists(mark)
    await ws.close()


async def test_open_nobody_took_it_in_the_owners_time_then_the_bot_takes_over(
    desk: tuple[web.Application, TestClient],
) -> None:
    app, client = desk
    store, takeover = store_of(app), Takeover(app[EDGE])
    ws, customer = await _handed_off(app, client)
    since = MONDAY_NOON.timestamp()
    await store.desk.handoffs.began(customer, since)
    assert await takeover.sweep(MONDAY_NOON + timedelta(minutes=4)) == (0, 0)
    assert await takeover.sweep(MONDAY_NOON + timedelta(minutes=6)) == (1, 0)
    assert str((await next_reply(ws))["text"]).startswith(
        "Сотрудники пока заняты. Мы ответим сегодня до 20:00.")
    assert await takeover.sweep(MONDAY_NOON + timedelta(minutes=110)) == (0, 0)
    assert await takeover.sweep(MONDAY_NOON + timedelta(minutes=121)) == (0, 1)
    assert (await next_reply(ws))["text"] == DESK_UNCLAIMED
    state, _ = await store.states.load(customer)
    assert state is not None
    assert state.handoff is None
    assert await takeover.sweep(MONDAY_NOON + timedelta(minutes=122)) == (0, 0)  # once
    await ws.send_json({"type": "text", "text": "меню", "id": "c9"})
    assert (await next_reply(ws))["text"] == "Чем могу помочь?"
    await ws.close()


async def test_a_claimed_hand_off_is_neither_told_nor_released(
    desk: tuple[web.Application, TestClient],
) -> None:
    app, client = desk
    store = store_of(app)
    ws, customer = await _handed_off(app, client)
    await store.desk.handoffs.claim(customer, "ivan")
    await store.desk.handoffs.began(customer, 0.0)
    assert await Takeover(app[EDGE]).sweep(SUNDAY_NOON) == (0, 0)
    await ws.close()

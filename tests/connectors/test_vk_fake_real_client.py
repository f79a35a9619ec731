"""The VK fake speaks the real protocol: vk_api's own VkApi and VkBotLongPoll accept its answers.

vk_api is synchronous, so every call runs in a worker thread while the fake serves on the loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import jconfig
import pytest
import requests
import vk_api
from requests.adapters import HTTPAdapter
from vk_api.bot_longpoll import VkBotEventType, VkBotLongPoll
from vk_api.exceptions import ApiError, ApiHttpError
from vk_api.keyboard import VkKeyboard, VkKeyboardColor
from vk_api.utils import get_random_id

from connectors.vk.render import render
from flows.types import Button, Reply
from tests.fakes import vk as vk_fakes
from tests.fakes.vk import GROUP_ID, TOKEN, FakeVk

fake_vk = vk_fakes.fake_vk
fake_vk_factory = vk_fakes.fake_vk_factory


class Redirect(HTTPAdapter):
    """Sends what vk_api addresses to https://api.vk.ru/ to the local fake instead."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        parts = urlsplit(request.url or "")
        request.url = self.base + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().send(request, **kwargs)


@pytest.fixture
def vk_session(fake_vk: FakeVk) -> Iterator[vk_api.VkApi]:
    session = requests.Session()
    for prefix in ("https://api.vk.ru/", "https://api.vk.com/"):
        session.mount(prefix, Redirect(fake_vk.url))
    yield vk_api.VkApi(token=TOKEN, api_version="5.199", session=session,
                       config=jconfig.MemoryConfig)
    session.close()


async def test_vk_api_sends_a_message_with_its_keyboard(fake_vk: FakeVk,
                                                        vk_session: vk_api.VkApi) -> None:
    keyboard = VkKeyboard(inline=True)
    keyboard.add_button("Да", color=VkKeyboardColor.POSITIVE, payload={"b": "yes"})
    keyboard.add_callback_button("Нет", payload={"b": "no"})
    keyboard.add_line()
    keyboard.add_openlink_button("Сайт", "https://example.com")
    api = vk_session.get_api()
    message_id = await asyncio.to_thread(
        api.messages.send, peer_id=42, random_id=get_random_id(), message="Привет 👋",
        keyboard=keyboard.get_keyboard())
    assert isinstance(message_id, int)
    [sent] = fake_vk.sent
    assert (sent.message_id, sent.peer_id, sent.message) == (message_id, 42, "Привет 👋")
    assert sent.keyboard is not None
    assert sent.keyboard["buttons"][1][0]["action"]["type"] == "open_link"


async def test_our_rendering_is_accepted_through_vk_api(fake_vk: FakeVk,
                                                        vk_session: vk_api.VkApi) -> None:
    reply = Reply("Выберите день " * 500, (Button("d1", "Сегодня"), Button("d2", "Завтра")))
    for params in render(reply, peer_id="42", message_key="o-1"):
        await asyncio.to_thread(vk_session.method, "messages.send", params)
    assert len(fake_vk.sent) == 2
    assert fake_vk.sent[-1].keyboard is not None


async def test_vk_api_retries_error_6_itself(fake_vk: FakeVk, vk_session: vk_api.VkApi) -> None:
    fake_vk.fail("messages.send", code=6, times=1)
    await asyncio.to_thread(vk_session.method, "messages.send",
                            {"peer_id": 1, "random_id": 5, "message": "x"})
    assert len(fake_vk.calls_of("messages.send")) == 2
    assert len(fake_vk.sent) == 1


@pytest.mark.parametrize(("code", "method"), [(901, "messages.send"), (9, "messages.send"),
                                              (5, "groups.getById")])
async def test_vk_api_reads_the_error_shape(fake_vk: FakeVk, vk_session: vk_api.VkApi,
                                            code: int, method: str) -> None:
    fake_vk.fail(method, code=code)
    params = {"peer_id": 1, "random_id": 5, "message": "x", "group_id": GROUP_ID}
    with pytest.raises(ApiError) as info:
        await asyncio.to_thread(vk_session.method, method, params)
    assert info.value.code == code
    echoed = {p["key"]: p["value"] for p in info.value.error["request_params"]}
    assert echoed["method"] == method
    assert "access_token" not in echoed


async def test_vk_api_sees_http_errors(fake_vk: FakeVk, vk_session: vk_api.VkApi) -> None:
    fake_vk.fail("messages.send", http_status=500)
    with pytest.raises(ApiHttpError):
        await asyncio.to_thread(vk_session.method, "messages.send",
                                {"peer_id": 1, "random_id": 5, "message": "x"})


async def test_vk_api_reads_users_get(fake_vk: FakeVk, vk_session: vk_api.VkApi) -> None:
    """users.get as vk_api's own method object calls it (a list joined with commas)."""
    fake_vk.person(77, "Иван", "Петров")
    fake_vk.person(78, deactivated="deleted")
    fake_vk.person(79, "Анна", "Смирнова", closed=True)
    api = vk_session.get_api()
    found = await asyncio.to_thread(api.users.get, user_ids=[77, 78, 79, 80])
    assert [(u["id"], u["first_name"], u.get("deactivated")) for u in found] == [
        (77, "Иван", None), (78, "DELETED", "deleted"), (79, "Анна", None)]
    assert found[2]["is_closed"] is True
    assert fake_vk.calls_of("users.get")[0].params["user_ids"] == "77,78,79,80"
    with pytest.raises(ApiError) as info:  # no user id at all
        await asyncio.to_thread(api.users.get, user_ids="abc")
    assert info.value.code == 113
    fake_vk.fail("users.get", code=29)
    with pytest.raises(ApiError) as info:
        await asyncio.to_thread(api.users.get, user_ids=[77])
    assert info.value.code == 29


async def test_vk_api_answers_a_callback_button(fake_vk: FakeVk,
                                                vk_session: vk_api.VkApi) -> None:
    data = json.dumps({"type": "show_snackbar", "text": "Принято"})
    result = await asyncio.to_thread(
        vk_session.method, "messages.sendMessageEventAnswer",
        {"event_id": "8c1f2a7d0e", "user_id": 42, "peer_id": 42, "event_data": data})
    assert result == 1
    assert fake_vk.answers[0]["event_data"] == data


async def test_vk_bot_long_poll_reads_events_and_failed_answers(
    fake_vk: FakeVk, vk_session: vk_api.VkApi
) -> None:
    poll = await asyncio.to_thread(VkBotLongPoll, vk_session, GROUP_ID, 1)
    try:
        fake_vk.push_update(fake_vk.message_new(42, "Привет", ref="link-abc", event_id="e-1"))
        fake_vk.push_update(fake_vk.message_event(42, {"b": "yes"}))
        events = await asyncio.to_thread(poll.check)
        assert [e.type for e in events] == [VkBotEventType.MESSAGE_NEW,
                                            VkBotEventType.MESSAGE_EVENT]
        assert events[0].message.text == "Привет"
        assert events[0].message.ref == "link-abc"
        assert events[0].raw["event_id"] == "e-1"
        assert events[1].object.payload == {"b": "yes"}
        assert await asyncio.to_thread(poll.check) == []  # held for `wait`, then empty

        for failure in (1, 2, 3):
            fake_vk.lp_fail(failure)
            assert await asyncio.to_thread(poll.check) == []
        fake_vk.expire_key()
        assert await asyncio.to_thread(poll.check) == []  # failed 2: it fetched a new key
        fake_vk.push_update(fake_vk.message_new(42, "ещё"))
        [event] = await asyncio.to_thread(poll.check)
        assert event.message.text == "ещё"
        assert len(fake_vk.calls_of("groups.getLongPollServer")) == 4  # start, 2, 3, expiry
    finally:
        poll.session.close()


# ---------------------------------------------------------------- the fake's own validation


async def call(fake: FakeVk, method: str, params: dict[str, Any],
               headers: dict[str, str] | None = None) -> Any:
    async with aiohttp.ClientSession() as session, session.post(
        f"{fake.api_url}/{method}", data={k: str(v) for k, v in params.items()},
        headers=headers or {},
    ) as resp:
        assert resp.status == 200
        return await resp.json()


def error_code(answer: dict[str, Any]) -> int | None:
    return answer["error"]["error_code"] if "error" in answer else None


AUTH = {"v": "5.199", "access_token": TOKEN}
SEND = {**AUTH, "peer_id": 42, "random_id": 7, "message": "x"}


async def test_fake_accepts_a_bearer_token_and_requires_v(fake_vk: FakeVk) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    ok = await call(fake_vk, "groups.getById", {"v": "5.199", "group_id": GROUP_ID}, bearer)
    assert ok["response"]["groups"][0]["id"] == GROUP_ID
    assert error_code(await call(fake_vk, "groups.getById", {"access_token": TOKEN})) == 8
    assert error_code(await call(fake_vk, "groups.getById", {"v": "5.199"})) == 5
    assert error_code(await call(fake_vk, "messages.nope", AUTH)) == 3


def keyboard(rows: list[list[dict[str, Any]]], **extra: Any) -> str:
    return json.dumps({"one_time": False, "inline": True, "buttons": rows, **extra})


def text_button(label: str = "Да", payload: str = '{"b":"y"}') -> dict[str, Any]:
    return {"action": {"type": "text", "label": label, "payload": payload}, "color": "primary"}


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"random_id": None}, 100),
        ({"message": None}, 100),
        ({"message": "я" * 9001}, 914),
        ({"message": "я" * 9000}, None),
        ({"keyboard": "{not json"}, 911),
        ({"keyboard": keyboard([[text_button()]] * 7)}, 911),
        ({"keyboard": keyboard([[text_button()] * 5, [text_button()] * 5])}, None),
        ({"keyboard": keyboard([[text_button()] * 5, [text_button()] * 5, [text_button()]])}, 911),
        ({"keyboard": keyboard([[text_button()] * 6])}, 911),
        ({"keyboard": keyboard([[text_button("я" * 41)]])}, 911),
        ({"keyboard": keyboard([[text_button(payload=json.dumps({"b": "x" * 250}))]])}, 911),
        ({"keyboard": keyboard([[text_button()]], one_time=True)}, 911),
        ({"keyboard": keyboard([[{"action": {"type": "teleport", "label": "x"}}]])}, 911),
    ],
)
async def test_fake_validates_messages_send(fake_vk: FakeVk, changes: dict[str, Any],
                                            code: int | None) -> None:
    params = {**SEND, **changes}
    params = {k: v for k, v in params.items() if v is not None}
    assert error_code(await call(fake_vk, "messages.send", params)) == code


async def test_fake_drops_a_repeated_random_id(fake_vk: FakeVk) -> None:
    first = await call(fake_vk, "messages.send", SEND)
    again = await call(fake_vk, "messages.send", SEND)
    other = await call(fake_vk, "messages.send", {**SEND, "peer_id": 43})
    assert first == again
    assert other["response"] != first["response"]
    assert len(fake_vk.sent) == 2


async def test_fake_rate_meter(fake_vk: FakeVk) -> None:
    await asyncio.gather(*(call(fake_vk, "groups.getById", {**AUTH, "group_id": GROUP_ID})
                           for _ in range(25)))
    assert fake_vk.max_rate(1.0) == 25


async def test_fake_takes_get_with_query_parameters(fake_vk: FakeVk) -> None:
    query = {**AUTH, "group_id": str(GROUP_ID)}
    async with aiohttp.ClientSession() as session, session.get(
        f"{fake_vk.api_url}/groups.getLongPollServer", params=query
    ) as resp:
        answer = await resp.json()
    assert answer["response"]["server"] == f"{fake_vk.url}/lp"
    assert answer["response"]["key"] == fake_vk.lp.key

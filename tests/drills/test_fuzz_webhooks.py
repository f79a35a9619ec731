"""Fuzzing the doors of a running ``svyaz run``: MAX webhooks, VK callbacks, web chat frames.

Hypothesis generates and mutates inputs (wrong types, huge strings, deep nesting, invalid
UTF-8, missing fields). Every answer must be a deliberate one: 200 for what is a valid (if
odd) update, 400 for a malformed one (403 for VK bodies that lost their secret), never 500;
the process must stay up and keep answering customers; no unhandled error may reach the log.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

import aiohttp
import pytest
from drill_bot import MAX_SECRET, VK_SECRET, SvyazBot, assert_alive_and_clean, http_status
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes import max_wire
from tests.fakes.vk_wire import message_new

pytestmark = pytest.mark.slow

SCALE = int(os.environ.get("SVYAZ_DRILL_SCALE", "1"))  # bench/drills/fuzz.py raises it
FUZZ = settings(max_examples=30 * SCALE, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
TEXT = st.text(max_size=50)  # lone surrogates included: JSON may carry "\ud800"
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(TEXT, inner, max_size=5),
    max_leaves=15,
)
HUGE = "я" * 300_000
DEEP = "[" * 50_000 + "]" * 50_000
NESTED = b'{"a":' * 5000 + b"1" + b"}" * 5000
MALFORMED: list[bytes] = [
    b"", b"not json", b"\xff\xfe\xfa invalid utf-8", b'{"update_type": "message_created"',
    b"[]", b"null", b"42", b'"text"', json.dumps({"update_type": HUGE[:1000]}).encode(),
]


def mutate(update: dict[str, Any], path: list[int], value: Any, delete: bool) -> dict[str, Any]:
    """Replace (or delete) one nested field of ``update``, chosen by ``path``."""
    copy = json.loads(json.dumps(update))
    node: Any = copy
    for step in path:
        if not isinstance(node, dict) or not node:
            break
        key = sorted(node)[step % len(node)]
        if not isinstance(node[key], dict) or step == path[-1]:
            if delete:
                del node[key]
            else:
                node[key] = value
            return copy
        node = node[key]
    return copy


def post_max(bot: SvyazBot, body: bytes) -> int:
    headers = {"X-Max-Bot-Api-Secret": MAX_SECRET, "Content-Type": "application/json"}
    return http_status(bot.url + "/max/webhook", body, headers)


def post_vk(bot: SvyazBot, body: bytes) -> int:
    return http_status(bot.url + "/vk/callback", body, {"Content-Type": "application/json"})


@pytest.mark.parametrize("body", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_bodies_get_400(svyaz_bot: SvyazBot, body: bytes) -> None:
    assert post_max(svyaz_bot, body) == 400
    assert post_vk(svyaz_bot, body) in (400, 403)  # no readable secret may also be a 403


@pytest.mark.parametrize("body", [DEEP.encode(), NESTED], ids=["list", "object"])
def test_max_deep_nesting_gets_400(svyaz_bot: SvyazBot, body: bytes) -> None:
    assert post_max(svyaz_bot, body) == 400


def test_oversized_bodies_are_refused_413(svyaz_bot: SvyazBot) -> None:
    body = json.dumps({"update_type": HUGE}).encode()  # ~1.8 MB of \\u escapes > 1 MB
    assert post_max(svyaz_bot, body) == 413
    assert post_vk(svyaz_bot, body) == 413


@FUZZ
@given(value=JSON)
def test_max_arbitrary_json_is_never_a_500(svyaz_bot: SvyazBot, value: Any) -> None:
    assert post_max(svyaz_bot, json.dumps(value).encode()) in (200, 400)


@FUZZ
@given(path=st.lists(st.integers(0, 20), min_size=1, max_size=4), value=JSON,
       delete=st.booleans(), user=st.integers(1, 10**9))
def test_max_mutated_updates_are_never_a_500(svyaz_bot: SvyazBot, path: list[int], value: Any,
                                             delete: bool, user: int) -> None:
    update = mutate(max_wire.message_created(user, "записаться"), path, value, delete)
    assert post_max(svyaz_bot, json.dumps(update).encode()) in (200, 400)


@FUZZ
@given(path=st.lists(st.integers(0, 20), min_size=1, max_size=4), value=JSON,
       delete=st.booleans(), user=st.integers(1, 10**9))
def test_vk_mutated_callbacks_are_never_a_500(svyaz_bot: SvyazBot, path: list[int], value: Any,
                                              delete: bool, user: int) -> None:
    envelope = {**message_new(123456, user, "записаться"), "secret": VK_SECRET}
    body = mutate(envelope, path, value, delete)
    assert post_vk(svyaz_bot, json.dumps(body).encode()) in (200, 400, 403)


FRAMES = st.one_of(
    JSON.map(json.dumps),
    st.text(max_size=200),
    st.builds(lambda t, i: json.dumps({"type": "text", "text": t, "id": i}), JSON, JSON),
    st.builds(lambda b, i: json.dumps({"type": "button", "button": b, "id": i}), JSON, JSON),
    st.sampled_from([json.dumps({"type": "text", "text": HUGE[:3000], "id": "x"},
                                ensure_ascii=False),
                     "[" * 10_000, json.dumps({"type": "hello", "session": None})]),
)


async def play_frames(bot: SvyazBot, frames: list[str]) -> list[dict[str, Any]]:
    """Hello, the frames, then one valid message; returns what the server sent back."""
    got: list[dict[str, Any]] = []
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(bot.url + "/chat/ws", headers={"Origin": bot.url}) as ws,
    ):
        await ws.send_str(json.dumps({"type": "hello", "session": None}))
        for frame in frames:
            await ws.send_str(frame)
        await ws.send_bytes(b"\xff\xfe binary and invalid utf-8")
        await ws.send_str(json.dumps({"type": "text", "text": "записаться", "id": "final"}))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                message = await ws.receive(timeout=deadline - time.monotonic())
            except TimeoutError:
                break
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            got.append(json.loads(message.data))
            if got[-1].get("type") == "reply" and "Какую услугу" in got[-1].get("text", ""):
                break
    return got


@settings(max_examples=12 * SCALE, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(frames=st.lists(FRAMES, min_size=1, max_size=8))  # + the final text <= the burst of 10
def test_webchat_frames_never_break_the_session(svyaz_bot: SvyazBot, frames: list[str]) -> None:
    got = asyncio.run(play_frames(svyaz_bot, frames))
    errors = [f["code"] for f in got if f.get("type") == "error"]
    assert "bad_frame" in errors  # at least the binary frame was refused with a clear code
    assert any(f.get("type") == "reply" and "Какую услугу" in f.get("text", "") for f in got)


def test_after_fuzzing_the_bot_is_up_and_logged_no_crash(svyaz_bot: SvyazBot) -> None:
    for _ in range(3):  # the module's other tests ran first; the order is the file's
        assert_alive_and_clean(svyaz_bot)

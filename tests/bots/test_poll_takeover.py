"""One poller per platform across ``svyaz run`` processes (``bots.polling``): two processes in
VK Long Poll and MAX polling mode on one Redis; only one polls each platform; kill -9 it and
the other takes over, going on from where the dead one stood (updates sent while nobody
polled are answered, each once)."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from bots_harness import FLOWS

from tests.bots.test_processes import Bot, clean_env, free_port
from tests.fakes import max_wire
from tests.fakes.max import MaxFake, start_fake
from tests.fakes.vk import FakeVk

pytestmark = pytest.mark.slow


@pytest.fixture
async def max_fake() -> AsyncIterator[MaxFake]:
    fake, runner = await start_fake()
    yield fake
    fake._wake.set()
    await runner.cleanup()


@pytest.fixture
async def vk_fake() -> AsyncIterator[FakeVk]:
    async with FakeVk() as fake:
        yield fake


async def eventually(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not reached: {what}"
        await asyncio.sleep(0.1)


def max_said(fake: MaxFake, user: int) -> list[str]:
    return [s.body.get("text") or "" for s in fake.sent if s.user_id == user]


def vk_said(fake: FakeVk, peer: int) -> list[str]:
    return [m.message for m in fake.sent if m.peer_id == peer]


def pollers(bots: list[Bot], platform: str) -> list[Bot]:
    return [b for b in bots if f"this process now polls {platform}" in b.log.read_text()]


async def test_one_process_polls_and_another_takes_over_when_it_is_killed(
    max_fake: MaxFake, vk_fake: FakeVk, redis_url: str, bot_prefix: str, tmp_path: Path
) -> None:
    settings = {"redis_url": redis_url, "bot": bot_prefix, "flows": str(FLOWS),
                "max_token": max_fake.token, "max_api_url": max_fake.url,
                "max_mode": "polling", "max_bot_username": max_fake.username,
                "vk_token": vk_fake.token, "vk_group_id": str(vk_fake.group_id),
                "vk_api_url": vk_fake.api_url, "vk_mode": "longpoll"}
    bots = [Bot(clean_env(port=str(free_port()), data_dir=str(tmp_path / name), **settings),
                tmp_path / f"{name}.log") for name in ("a", "b")]
    try:
        await asyncio.gather(*(b.ready() for b in bots))
        await eventually(lambda: pollers(bots, "max") and pollers(bots, "vk"), "a poller")
        max_fake.enqueue(max_wire.message_created(701, "эхо"))
        vk_fake.push_update(vk_fake.message_new(801, "эхо"))
        await eventually(lambda: max_said(max_fake, 701) == ["Говорите."]
                         and vk_said(vk_fake, 801) == ["Говорите."], "first answers")
        assert len(pollers(bots, "max")) == len(pollers(bots, "vk")) == 1
        leader = pollers(bots, "max")[0]
        leader.stop(signal.SIGKILL)
        # sent while nobody polls MAX (and perhaps VK): the successor must find them
        max_fake.enqueue(max_wire.message_created(701, "раз"))
        vk_fake.push_update(vk_fake.message_new(801, "раз"))
        survivor = next(b for b in bots if b is not leader)
        # the turn's two replies («Эхо: раз», then «Говорите.») go one after the other: wait
        # for both before reading the whole list (reading at the first failed one CI run)
        await eventually(lambda: len(max_said(max_fake, 701)) >= 3
                         and len(vk_said(vk_fake, 801)) >= 3, "answers after the kill")
        assert survivor in pollers(bots, "max")
        assert survivor in pollers(bots, "vk")
        assert max_said(max_fake, 701) == ["Говорите.", "Эхо: раз", "Говорите."]
        assert vk_said(vk_fake, 801) == ["Говорите.", "Эхо: раз", "Говорите."]
        assert survivor.stop() == 0
        assert "Traceback" not in survivor.log.read_text(), survivor.log.read_text()
    finally:
        for bot in bots:
            if bot.proc.poll() is None:
                bot.stop(signal.SIGKILL)

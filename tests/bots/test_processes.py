"""``svyaz run`` as real processes: the demo with no settings, SIGTERM, two processes on one
Redis (webhook mode) with a SIGKILL and a restart — no lost or doubled replies, every
reminder fired exactly once, one past the grace recorded as missed."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from bots_harness import FLOWS, ZONE

from bots.metrics import Metrics
from bots.scheduler import ReminderService
from flows.types import ScheduleReminder
from storage.store import Store
from tests.fakes import max_wire
from tests.fakes.max import MaxFake, start_fake

ROOT = Path(__file__).resolve().parents[2]
SECRET = "hook-secret"
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SVYAZ_") and k != "REDIS_URL"}
    env.update({f"SVYAZ_{k.upper()}": v for k, v in settings.items()})
    return env


class Bot:
    """One ``svyaz run`` process."""

    def __init__(
        self, env: dict[str, str], log: Path, preexec: Callable[[], None] | None = None
    ) -> None:
        self.port = int(env["SVYAZ_PORT"])
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bots.cli", "run"], cwd=ROOT, env=env,
                stdout=out, stderr=subprocess.STDOUT, preexec_fn=preexec)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                assert self.proc.poll() is None, self.log.read_text()
                try:
                    async with http.get(f"{self.url}/healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError(f"not ready: {self.log.read_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=20)


@pytest.fixture
def bots() -> Iterator[list[Bot]]:
    started: list[Bot] = []
    yield started
    for bot in started:
        if bot.proc.poll() is None:
            bot.stop(signal.SIGKILL)


async def test_the_demo_runs_with_no_settings_and_stops_on_sigterm(
    bots: list[Bot], tmp_path: Path
) -> None:
    env = clean_env(port=str(free_port()), data_dir=str(tmp_path / "data"))
    bot = Bot(env, tmp_path / "run.log")
    bots.append(bot)
    await bot.ready()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{bot.url}/chat") as resp:
            assert resp.status == 200
        ws = await http.ws_connect(f"{bot.url}/chat/ws", headers={"Origin": bot.url})
        await ws.send_json({"type": "hello", "session": None})
        await ws.send_json({"type": "open"})
        texts = []
        while not any("Чем могу помочь" in t for t in texts):
            frame = await ws.receive_json(timeout=10)
            texts.append(frame.get("text") or "")
        await ws.close()
    assert bot.stop() == 0
    log = bot.log.read_text()
    assert "svyaz: stopped" in log
    assert "Traceback" not in log
    assert (tmp_path / "data" / "secret_key").exists()


@pytest.fixture
async def max_fake() -> AsyncIterator[MaxFake]:
    fake, runner = await start_fake()
    yield fake
    fake._wake.set()
    await runner.cleanup()


def said_to(fake: MaxFake, user: int) -> list[str]:
    return [s.body.get("text") or "" for s in fake.sent if s.user_id == user]


def dialogue_of(fake: MaxFake, user: int) -> list[str]:
    """What the echo dialogue said: the reminder (due a few seconds after start, counted on
    its own at the end) may land anywhere in it on a slow machine, and when it interrupts the
    open question its turn re-asks that question right after itself («Говорите.»): both go
    (a reminder before the dialogue's first question re-asks nothing)."""
    said, kept = said_to(fake, user), []
    for i, text in enumerate(said):
        reask = (text == "Говорите." and i > 0 and said[i - 1] == "Напоминание!"
                 and "Говорите." in said[:i - 1])  # the question was open when it came
        if text != "Напоминание!" and not reask:
            kept.append(text)
    return kept


async def test_two_processes_one_redis_kill_and_restart(
    bots: list[Bot], max_fake: MaxFake, redis_url: str, bot_prefix: str, tmp_path: Path
) -> None:
    settings = {"redis_url": redis_url, "bot": bot_prefix, "flows": str(FLOWS),
                "data_dir": str(tmp_path / "data"), "max_token": max_fake.token,
                "max_api_url": max_fake.url, "max_mode": "webhook",
                "max_webhook_secret": SECRET, "max_bot_username": max_fake.username}
    store = Store.from_url(redis_url, bot=bot_prefix)
    users = [601, 602, 603, 604]
    customers = [await store.identities.resolve(f"max:{u}") for u in users]
    writer = ReminderService(store=store, redis_url=redis_url, metrics=Metrics(),
                             inject=lambda *a, **k: asyncio.sleep(0, True), zone=ZONE)
    await writer.start(lead=False)
    soon = datetime.now(ZONE) + timedelta(seconds=6)
    for customer in customers:
        await writer.schedule(customer, ScheduleReminder(key="k", at=soon, flow="ping"))
    await writer.schedule(customers[0], ScheduleReminder(
        key="old", at=datetime.now(ZONE) - timedelta(hours=2), flow="ping"))
    await writer.stop()

    a = Bot(clean_env(port=str(free_port()), **settings), tmp_path / "a.log")
    b = Bot(clean_env(port=str(free_port()), **settings), tmp_path / "b.log")
    bots += [a, b]
    await asyncio.gather(a.ready(), b.ready())

    # Updates spread over both processes, each accepted before the next is sent.
    expected: dict[int, list[str]] = {u: ["Говорите."] for u in users}
    for round_ in range(4):
        for i, user in enumerate(users):
            text = "эхо" if round_ == 0 else f"m{round_}"
            target = (a, b)[(round_ + i) % 2]
            status, _ = await max_fake.push(f"{target.url}/max/webhook",
                                            max_wire.message_created(user, text), secret=SECRET)
            assert status == 200
            if round_:
                expected[user] += [f"Эхо: {text}", "Говорите."]
    for user in users:
        deadline = time.monotonic() + 10
        while dialogue_of(max_fake, user) != expected[user] and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert dialogue_of(max_fake, user) == expected[user]

    # Then everything at once: 4 customers x 5 messages, spread over both processes.
    burst = [(user, f"x{k}", (a, b)[(k + i) % 2]) for i, user in enumerate(users)
             for k in range(5)]
    answers = await asyncio.gather(*(
        max_fake.push(f"{bot.url}/max/webhook", max_wire.message_created(user, text),
                      secret=SECRET) for user, text, bot in burst))
    assert {status for status, _ in answers} == {200}
    for user in users:
        deadline = time.monotonic() + 15
        while len(dialogue_of(max_fake, user)) < len(expected[user]) + 10 and \
                time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        tail = dialogue_of(max_fake, user)[len(expected[user]):]
        echoes = tail[0::2]
        assert sorted(echoes) == [f"Эхо: x{k}" for k in range(5)]  # none lost, none twice
        assert tail[1::2] == ["Говорите."] * 5  # each answer right after its echo

    a.stop(signal.SIGKILL)  # whoever led, reminders must still fire once
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(
            "Напоминание!" in said_to(max_fake, u) for u in users):
        await asyncio.sleep(0.2)
    a2 = Bot(clean_env(port=str(free_port()), **settings), tmp_path / "a2.log")
    bots.append(a2)
    await a2.ready()
    await asyncio.sleep(2.0)
    for user in users:
        assert said_to(max_fake, user).count("Напоминание!") == 1, user
    history = await store.history.read(customers[0], count=200)
    assert any("reminder old missed" in e.note for e in history)
    assert b.stop() == 0
    assert a2.stop() == 0
    for bot in (b, a2):
        assert "Traceback" not in bot.log.read_text(), bot.log.read_text()
    await store.close()

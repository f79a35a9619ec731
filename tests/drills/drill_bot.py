"""Bounded drills against a real ``svyaz run`` process (seconds, not minutes): the harness.

``svyaz_bot`` (module-scoped) starts the MAX and VK fakes (the project's, from tests/fakes,
timed by bench/common) on a background event loop and ``svyaz run`` as a subprocess with MAX
webhook, VK callback and the web chat on, embedded Redis in a temp folder. Tests talk to it
over loopback like the platforms and browsers do, and read its Redis through ``storage``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bench.common import (
    MAX_SECRET,
    VK_CONFIRMATION,
    VK_SECRET,
    TimedMaxFake,
    TimedVkFake,
    free_port,
    start_max_fake,
    svyaz_env,
    tail,
)

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]


class Background:
    """An event loop in a thread, hosting the platform fakes while tests run sync or async."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@dataclass
class SvyazBot:
    proc: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    max_fake: TimedMaxFake
    vk_fake: TimedVkFake
    background: Background

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def redis_url(self) -> str:
        return f"unix://{self.data_dir / 'redis.sock'}"

    @property
    def log(self) -> str:
        return (self.data_dir / "bot.log").read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None and http_status(self.url + "/healthz") == 200


def http_status(url: str, data: bytes | None = None, headers: dict[str, str] | None = None,
                timeout: float = 10.0) -> int:
    request = urllib.request.Request(url, data=data, headers=headers or {},
                                     method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 - loopback
            resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        exc.read()
        return int(exc.code)


def crash_lines(log: str) -> list[str]:
    """Log lines of unhandled errors: aiohttp's 500s and tracebacks (with their last line)."""
    lines = log.splitlines()
    found = []
    for i, line in enumerate(lines):
        if "Error handling request" in line or line.startswith("Traceback"):
            end = next((j for j in range(i + 1, len(lines)) if not lines[j].startswith(" ")), i)
            found.append(f"{line[:120]} ... {lines[end][:200]}")
    return found


def assert_alive_and_clean(bot: SvyazBot) -> None:
    assert bot.alive()
    assert crash_lines(bot.log) == []


def start_svyaz(data_dir: Path, max_url: str, vk_url: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = svyaz_env(data_dir=data_dir, port=port, max_url=max_url, vk_url=vk_url)
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "bot.log").open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "bots.cli", "run"], env=env,
                                cwd=str(ROOT), stdout=out, stderr=out, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"svyaz run exited:\n{tail(data_dir / 'bot.log')}")
        try:
            if http_status(f"http://127.0.0.1:{port}/healthz", timeout=2) == 200:
                return proc, port
        except OSError:
            pass
        time.sleep(0.1)
    stop_process(proc)
    raise RuntimeError(f"svyaz run did not start:\n{tail(data_dir / 'bot.log')}")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def svyaz_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SvyazBot]:
    background = Background()
    max_fake, runner = background.run(start_max_fake())
    vk_fake = background.run(TimedVkFake().start())
    data_dir = tmp_path_factory.mktemp("svyaz")
    try:
        proc, port = start_svyaz(data_dir, max_fake.url, vk_fake.api_url)
    except RuntimeError:
        background.run(runner.cleanup())
        background.run(vk_fake.close())
        background.close()
        raise
    bot = SvyazBot(proc, port, data_dir, max_fake, vk_fake, background)
    try:
        yield bot
    finally:
        stop_process(proc)
        background.run(runner.cleanup())
        background.run(vk_fake.close())
        background.close()


__all__ = ["MAX_SECRET", "VK_CONFIRMATION", "VK_SECRET", "SvyazBot", "assert_alive_and_clean",
           "http_status"]

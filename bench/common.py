"""Helpers shared by the benchmark and drill scripts: processes, fakes that time replies, stats.

Owns: starting ``svyaz run`` (or the peer) as a pinned subprocess on a free loopback port and
stopping it; MAX and VK fakes (the project's own, from ``tests/fakes``) extended only to stamp
the moment each reply arrives; percentiles and ``name: value`` printing.
Must not: import svyaz's runtime internals (scripts measure the bot from outside, as a
platform would) or talk to anything but loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
MAX_SECRET = "bench_secret_12345"
VK_SECRET = "vk_bench_secret"
VK_CONFIRMATION = "c0nf1rm"

sys.path.insert(0, str(ROOT))

from tests.fakes.max import MaxFake  # noqa: E402
from tests.fakes.vk import FakeVk, SentMessage  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cores() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def pin(pid: int, core: int | None) -> None:
    """Pin a process and its threads/children to one core (None: leave it free)."""
    if core is None:
        return
    with contextlib.suppress(OSError, psutil.Error):
        os.sched_setaffinity(pid, {core})
        for child in psutil.Process(pid).children(recursive=True):
            os.sched_setaffinity(child.pid, {core})


def bot_core(*, pin_bot: bool = True) -> int | None:
    """The first core, for the bot under test; this process moves to the others. None (and
    nothing moved) on a one-core machine or without ``pin_bot``."""
    cpus = sorted(os.sched_getaffinity(0))
    if not pin_bot or len(cpus) < 2:
        return None
    os.sched_setaffinity(0, set(cpus[1:]))
    return cpus[0]


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def emit(name: str, value: object) -> None:
    if isinstance(value, float):
        value = f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"
    print(f"{name}: {value}", flush=True)


# ---------------------------------------------------------------------- fakes that time replies


@dataclass
class Inbox:
    """Replies per user, with arrival times, and waiters for the next matching one."""

    replies: dict[int, list[tuple[float, str]]] = field(default_factory=lambda: defaultdict(list))
    waiters: dict[int, list[tuple[str, asyncio.Future[float]]]] = field(
        default_factory=lambda: defaultdict(list))
    total: int = 0

    def arrived(self, user: int, text: str) -> None:
        now = time.perf_counter()
        self.total += 1
        self.replies[user].append((now, text))
        keep = []
        for needle, fut in self.waiters[user]:
            if not fut.done() and needle in text:
                fut.set_result(now)
            elif not fut.done():
                keep.append((needle, fut))
        self.waiters[user] = keep

    def expect(self, user: int, needle: str) -> asyncio.Future[float]:
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiters[user].append((needle, fut))
        return fut

    def count_of(self, user: int, needle: str) -> int:
        return sum(needle in text for _, text in self.replies.get(user, ()))

    def first_arrival(self, user: int, needle: str) -> float | None:
        """When the first reply to ``user`` containing ``needle`` arrived (perf_counter)."""
        return next((at for at, text in self.replies.get(user, ()) if needle in text), None)


class TimedMaxFake(MaxFake):
    """The project's MAX fake; each accepted ``POST /messages`` is stamped into ``inbox``."""

    def __post_init__(self) -> None:
        self.inbox = Inbox()
        self.limit_rps: float | None = None
        self.throttled = 0
        self._window: list[float] = []
        super().__post_init__()
        self.keep_requests = True
        # Keep the messages sent even without the requests, so GET /messages reads a dialog
        # back as MAX does (an outbox re-send's check); memory grows with the messages sent.
        self.keep_sent = False

    async def _send(self, request: web.Request) -> web.Response:
        if self.limit_rps is not None and self._over_limit():
            self.throttled += 1
            return web.json_response({"code": "too.many.requests", "message": "slow down"},
                                     status=429)
        response = await super()._send(request)
        if response.status == 200:
            sent = self.sent[-1]  # the fake's dialog chat id is 1e9 + user id
            user = sent.user_id if sent.user_id is not None else sent.chat_id - 1_000_000_000
            self.inbox.arrived(user, sent.body.get("text") or "")
            if not self.keep_requests and not self.keep_sent:
                self.sent.clear()
        if not self.keep_requests:
            self.requests.clear()
        return response

    def _over_limit(self) -> bool:
        """Real MAX's 30 requests/s: a sliding one-second window of accepted sends."""
        now = time.monotonic()
        self._window = [t for t in self._window if now - t < 1.0]
        assert self.limit_rps is not None
        if len(self._window) >= self.limit_rps:
            return True
        self._window.append(now)
        return False


class TimedVkFake(FakeVk):
    """The project's VK fake; each new ``messages.send`` is stamped into ``inbox``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inbox = Inbox()

    def delivered(self, message: SentMessage) -> None:
        self.inbox.arrived(message.peer_id, message.message)


async def start_max_fake() -> tuple[TimedMaxFake, web.AppRunner]:
    fake = TimedMaxFake()
    runner = web.AppRunner(fake.app, shutdown_timeout=0.5, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    return fake, runner


# ---------------------------------------------------------------------- the bot under test


@dataclass
class BotProcess:
    proc: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_path: Path
    redis_pids: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tree(self) -> list[psutil.Process]:
        try:
            parent = psutil.Process(self.proc.pid)
            return [parent, *parent.children(recursive=True)]
        except psutil.Error:
            return []

    def cpu_seconds(self) -> float:
        """CPU of the bot process alone (its Redis child is reported apart)."""
        try:
            t = psutil.Process(self.proc.pid).cpu_times()
        except psutil.Error:
            return 0.0
        return float(t.user + t.system)

    def redis_cpu_seconds(self) -> float:
        """CPU of the bot's Redis: its child processes, plus ``redis_pids`` started apart."""
        total = 0.0
        for proc in self.tree()[1:] + [psutil.Process(p) for p in self.redis_pids
                                         if psutil.pid_exists(p)]:
            with contextlib.suppress(psutil.Error):
                t = proc.cpu_times()
                total += t.user + t.system
        return total

    def rss_mb(self) -> float:
        try:
            return float(psutil.Process(self.proc.pid).memory_info().rss) / 2**20
        except psutil.Error:
            return 0.0

    def kill9(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def svyaz_env(*, data_dir: Path, port: int, max_url: str | None = None,
              vk_url: str | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    # The caller's own settings stay out, but for the event loop: ``SVYAZ_EVENT_LOOP=asyncio``
    # in front of any bench script runs svyaz on asyncio's loop instead of uvloop.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SVYAZ_") or k == "SVYAZ_EVENT_LOOP"}
    env.update({
        "SVYAZ_DATA_DIR": str(data_dir), "SVYAZ_PORT": str(port), "SVYAZ_HOST": "127.0.0.1",
        "SVYAZ_FLOWS": str(ROOT / "flows_examples"),
        "SVYAZ_PUBLIC_URL": f"http://127.0.0.1:{port}",
    })
    if max_url:
        env.update({"SVYAZ_MAX_TOKEN": "TESTTOKEN", "SVYAZ_MAX_MODE": "webhook",
                    "SVYAZ_MAX_WEBHOOK_SECRET": MAX_SECRET, "SVYAZ_MAX_API_URL": max_url})
    if vk_url:
        env.update({"SVYAZ_VK_TOKEN": "vk-test-token", "SVYAZ_VK_GROUP_ID": "123456",
                    "SVYAZ_VK_MODE": "callback", "SVYAZ_VK_SECRET": VK_SECRET,
                    "SVYAZ_VK_CONFIRMATION": VK_CONFIRMATION, "SVYAZ_VK_API_URL": vk_url})
    env.update(extra or {})
    return env


async def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0,
                       path: str = "/healthz") -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"bot exited with {proc.returncode} during start-up")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(url + path) as resp:
                    if resp.status < 500:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError("bot did not become healthy in time")


async def start_bot(argv: list[str], env: dict[str, str], *, data_dir: Path, port: int,
                    core: int | None, health_path: str = "/healthz",
                    cwd: Path = ROOT) -> BotProcess:
    """Start ``argv`` pinned to ``core`` (children such as the embedded Redis inherit it)."""
    log_path = data_dir / "bot.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    out = log_path.open("ab")

    def preexec() -> None:
        os.setsid()
        if core is not None:
            os.sched_setaffinity(0, {core})

    proc = subprocess.Popen(argv, env=env, cwd=str(cwd), stdout=out, stderr=out,
                            preexec_fn=preexec)
    out.close()
    bot = BotProcess(proc, port, data_dir, log_path)
    try:
        await wait_healthy(bot.url, proc, path=health_path)
    except RuntimeError:
        bot.stop(5)
        raise RuntimeError(f"{argv[-1]} did not start; log tail:\n{tail(log_path)}") from None
    return bot


def svyaz_argv(*, unlimited: bool = False) -> list[str]:
    """``svyaz run``; ``unlimited`` lifts the platform rate limiters (see bench/launch.py)."""
    if unlimited:
        return [PYTHON, "-m", "bench.launch", "--no-rate-limit", "run"]
    return [PYTHON, "-m", "bench.launch", "run"]


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextlib.contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=prefix, dir="/tmp") as d:
        yield Path(d)


def log_count(path: Path, needle: str) -> int:
    try:
        return path.read_text(errors="replace").count(needle)
    except OSError:
        return 0

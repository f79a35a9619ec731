"""What every reliability drill shares: a bot under load with platform-like retries, and a tally.

A drill starts ``svyaz run`` (MAX webhook or VK callback mode, against the project's fakes),
plays customers through the booking dialogue the way the platform delivers updates — an update
that is not answered 200 (connection refused while the bot is down, 503 while Redis is down) is
re-delivered with the same id until accepted — and counts per customer message whether its
reply arrived (delivered), never arrived (lost) or arrived more than once (doubled, as the
customer sees it: VK drops a repeated ``random_id``, MAX shows every copy).
The drill itself (kill -9, Redis restart, error storm) runs beside ``Load.run``.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Literal

import aiohttp

from bench.common import (
    MAX_SECRET,
    VK_SECRET,
    BotProcess,
    Inbox,
    emit,
    free_port,
    percentile,
    start_bot,
    start_max_fake,
    svyaz_argv,
    svyaz_env,
)
from bench.common import TimedMaxFake as TimedMaxFake
from bench.common import TimedVkFake as TimedVkFake
from bench.load import DIALOGUE
from tests.fakes import max_wire
from tests.fakes.vk_wire import message_new

Channel = Literal["max", "vk"]
REDELIVER_EVERY = 0.3
REPLY_WAIT = 45.0


@dataclass
class Tally:
    sent: int = 0
    delivered: int = 0
    lost: int = 0
    late: int = 0
    redeliveries: int = 0
    waiting: list[tuple[int, str]] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    expected: list[tuple[int, str]] = field(default_factory=list)
    posted: dict[tuple[int, str], float] = field(default_factory=dict)  # first attempt

    def doubled(self, inbox: Inbox) -> int:
        return sum(inbox.count_of(user, needle) > 1 for user, needle in self.expected)

    def waits(self, inbox: Inbox) -> list[float]:
        """Seconds from a message's first delivery attempt to its reply, per delivered one."""
        return [arrived - self.posted[(user, needle)] for user, needle in self.expected
                if (arrived := inbox.first_arrival(user, needle)) is not None]

    def report(self, inbox: Inbox) -> None:
        emit("sent", self.sent)
        emit("delivered", self.delivered)
        emit("delivered_late", self.late)
        emit("lost", self.lost)
        emit("doubled", self.doubled(inbox))
        emit("redeliveries", self.redeliveries)
        if waits := self.waits(inbox):  # what the customer waited, redeliveries included
            emit("reply_wait_p50_s", percentile(waits, 50))
            emit("reply_wait_p99_s", percentile(waits, 99))
            emit("reply_wait_max_s", max(waits))
        for status, count in sorted(self.statuses.items()):
            emit(f"http_{status}", count)


class Load:
    """Customers playing the dialogue against ``url()`` (which may change across restarts)."""

    def __init__(self, channel: Channel, inbox: Inbox, base_user: int) -> None:
        self.channel = channel
        self.inbox = inbox
        self.tally = Tally()
        self.url = ""
        self._users = iter(range(base_user, base_user + 10_000_000))

    def update(self, user: int, text: str) -> tuple[str, dict[str, str], bytes]:
        if self.channel == "max":
            body = json.dumps(max_wire.message_created(user, text), ensure_ascii=False)
            headers = {"X-Max-Bot-Api-Secret": MAX_SECRET, "Content-Type": "application/json"}
            return "/max/webhook", headers, body.encode()
        envelope = {**message_new(123456, user, text), "secret": VK_SECRET}
        return "/vk/callback", {"Content-Type": "application/json"}, json.dumps(
            envelope, ensure_ascii=False).encode()

    async def deliver(self, session: aiohttp.ClientSession, user: int, text: str,
                      deadline: float) -> bool:
        """Re-deliver the same update until the bot accepts it (as MAX and VK do)."""
        path, headers, body = self.update(user, text)
        first = True
        while time.monotonic() < deadline:
            if not first:
                self.tally.redeliveries += 1
                await asyncio.sleep(REDELIVER_EVERY)
            first = False
            try:
                async with session.post(self.url + path, data=body, headers=headers,
                                        timeout=aiohttp.ClientTimeout(total=10)) as resp:
                    text_ = await resp.text()
                    self.tally.statuses[resp.status] = self.tally.statuses.get(resp.status, 0) + 1
                    if resp.status == 200 and (self.channel == "max" or text_ == "ok"):
                        return True
            except (aiohttp.ClientError, TimeoutError, OSError):
                self.tally.statuses[0] = self.tally.statuses.get(0, 0) + 1
        return False

    async def customer(self, session: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        user = next(self._users)
        for text, needle in DIALOGUE:
            if stop.is_set():
                return
            text = text.format(phone=f"+7916{user % 10_000_000:07d}")
            reply = self.inbox.expect(user, needle)
            deadline = time.monotonic() + REPLY_WAIT
            self.tally.posted[(user, needle)] = time.perf_counter()
            if not await self.deliver(session, user, text, deadline):
                return  # never accepted: the platform gave up; not a svyaz message
            self.tally.sent += 1
            self.tally.expected.append((user, needle))
            try:
                await asyncio.wait_for(reply, max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                self.tally.waiting.append((user, needle))  # may still come: see finish()
                return
            self.tally.delivered += 1

    async def run(self, seconds: float, concurrency: int) -> None:
        stop = asyncio.Event()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            async def worker() -> None:
                while not stop.is_set():
                    await self.customer(session, stop)

            workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
            await asyncio.sleep(seconds)
            stop.set()  # customers finish the message in flight (and wait for its reply)
            await asyncio.gather(*workers)

    async def finish(self, grace: float) -> None:
        """Give replies that missed their wait ``grace`` more seconds (an outbox re-send
        comes after its lease); whatever is still missing then is lost."""
        deadline = time.monotonic() + grace
        while self.tally.waiting and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            still = [(u, n) for u, n in self.tally.waiting if not self.inbox.count_of(u, n)]
            self.tally.late += len(self.tally.waiting) - len(still)
            self.tally.waiting = still
        self.tally.delivered += self.tally.late
        self.tally.lost = len(self.tally.waiting)


async def start_fake(channel: Channel) -> tuple[TimedMaxFake | TimedVkFake, object]:
    if channel == "max":
        fake, runner = await start_max_fake()
        return fake, runner
    vk = await TimedVkFake().start()
    return vk, vk


async def stop_fake(handle: object) -> None:
    if isinstance(handle, TimedVkFake):
        await handle.close()
    else:
        await handle.cleanup()  # type: ignore[attr-defined]


def fake_url(fake: TimedMaxFake | TimedVkFake) -> str:
    return fake.api_url if isinstance(fake, TimedVkFake) else fake.url


async def launch(channel: Channel, fake: TimedMaxFake | TimedVkFake, data_dir: object, *,
                 port: int | None = None, unlimited: bool = False,
                 extra: dict[str, str] | None = None) -> BotProcess:
    from pathlib import Path

    work = Path(str(data_dir))
    port = port or free_port()
    urls = {"max_url": fake_url(fake)} if channel == "max" else {"vk_url": fake_url(fake)}
    env = svyaz_env(data_dir=work, port=port, extra=extra, **urls)
    return await start_bot(svyaz_argv(unlimited=unlimited), env, data_dir=work, port=port,
                           core=None)

"""Drill: forged secrets, forged web chat tokens, replayed/guessed link tokens, 1,000 tries
against a 6-digit link code — all refused; the attacks on linking (issue 13): an attacker's
link opened by victims with a history (each asked, none merged unasked) and a stranger typing a
customer's phone again and again (codes limited per number, the answer the same as for an
unknown number); password guessing at the operator desk's login (1,000 at the default
scale); then a slow-connection attack. Counts printed as ``name: value``.

Runs tests/drills/test_security.py, then ``link_attacks`` and ``phone_match_attacks``
(tests/drills/test_security_links.py), each against a fresh ``svyaz run`` with
``SVYAZ_DRILL_SCALE`` (default 10: 500 forged MAX and VK webhooks each, 1,000 code guesses from
1,000 accounts, 50 link victims).

``slow_connections``: a fresh ``svyaz run`` (default timeouts) limited to 256 open files gets
39 x scale slowloris, trickled-body and idle connections, then a real MAX webhook; it prints
how many were held, when the webhook was answered and how long svyaz held the slow ones.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from bench.common import (  # noqa: E402
    MAX_SECRET,
    PYTHON,
    ROOT,
    emit,
    free_port,
    median,
    start_max_fake,
    svyaz_env,
    tail,
    temp_dir,
    wait_healthy,
)
from bench.drills.pytest_drill import run_drill  # noqa: E402
from tests.fakes import max_wire  # noqa: E402

OPEN_FILES = 256  # the bot's open-file limit in the slow-connection drill
KINDS = ("headers", "body", "idle")


@dataclass
class Crowd:
    """Connections that hold a server without ever finishing a request: ``headers`` sends a
    request's headers a byte at a time (slowloris), ``body`` a body a byte at a time, ``idle``
    nothing. Each ends when the server drops it; ``dropped`` is how long each was held."""

    port: int
    secret: str
    opened: list[float] = field(default_factory=list)
    dropped: list[float] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self, kind: str, count: int) -> None:
        self.tasks += [asyncio.create_task(self._one(kind)) for _ in range(count)]

    async def _one(self, kind: str) -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return
        opened = time.monotonic()
        self.opened.append(opened)
        head = f"POST /max/webhook HTTP/1.1\r\nHost: x\r\nX-Max-Bot-Api-Secret: {self.secret}\r\n"
        if kind == "body":
            head += "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
        drip = b"X-Pad: 1\r\n" if kind == "headers" else b"{"
        try:
            writer.write(head.encode() if kind != "idle" else b"")
            while not reader.at_eof():
                if kind != "idle":
                    writer.write(drip[:1])
                    drip = drip[1:] or (b"X-Pad: 1\r\n" if kind == "headers" else b"{")
                try:
                    await asyncio.wait_for(reader.read(65536), 0.3)
                except TimeoutError:
                    continue
        except OSError:
            pass
        finally:
            self.dropped.append(time.monotonic() - opened)
            writer.close()


async def answered(url: str, secret: str, update: dict[str, object], within: float = 40) -> float:
    """Seconds until the webhook is answered 200 (tried again while the server cannot take
    it); AssertionError after ``within`` s."""
    started = time.monotonic()
    body = json.dumps(update).encode()
    headers = {"Content-Type": "application/json", "X-Max-Bot-Api-Secret": secret}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        while time.monotonic() - started < within:
            try:
                async with http.post(url, data=body, headers=headers) as resp:
                    if resp.status == 200:
                        return time.monotonic() - started
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the webhook was never answered while the crowd held the server")


def _limit_files() -> None:  # runs in the bot's process before svyaz starts
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))


async def slow_connections(scale: int) -> int:
    """The slow-connection attack against a fresh ``svyaz run``; 0 when the webhook was
    answered and every slow connection dropped."""
    fake, runner = await start_max_fake()
    with temp_dir("svyaz-slow-") as data:
        port = free_port()
        log_path = data / "run.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen([PYTHON, "-m", "bots.cli", "run"], cwd=ROOT, stdout=log,
                                    stderr=subprocess.STDOUT, preexec_fn=_limit_files,
                                    env=svyaz_env(data_dir=data / "d", port=port,
                                                  max_url=fake.url))
        try:
            await wait_healthy(f"http://127.0.0.1:{port}", proc)
            return await _attack(port, scale)
        except AssertionError as exc:
            print(f"{exc}\n{tail(log_path)}", file=sys.stderr)
            return 1
        finally:
            proc.terminate()
            proc.wait(30)
            await runner.cleanup()


async def _attack(port: int, scale: int) -> int:
    crowd = Crowd(port, MAX_SECRET)
    for kind in KINDS:
        crowd.start(kind, 13 * scale)
    while len(crowd.opened) < min(OPEN_FILES, 39 * scale):
        await asyncio.sleep(0.05)
    update = max_wire.message_created(5551001, "Привет")
    took = await answered(f"http://127.0.0.1:{port}/max/webhook", MAX_SECRET, update)
    held = len(crowd.opened)
    await asyncio.wait_for(asyncio.gather(*crowd.tasks), 120)
    emit("slow_connections_held", held)
    emit("slow_webhook_answered_s", round(took, 2))
    emit("slow_dropped", f"{len(crowd.dropped)}/{held}")
    emit("slow_dropped_median_s", round(median(crowd.dropped), 2))
    emit("slow_dropped_max_s", round(max(crowd.dropped), 2))
    return 0 if len(crowd.dropped) == held else 1

LINKS = "tests/drills/test_security_links.py"


def link_attacks(scale: int) -> int:
    """An attacker's link opened by victims who have a history: prints
    ``link_victims_asked``, ``link_merged_unasked``, ``link_confirmed_established_side_stays``."""
    return run_drill(f"{LINKS}::test_victims_opening_an_attackers_link_are_asked", scale)


def phone_match_attacks(scale: int) -> int:
    """Strangers typing a customer's phone: prints ``phone_match_tries``,
    ``phone_match_codes_sent`` and ``phone_match_answer_same_as_unknown``."""
    return run_drill(f"{LINKS}::test_phone_match_is_silent_and_rate_limited", scale)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--only", choices=["tests", "slow"], help="run one part of the drill")
    args = parser.parse_args()
    failed = 0
    if args.only != "slow":
        failed |= run_drill("tests/drills/test_security.py", args.scale)
        failed |= link_attacks(args.scale)
        failed |= phone_match_attacks(args.scale)
        failed |= run_drill("tests/drills/test_security_desk.py", args.scale)  # 100 x scale
    if args.only != "tests":
        failed |= asyncio.run(slow_connections(args.scale))
    sys.exit(failed)


if __name__ == "__main__":
    main()

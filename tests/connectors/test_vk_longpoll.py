"""Bots Long Poll against the fake: updates in order, failed 1/2/3, back-off, recovery, stop."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from connectors.base import Unavailable
from connectors.vk import VkConnector
from connectors.vk.client import RetryPolicy
from connectors.vk.longpoll import Decision, PollError, decide
from flows.types import ButtonEvent, Inbound, StartEvent, TextEvent
from tests.fakes import vk as vk_fakes
from tests.fakes.vk import GROUP_ID, TOKEN, FakeVk

fake_vk = vk_fakes.fake_vk
fake_vk_factory = vk_fakes.fake_vk_factory


@dataclass
class Sink:
    got: list[Inbound] = field(default_factory=list)
    down: bool = False

    async def __call__(self, inbound: Inbound) -> None:
        if self.down:
            raise Unavailable("redis is down")
        if all(i.event_id != inbound.event_id for i in self.got):
            self.got.append(inbound)

    def texts(self) -> list[str]:
        return [i.event.text for i in self.got if isinstance(i.event, TextEvent)]


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@dataclass
class Poller:
    vk: VkConnector
    sink: Sink


@pytest.fixture
async def poller(fake_vk: FakeVk) -> AsyncIterator[Poller]:
    sink = Sink()
    vk = VkConnector(
        token=TOKEN,
        group_id=GROUP_ID,
        api_url=fake_vk.api_url,
        mode="longpoll",
        sink=sink,
        poll_wait=2,
        poll_backoff=0.05,
        retry=RetryPolicy(attempts=2, base=0.01, cap=0.02),
    )
    await vk.start()
    await until(lambda: bool(fake_vk.lp.requests))
    yield Poller(vk, sink)
    await vk.stop()


def test_decide_reads_vk_answers() -> None:
    assert decide({"ts": "5", "updates": [{"a": 1}]}) == Decision("events", "5", ({"a": 1},))
    assert decide({"failed": 1, "ts": 9}) == Decision("new_ts", "9")
    assert decide({"failed": 2}) == Decision("new_key")
    assert decide({"failed": 3}) == Decision("new_server")
    assert decide({"failed": 4}) == Decision("new_server")
    assert decide({"failed": 1}) == Decision("new_server")  # no ts to continue with
    with pytest.raises(PollError):
        decide({"updates": []})


async def test_updates_arrive_in_order(poller: Poller, fake_vk: FakeVk) -> None:
    fake_vk.push_update(fake_vk.message_new(7, "раз", ref="link-abc"))
    fake_vk.push_update(fake_vk.message_new(7, "два"))
    fake_vk.push_update(fake_vk.message_event(7, '{"b":"yes"}'))
    fake_vk.push_update(fake_vk.message_new(8, "три 🙂"))
    await until(lambda: len(poller.sink.got) == 4)
    assert [i.event for i in poller.sink.got] == [
        StartEvent("link-abc"),
        TextEvent("два"),
        ButtonEvent("yes"),
        TextEvent("три 🙂"),
    ]
    assert poller.sink.got[2].callback_id == "8c1f2a7d0e"
    check = fake_vk.lp.requests[-1]
    assert (check["act"], check["wait"], check["key"]) == ("a_check", "2", fake_vk.lp.key)
    assert len(fake_vk.calls_of("groups.getLongPollServer")) == 1
    assert poller.vk.health() == {"ok": True, "mode": "longpoll", "detail": "long poll running"}


async def test_failed_1_continues_with_the_new_ts(poller: Poller, fake_vk: FakeVk) -> None:
    fake_vk.lp_fail(1)
    await until(lambda: not fake_vk.lp.failures)
    fake_vk.push_update(fake_vk.message_new(7, "после"))
    await until(lambda: poller.sink.texts() == ["после"])
    assert len(fake_vk.calls_of("groups.getLongPollServer")) == 1


async def test_failed_2_gets_a_new_key_and_keeps_ts(poller: Poller, fake_vk: FakeVk) -> None:
    old_key = fake_vk.lp.key
    fake_vk.expire_key()
    fake_vk.push_update(fake_vk.message_new(7, "не потеряно"))  # after our ts, before the key
    await until(lambda: poller.sink.texts() == ["не потеряно"])
    assert len(fake_vk.calls_of("groups.getLongPollServer")) == 2
    assert fake_vk.lp.requests[-1]["key"] != old_key


async def test_failed_3_gets_a_new_key_and_ts(poller: Poller, fake_vk: FakeVk) -> None:
    fake_vk.lp_fail(3)
    fake_vk.push_update(fake_vk.message_new(7, "потеряно"))  # VK says this was lost
    await until(lambda: len(fake_vk.calls_of("groups.getLongPollServer")) == 2)
    fake_vk.push_update(fake_vk.message_new(7, "новое"))
    await until(lambda: "новое" in poller.sink.texts())
    assert poller.sink.texts() == ["новое"]


async def test_unreachable_server_backs_off_logs_once_and_recovers(
    poller: Poller, fake_vk: FakeVk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="svyaz.connectors.vk")
    fake_vk.lp_outage(503)
    first = len(fake_vk.lp.requests)
    await until(lambda: len(fake_vk.lp.requests) >= first + 4)
    health = poller.vk.health()
    assert health["ok"] is False
    assert "503" in str(health["detail"])
    fake_vk.lp_outage(None)
    fake_vk.push_update(fake_vk.message_new(7, "снова"))
    await until(lambda: poller.sink.texts() == ["снова"])
    assert poller.vk.health()["ok"] is True
    messages = [r.getMessage() for r in caplog.records]
    assert sum("failing" in m for m in messages) == 1
    assert sum("recovered" in m for m in messages) == 1


async def test_backoff_grows_while_down(poller: Poller, fake_vk: FakeVk) -> None:
    """Each pause is at least the jitter floor (half) of a doubling 0.05 s: a lower bound a
    busy machine cannot break (a sleep never ends early), unlike a count in a time window."""
    fake_vk.lp_outage(502)
    first = len(fake_vk.lp.requests) - 1  # the check held when the outage began
    await until(lambda: len(fake_vk.lp.requests) >= first + 6)
    times = fake_vk.lp.arrived[first:first + 6]
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    for attempt, gap in enumerate(gaps):
        assert gap >= 0.05 * 2**attempt * 0.5 * 0.99, (attempt, gaps)


async def test_sink_down_keeps_ts_so_nothing_is_lost(poller: Poller, fake_vk: FakeVk) -> None:
    poller.sink.down = True
    fake_vk.push_update(fake_vk.message_new(7, "важное"))
    first = len(fake_vk.lp.requests)
    await until(lambda: len(fake_vk.lp.requests) >= first + 2)
    assert poller.vk.health()["ok"] is False
    poller.sink.down = False
    await until(lambda: poller.sink.texts() == ["важное"])


async def test_malformed_update_is_skipped(poller: Poller, fake_vk: FakeVk) -> None:
    fake_vk.push_update({"type": "message_new", "event_id": "bad", "object": {"message": {}}})
    fake_vk.push_update(fake_vk.message_new(7, "дальше"))
    await until(lambda: poller.sink.texts() == ["дальше"])


async def test_stop_is_prompt_while_a_check_is_held(fake_vk: FakeVk) -> None:
    vk = VkConnector(token=TOKEN, group_id=GROUP_ID, api_url=fake_vk.api_url, sink=Sink())
    await vk.start()
    await until(lambda: bool(fake_vk.lp.requests))
    assert fake_vk.lp.requests[-1]["wait"] == "25"
    started = time.monotonic()
    await vk.stop()
    assert time.monotonic() - started < 1.0
    assert vk.health()["ok"] is False


async def test_auth_error_stops_polling(fake_vk: FakeVk) -> None:
    vk = VkConnector(
        token="revoked",
        group_id=GROUP_ID,
        api_url=fake_vk.api_url,
        sink=Sink(),
        retry=RetryPolicy(attempts=2, base=0.01, cap=0.02),
    )
    await vk.start()
    await until(lambda: vk.health()["ok"] is False)
    await asyncio.sleep(0.2)
    await vk.stop()
    assert len(fake_vk.calls) == 1
    assert "token" in str(vk.health()["detail"])


async def test_a_sink_bug_stops_the_loop_visibly(fake_vk: FakeVk,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    async def broken(inbound: Inbound) -> None:
        raise RuntimeError("bug in the runtime")

    vk = VkConnector(token=TOKEN, group_id=str(GROUP_ID), api_url=fake_vk.api_url, sink=broken,
                     poll_wait=1)
    with caplog.at_level(logging.ERROR, logger="svyaz.connectors.vk"):
        await vk.start()
        await until(lambda: bool(fake_vk.lp.requests))
        fake_vk.push_update(fake_vk.message_new(7, "hi"))
        await until(lambda: vk.health()["ok"] is False)
        await vk.stop()  # does not raise the crash again
    assert vk.health()["detail"] == "long poll not running"
    assert any("unexpected error" in r.getMessage() for r in caplog.records)

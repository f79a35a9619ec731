"""connectors.vk sending against the fake VK API: the right call out, retries, limits, errors."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from connectors.base import ChannelAuthError, ChannelUnavailable, Undeliverable
from connectors.vk import VkConnector
from connectors.vk.client import RetryPolicy, VkUndeliverable, verdict
from connectors.vk.render import random_id
from flows.types import Button, Inbound, Reply, StartEvent
from tests.connectors.test_max_client import JitterNetwork
from tests.fakes import vk as vk_fakes
from tests.fakes.vk import GROUP_ID, TOKEN, FakeFactory, FakeVk
from tests.waiting import until

fake_vk = vk_fakes.fake_vk
fake_vk_factory = vk_fakes.fake_vk_factory

FAST = RetryPolicy(attempts=6, base=0.01, cap=0.05, flood_base=0.05, timeout=2.0)


async def nowhere(inbound: Inbound) -> None:
    raise AssertionError("no inbound expected")


def connector(fake: FakeVk, *, retry: RetryPolicy = FAST, token: str = TOKEN) -> VkConnector:
    return VkConnector(token=token, group_id=GROUP_ID, api_url=fake.api_url, sink=nowhere,
                       mode="callback", retry=retry)


async def test_a_reply_becomes_messages_send(fake_vk: FakeVk) -> None:
    vk = connector(fake_vk)
    reply = Reply("Какую услугу вы хотите? 💇",
                  (Button("cut", "Стрижка"), Button("dye", "Окраска")))
    await vk.send("5551001", reply, message_key="outbox-1")
    await vk.stop()
    [call] = fake_vk.calls_of("messages.send")
    assert call.params["v"] == "5.199"
    assert call.params["access_token"] == TOKEN
    [sent] = fake_vk.sent
    assert (sent.peer_id, sent.message) == (5551001, "Какую услугу вы хотите? 💇")
    assert sent.random_id == random_id("outbox-1", 0)
    assert sent.keyboard is not None
    labels = [b["action"]["label"] for row in sent.keyboard["buttons"] for b in row]
    assert labels == ["Стрижка", "Окраска"]


async def test_resending_the_same_outbox_key_is_not_shown_twice(fake_vk: FakeVk) -> None:
    vk = connector(fake_vk)
    reply = Reply("Напоминаем о записи завтра. " * 300)  # several parts
    await vk.send("7", reply, message_key="outbox-9")
    parts = len(fake_vk.sent)
    await vk.send("7", reply, message_key="outbox-9")  # a crash between send and ack
    await vk.stop()
    assert parts >= 2
    assert len(fake_vk.sent) == parts
    assert len(fake_vk.calls_of("messages.send")) == 2 * parts


@pytest.mark.parametrize(
    ("failure", "calls"),
    [
        ({"code": 6, "times": 3}, 4),
        ({"code": 9, "times": 2}, 3),
        ({"code": 10, "times": 2}, 3),
        ({"code": 1, "times": 1}, 2),
        ({"http_status": 500, "times": 2}, 3),
        ({"http_status": 502, "times": 1}, 2),
    ],
)
async def test_transient_errors_are_retried(fake_vk: FakeVk, failure: dict[str, int],
                                            calls: int) -> None:
    fake_vk.fail("messages.send", **failure)  # type: ignore[arg-type]
    vk = connector(fake_vk)
    await vk.send("7", Reply("Привет"), message_key="k")
    await vk.stop()
    assert [m.message for m in fake_vk.sent] == ["Привет"]
    assert len(fake_vk.calls_of("messages.send")) == calls


async def test_a_timed_out_send_is_retried_and_shown_once(fake_vk: FakeVk) -> None:
    fake_vk.fail("messages.send", delay=1.6, times=1)  # VK got it, the answer came too late
    # (a 0.8 s deadline: the retry must not time out too on a loaded machine)
    vk = connector(fake_vk, retry=RetryPolicy(attempts=3, base=0.01, cap=0.02, timeout=0.8))
    await vk.send("7", Reply("Привет"), message_key="k")
    # The slow first call finishes on the fake's side too (VK shows it, or drops the retry).
    await until(lambda: fake_vk.finished >= 2, what="both calls handled by the fake")
    await vk.stop()
    assert len(fake_vk.calls_of("messages.send")) == 2
    assert [m.message for m in fake_vk.sent] == ["Привет"]


async def test_persistent_failure_gives_channel_unavailable(fake_vk: FakeVk) -> None:
    fake_vk.fail("messages.send", code=10, times=None)
    vk = connector(fake_vk)
    with pytest.raises(ChannelUnavailable, match="error 10"):
        await vk.send("7", Reply("Привет"), message_key="k")
    await vk.stop()
    assert len(fake_vk.calls_of("messages.send")) == FAST.attempts
    assert fake_vk.sent == []


@pytest.mark.parametrize("code", [901, 900, 902, 18, 932])
async def test_user_who_blocked_the_bot_is_undeliverable_without_retry(fake_vk: FakeVk,
                                                                       code: int) -> None:
    fake_vk.block(5551001, code=code)
    vk = connector(fake_vk)
    with pytest.raises(Undeliverable) as info:
        await vk.send("5551001", Reply("Привет"), message_key="k")
    await vk.stop()
    assert isinstance(info.value, VkUndeliverable)
    assert info.value.code == code
    assert len(fake_vk.calls_of("messages.send")) == 1


async def test_a_bug_shaped_error_is_not_retried(fake_vk: FakeVk) -> None:
    fake_vk.fail("messages.send", code=100)
    vk = connector(fake_vk)
    with pytest.raises(Undeliverable, match="error 100"):
        await vk.send("7", Reply("Привет"), message_key="k")
    await vk.stop()
    assert len(fake_vk.calls_of("messages.send")) == 1


async def test_text_over_the_fakes_limit_is_split_not_refused(
    fake_vk_factory: FakeFactory,
) -> None:
    fake = await fake_vk_factory(max_text=4096)
    vk = connector(fake)
    await vk.send("7", Reply("Слово. " * 2000), message_key="k")
    await vk.stop()
    assert len(fake.sent) == 4
    assert all(len(m.message) <= 4096 for m in fake.sent)


async def test_auth_error_stops_the_channel(fake_vk: FakeVk,
                                           caplog: pytest.LogCaptureFixture) -> None:
    vk = connector(fake_vk, token="revoked-token")
    assert vk.health()["ok"] is True
    with caplog.at_level(logging.ERROR, logger="svyaz.connectors.vk"), \
            pytest.raises(ChannelAuthError):
        await vk.send("7", Reply("Привет"), message_key="k1")
    with pytest.raises(ChannelAuthError):
        await vk.send("7", Reply("Привет"), message_key="k2")
    await vk.stop()
    health = vk.health()
    assert health["ok"] is False
    assert "token" in str(health["detail"])
    assert len(fake_vk.calls) == 1  # the stopped channel calls VK no more
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "revoked-token" not in caplog.text


async def test_storm_of_error_6_everything_delivered_within_20_per_second(
    fake_vk: FakeVk,
) -> None:
    fake_vk.fail("messages.send", code=6, ratio=0.3)
    vk = connector(fake_vk, retry=RetryPolicy(attempts=12, base=0.02, cap=0.2))
    users = [str(5000 + n) for n in range(10)]

    async def customer(user: str) -> None:
        for n in range(5):
            await vk.send(user, Reply(f"Сообщение {n} для {user}"), message_key=f"{user}-{n}")

    await asyncio.gather(*(customer(u) for u in users))
    await vk.stop()
    assert len(fake_vk.sent) == 50
    assert {(m.peer_id, m.message) for m in fake_vk.sent} == {
        (int(u), f"Сообщение {n} для {u}") for u in users for n in range(5)}
    assert len(fake_vk.calls) > 55  # the storm did hit
    assert fake_vk.max_rate(1.0) <= 20
    for user in users:  # one customer's messages arrive in order
        texts = [m.message for m in fake_vk.sent if m.peer_id == int(user)]
        assert texts == [f"Сообщение {n} для {user}" for n in range(5)]


@pytest.mark.slow
async def test_jittery_network_and_errors_never_show_vk_more_than_20_a_second(
    fake_vk: FakeVk,
) -> None:
    """0-150 ms of random network delay each way, 30% of calls answered error 6 or HTTP 500,
    80 sends at once: all delivered, and no second at the fake ever sees more than 20."""
    fake_vk.fail("messages.send", code=6, ratio=0.15)
    fake_vk.fail("messages.send", http_status=500, ratio=0.18)
    async with JitterNetwork(fake_vk.url, jitter=0.15) as url:
        vk = VkConnector(token=TOKEN, group_id=GROUP_ID, api_url=f"{url}/method", sink=nowhere,
                         mode="callback", retry=RetryPolicy(attempts=12, base=0.02, cap=0.2))
        await asyncio.gather(*(
            vk.send(str(5000 + n), Reply(f"Напоминание {n}"), message_key=f"k{n}")
            for n in range(80)))
        await vk.stop()
    assert sorted(m.peer_id for m in fake_vk.sent) == list(range(5000, 5080))
    assert len(fake_vk.calls) > 95  # the errors did hit and every retry is counted
    assert fake_vk.max_rate(1.0) <= 20


async def test_a_live_reply_overtakes_queued_reminders(fake_vk: FakeVk) -> None:
    vk = connector(fake_vk)
    done: dict[str, float] = {}

    async def send(user: str, bulk: bool) -> None:
        await vk.send(user, Reply("Текст"), message_key=f"k{user}",
                      priority="bulk" if bulk else "live")
        done[user] = time.monotonic()

    reminders = [asyncio.create_task(send(str(100 + n), bulk=True)) for n in range(30)]
    await until(lambda: len(done) >= 20)  # 20 went out, 10 reminders wait for the next second
    await send("7", bulk=False)
    await asyncio.gather(*reminders)
    await vk.stop()
    assert done["7"] < min(done[str(100 + n)] for n in range(20, 30))
    assert fake_vk.max_rate(1.0) <= 20


async def test_answer_callback_stops_the_spinner(fake_vk: FakeVk) -> None:
    vk = connector(fake_vk)
    inbound = Inbound(channel="vk", user_id="5551001", event_id="d4e5f6",
                      event=StartEvent(), callback_id="8c1f2a7d0e")
    await vk.answer_callback(inbound)
    await vk.answer_callback(Inbound(channel="vk", user_id="1", event_id="x", event=StartEvent()))
    await vk.stop()
    [answer] = fake_vk.answers
    assert (answer["event_id"], answer["user_id"], answer["peer_id"]) == (
        "8c1f2a7d0e", "5551001", "5551001")


async def test_failed_callback_answer_is_logged_not_raised(fake_vk: FakeVk) -> None:
    fake_vk.fail("messages.sendMessageEventAnswer", code=10, times=None)
    vk = connector(fake_vk, retry=RetryPolicy(attempts=2, base=0.01, cap=0.01))
    inbound = Inbound(channel="vk", user_id="1", event_id="e", event=StartEvent(),
                      callback_id="cb")
    await vk.answer_callback(inbound)
    await vk.stop()
    assert fake_vk.answers == []


def test_verdicts_and_flood_back_off_is_slower() -> None:
    assert [verdict(c) for c in (1, 6, 9, 10, 5, 901, 100)] == [
        "retry", "retry", "flood", "retry", "auth", "undeliverable", "refused"]
    policy = RetryPolicy()
    assert min(policy.delay(0, flood=True) for _ in range(50)) > max(
        policy.delay(0, flood=False) for _ in range(50))

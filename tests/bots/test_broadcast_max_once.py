"""A broadcast's MAX copy exactly once through a kill -9 at each point between claiming the
copy and recording it (issue 18): the real MAX connector against the MAX fake, real Redis.

A kill is a ``Crash`` raised at the point named (nothing of the dying process runs after it);
the restarted process is a fresh ``Store``/connector/``Delivery``/``Sender`` on the same Redis,
whose outbox sweep re-sends what the dead one left and whose sender goes on with the queue.
MAX has no idempotency key: what keeps a copy single after a kill between MAX's acceptance and
the acknowledgement is the re-send reading the dialog back, which needs the dialog's chat.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from crashes import Crash, crashing

from bots.broadcast_send import Sender
from bots.broadcasts import Broadcaster
from bots.delivery import Delivery
from bots.metrics import Metrics
from connectors.maxbot import MaxConnector
from connectors.maxbot.client import RetryPolicy
from flows.broadcast import BroadcastSpec
from flows.segments import Segment
from storage.store import Store
from tests.fakes import max_wire as w
from tests.fakes.max import MaxFake, max_fake_fixture  # noqa: F401 - provides max_fake

SEGMENTS: Mapping[str, Segment] = {"all": Segment()}
NOTICE = BroadcastSpec(title="31-го", kind="service", segment="all",
                       text="31 декабря мы закрыты.")
USER = 5551001


@dataclass
class Process:
    store: Store
    connector: MaxConnector
    delivery: Delivery
    sender: Sender


@asynccontextmanager
async def _process(redis_url: str, bot_prefix: str, max_fake: MaxFake,
                   timeout: float = 0.5) -> AsyncIterator[Process]:
    """A process on the same Redis; ``timeout``, the MAX client's, is also how long a re-send
    waits for a post of a killed process to land (``bots.posting``)."""
    store = Store.from_url(redis_url, bot=bot_prefix)
    connector = MaxConnector(token=max_fake.token, api_url=max_fake.url, mode="webhook",
                             webhook_secret="s3cret_Value-42", sink=None,  # type: ignore[arg-type]
                             retry=RetryPolicy(2, 0.01, 0.02), timeout=timeout)
    delivery = Delivery(store=store, connectors={"max": connector}, metrics=Metrics())
    sender = Sender(store=store, delivery=delivery, inject=_no_flows,
                    segments=lambda: SEGMENTS, timezone="Europe/Moscow")
    try:
        yield Process(store, connector, delivery, sender)
    finally:
        await connector.stop()
        await store.close()


async def _no_flows(*_: Any, **__: Any) -> bool:
    raise AssertionError("a text broadcast starts no flow")


async def _started(store: Store, *, routed: bool) -> str:
    """A MAX customer as intake leaves one (``routed``: with the dialog's chat kept, as a
    reply to their message keeps it), and the notice queued for them."""
    customer = await store.identities.resolve(f"max:{USER}")
    if routed:
        await store.identities.set_route(customer, f"max:{USER}",
                                         f"dialog:{w.chat_of(USER)}:{USER}")
    owner = Broadcaster(store=store, segments=lambda: SEGMENTS)
    await owner.create(NOTICE.model_copy(update={"quiet": "00:00-00:00"}), "n1")
    assert await owner.start("n1") == 1
    return customer


def _copies(max_fake: MaxFake) -> int:
    return sum(s.body.get("text") == NOTICE.text for s in max_fake.sent)


async def _killed_then_restarted(
    redis_url: str, bot_prefix: str, max_fake: MaxFake, *, routed: bool,
    kill: Callable[[Process], None],
) -> None:
    async with _process(redis_url, bot_prefix, max_fake) as dying:
        await _started(dying.store, routed=routed)
        kill(dying)
        with pytest.raises(Crash):
            await dying.sender.drain("n1")
    async with _process(redis_url, bot_prefix, max_fake) as restarted:
        await restarted.delivery.resend_stale(min_idle_ms=0)  # the sweep (or inherit)
        await restarted.sender.drain("n1")
        assert await restarted.store.outbox.pending() == []
        outcomes = await restarted.store.broadcasts.numbers.outcomes("n1")
        assert list(outcomes.values()) == ["sent max"]


KILLS: dict[str, Callable[[Process], None]] = {
    # the copy is claimed with its outbox entry; nothing was posted
    "after the claim, before the post": lambda p: crashing(p.connector.client, "send"),
    # MAX accepted the copy; its answer never got recorded
    "after MAX accepted, before the ack": lambda p: crashing(p.connector.client, "send",
                                                              after=True),
    # MAX's answer is in; the ack (with the history entry) is the next round trip
    "before the ack's round trip": lambda p: crashing(p.store, "delivered"),
    # acknowledged; the broadcast's outcome not yet written
    "after the ack, before the outcome": lambda p: crashing(p.store.broadcasts, "finish"),
}


@pytest.mark.parametrize("point", list(KILLS))
async def test_one_max_copy_through_a_kill(
    redis_url: str, bot_prefix: str, max_fake: MaxFake, point: str
) -> None:
    await _killed_then_restarted(redis_url, bot_prefix, max_fake, routed=True,
                                 kill=KILLS[point])
    assert _copies(max_fake) == 1


# Between MAX's acceptance and the acknowledgement nothing of the dying process survives.
UNREAD = ("after MAX accepted, before the ack", "before the ack's round trip")


@pytest.mark.parametrize("point", [p for p in KILLS if p not in UNREAD])
async def test_one_max_copy_through_a_kill_with_no_dialog_kept(
    redis_url: str, bot_prefix: str, max_fake: MaxFake, point: str
) -> None:
    """The account names a bare user id (no route kept: an account from before routes were
    kept): a kill outside MAX's acceptance window costs nothing either."""
    await _killed_then_restarted(redis_url, bot_prefix, max_fake, routed=False,
                                 kill=KILLS[point])
    assert _copies(max_fake) == 1


@pytest.mark.parametrize("point", UNREAD)
async def test_a_bare_user_id_learns_its_dialog_from_the_first_copy(
    redis_url: str, bot_prefix: str, max_fake: MaxFake, point: str
) -> None:
    """MAX names the dialog in its answer to a message sent by user id; delivery keeps it as
    the account's route, so the next broadcast's copy is checked through a kill at the point
    where the first one could not be (no chat to read back: shown twice rather than lost)."""
    async with _process(redis_url, bot_prefix, max_fake) as first:
        customer = await _started(first.store, routed=False)
        assert await first.sender.drain("n1") == 1
        assert await first.store.identities.routes(customer) == {
            f"max:{USER}": f"dialog:{w.chat_of(USER)}:{USER}"}
        owner = Broadcaster(store=first.store, segments=lambda: SEGMENTS)
        await owner.create(NOTICE.model_copy(update={"quiet": "00:00-00:00"}), "n2")
        await owner.start("n2")
        KILLS[point](first)
        with pytest.raises(Crash):
            await first.sender.drain("n2")
    async with _process(redis_url, bot_prefix, max_fake) as restarted:
        assert await restarted.delivery.resend_stale(min_idle_ms=0) == 1  # settled, not sent
        await restarted.sender.drain("n2")
        assert await restarted.store.outbox.pending() == []
    assert _copies(max_fake) == 2  # one per broadcast


async def test_the_first_copy_by_a_bare_user_id_is_the_one_doubt(
    redis_url: str, bot_prefix: str, max_fake: MaxFake
) -> None:
    """What is left: MAX offers no way to find a dialog from a user id but its events and
    answers, so a kill between MAX's acceptance of the very first message to such an account
    and its acknowledgement ends in that message shown twice, never lost."""
    await _killed_then_restarted(redis_url, bot_prefix, max_fake, routed=False,
                                 kill=KILLS[UNREAD[0]])
    assert _copies(max_fake) == 2


async def test_a_post_still_on_its_way_at_the_kill_is_waited_for(
    redis_url: str, bot_prefix: str, max_fake: MaxFake
) -> None:
    """The dead process's post reached MAX, which stores it a moment later (MAX slow, within
    the client's timeout): the restarted process's re-send, at once, must not read the dialog
    back before that post could have landed."""
    max_fake.inject("/messages", None, method="POST", delay=1.0)  # stored after 1 s
    async with _process(redis_url, bot_prefix, max_fake, timeout=2.0) as dying:
        await _started(dying.store, routed=True)
        sending = asyncio.create_task(dying.sender.drain("n1"))
        while not any(r.method == "POST" for r in max_fake.requests):
            await asyncio.sleep(0.01)
        sending.cancel()  # kill -9: the request is out; nothing of this process goes on
        with contextlib.suppress(asyncio.CancelledError):
            await sending
    async with _process(redis_url, bot_prefix, max_fake, timeout=2.0) as restarted:
        assert await restarted.delivery.resend_stale(min_idle_ms=0) == 1
        await restarted.sender.drain("n1")
    while any(r.method == "POST" and not r.status for r in max_fake.requests):
        await asyncio.sleep(0.01)  # the dead process's post has landed
    assert _copies(max_fake) == 1

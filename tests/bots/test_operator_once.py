"""An operator's message exactly once through a kill -9 (issue 15: «a restart loses nothing,
nothing is shown twice»), at each point between its outbox entry and its acknowledgement: the
real MAX connector against the MAX fake, real Redis.

The desk's «Отправить» is ``Takeover.say``: a ``Send`` of why "operator" through
``bots.delivery``, the path of the bot's replies. A kill is a ``Crash`` raised at the point
named (nothing of the dying process runs after it); the restarted process is a fresh
``Store``/connector/``Delivery`` on the same Redis whose outbox sweep re-sends what the dead
one left. The customer's dialog chat is known (they wrote to the bot before the hand-off), so
a re-send after MAX's acceptance reads the dialog back instead of posting twice.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from crashes import Crash, crashing

from bots.delivery import Send
from bots.desk.takeover import operator_of
from flows.types import Reply
from storage.history import OPERATOR_NOTE
from tests.fakes import max_wire as w
from tests.fakes.max import MaxFake, max_fake_fixture  # noqa: F401 - provides max_fake
from tests.max_process import Process, max_process

USER = 5552001
SAID = "Ольга: Мастер ждёт вас в 15:00"  # how the MAX customer reads it, signed


KILLS: dict[str, Callable[[Process], None]] = {
    "after the outbox entry, before the post": lambda p: crashing(p.connector.client, "send"),
    "after MAX accepted, before the ack": lambda p: crashing(p.connector.client, "send",
                                                              after=True),
    "before the ack's round trip": lambda p: crashing(p.store, "delivered"),
}


def _operator_message(customer: str) -> Send:
    """What ``Takeover.say`` sends for Ольга."""
    return Send(customer, (Reply("Мастер ждёт вас в 15:00", operator="Ольга"),), "operator",
                note=f"{OPERATOR_NOTE}Ольга")


@pytest.mark.parametrize("point", list(KILLS))
async def test_an_operator_s_message_reaches_the_customer_once_through_a_kill(
    redis_url: str, bot_prefix: str, max_fake: MaxFake, point: str
) -> None:
    async with max_process(redis_url, bot_prefix, max_fake) as dying:
        customer = await dying.store.identities.resolve(f"max:{USER}")
        await dying.store.identities.set_route(customer, f"max:{USER}",
                                               f"dialog:{w.chat_of(USER)}:{USER}")
        KILLS[point](dying)
        with pytest.raises(Crash):
            await dying.delivery.deliver(_operator_message(customer))
        assert await dying.store.outbox.pending() != []  # the message waits for the sweep
    async with max_process(redis_url, bot_prefix, max_fake) as restarted:
        assert await restarted.delivery.resend_stale(min_idle_ms=0) == 1
        assert await restarted.store.outbox.pending() == []
        said = [e for e in await restarted.store.history.read(customer)
                if e.direction == "out"]
    assert [str(s.body.get("text")) for s in max_fake.sent] == [SAID]  # lost none, no double
    # recorded once, as Ольга's (the desk names the author from the note; a re-send kept
    # only «re-sent», and the desk showed the message as the bot's)
    assert [(e.channel, e.text, operator_of(e.note)) for e in said] == [
        ("max", "Мастер ждёт вас в 15:00", "Ольга")]

"""The desk with a MAX customer (through the MAX fake, real maxapi client, polling): the
hand-off shows in the desk's list; the operator takes it and answers from the desk; the text
reaches the customer's MAX chat; handed back, the bot answers the next message. An operator's
message to a customer whose latest channel fails goes to the next (failover)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from desk_client import HANDED, add_operator, desk_app, login, page_csrf, store_of

from bots.app import EDGE
from tests.fakes import max_wire as w
from tests.fakes.max import MaxFake, max_fake_fixture  # noqa: F401 - provides max_fake


async def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


def _texts(fake: MaxFake, user: int) -> list[str]:
    return [str(s.body.get("text", "")) for s in fake.sent if s.user_id == user
            or s.chat_id == w.chat_of(user)]


async def test_a_max_customer_is_answered_from_the_desk(
    redis_url: str, bot_prefix: str, tmp_path: Path, max_fake: MaxFake,
) -> None:
    async with desk_app(redis_url, bot_prefix, tmp_path, max_token=max_fake.token,
                        max_mode="polling", max_api_url=max_fake.url) as (app, client):
        await add_operator(app, "Ольга")
        max_fake.enqueue(w.bot_started(77), w.message_created(77, "Позвать администратора"))
        await _until(lambda: any(t.startswith(HANDED) for t in _texts(max_fake, 77)),
                     "the hand-off was never said")
        customer = await store_of(app).identities.customer_of("max:77")
        assert customer is not None
        await login(client, "Ольга")
        listed = await (await client.get("/desk/?state=waiting&channel=max")).text()
        assert f'data-customer="{customer}"' in listed
        token = await page_csrf(client, f"/desk/c/{customer}")
        await client.post(f"/desk/c/{customer}/claim", data={"csrf": token})
        await client.post(f"/desk/c/{customer}/say",
                          data={"csrf": token, "text": "Ольга на связи"})
        await _until(lambda: "Ольга: Ольга на связи" in _texts(max_fake, 77),  # signed
                     "no operator message")
        max_fake.enqueue(w.message_created(77, "спасибо"))  # the bot stays quiet
        history = store_of(app).history
        deadline = time.monotonic() + 10
        while "спасибо" not in [e.text for e in await history.read(customer)]:
            assert time.monotonic() < deadline, "the customer's message was not recorded"
            await asyncio.sleep(0.02)
        quiet = len(_texts(max_fake, 77))
        await client.post(f"/desk/c/{customer}/release", data={"csrf": token, "flow": ""})
        max_fake.enqueue(w.message_created(77, "записаться"))
        await _until(lambda: "Какую услугу вы хотите?" in _texts(max_fake, 77),
                     "the bot did not answer after the hand-back")
        assert _texts(max_fake, 77)[quiet] == "Какую услугу вы хотите?"  # nothing between


async def test_an_operator_s_message_fails_over_to_max_when_the_web_chat_is_closed(
    redis_url: str, bot_prefix: str, tmp_path: Path, max_fake: MaxFake,
) -> None:
    """The customer wrote last from the web chat, then closed it: the operator's message goes
    to their MAX chat instead (through the outbox, as a bot reply would), signed."""
    async with desk_app(redis_url, bot_prefix, tmp_path, max_token=max_fake.token,
                        max_mode="polling", max_api_url=max_fake.url) as (app, client):
        await add_operator(app, "Ольга")
        max_fake.enqueue(w.bot_started(78), w.message_created(78, "привет"))
        store = store_of(app)
        await _until(lambda: bool(_texts(max_fake, 78)), "the bot never answered on MAX")
        customer = await store.identities.customer_of("max:78")
        assert customer is not None
        await store.identities.attach("web:gone", customer, time.time() + 60)  # the latest
        await login(client, "Ольга")
        token = await page_csrf(client, f"/desk/c/{customer}")
        await client.post(f"/desk/c/{customer}/claim", data={"csrf": token})
        resp = await client.post(f"/desk/c/{customer}/say", allow_redirects=False,
                                 data={"csrf": token, "text": "Вы закрыли чат на сайте"})
        assert resp.headers["Location"] == f"/desk/c/{customer}"  # delivered, somewhere
        await _until(lambda: "Ольга: Вы закрыли чат на сайте" in _texts(max_fake, 78),
                     "the operator's message did not fail over to MAX")
        said = [e for e in await store.history.read(customer) if e.note.startswith("operator")]
        assert [(e.channel, e.text) for e in said] == [("max", "Вы закрыли чат на сайте")]
        assert await store.outbox.pending() == []
        failovers = app[EDGE].metrics.delivery_failovers
        assert failovers.labels("web")._value.get() == 1  # tried first: the latest account

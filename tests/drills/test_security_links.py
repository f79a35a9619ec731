"""Security drill of linking (issue 13) against a running ``svyaz run``: the attacks on merging.

An attacker's link opened by victims who have a history (MAX ``start=link-T``): each victim is
asked, nothing is merged unasked. A stranger typing a customer's phone number again and again:
the answers read the same as for an unknown number, and the customer's chat gets at most
``PHONE_MATCH_MAX`` codes. Counts printed as ``name: value``.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime

import pytest
from drill_bot import MAX_SECRET, SvyazBot, http_status

from bots.linking import LINK_YES
from storage.keys import PHONE_MATCH_MAX
from storage.store import Store
from tests.bookable import bookable_day
from tests.fakes import max_wire

pytestmark = pytest.mark.slow
SCALE = int(os.environ.get("SVYAZ_DRILL_SCALE", "1"))  # bench/drills/security.py raises it
VICTIMS = 5 * SCALE
ASKED = "Объединить"


@pytest.fixture
async def store(svyaz_bot: SvyazBot) -> AsyncIterator[Store]:
    store = Store.from_url(svyaz_bot.redis_url)
    yield store
    await store.close()


async def eventually(check: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def say(bot: SvyazBot, user: int, text: str, expect: str) -> None:
    body = json.dumps(max_wire.message_created(user, text)).encode()
    status = await asyncio.to_thread(http_status, bot.url + "/max/webhook", body,
                                     {"X-Max-Bot-Api-Secret": MAX_SECRET})
    assert status == 200
    await eventually(lambda: bot.max_fake.inbox.count_of(user, expect))


async def push(bot: SvyazBot, update: object) -> None:
    status = await asyncio.to_thread(http_status, bot.url + "/max/webhook",
                                     json.dumps(update).encode(),
                                     {"X-Max-Bot-Api-Secret": MAX_SECRET})
    assert status == 200


async def test_victims_opening_an_attackers_link_are_asked(svyaz_bot: SvyazBot,
                                                          store: Store) -> None:
    attacker = await store.identities.resolve(f"web:att{secrets.token_hex(4)}")
    victims = list(range(94_000, 94_000 + VICTIMS))
    for user in victims:  # each with a history of their own
        await say(svyaz_bot, user, "записаться", "Какую услугу")
    before = {u: await store.identities.customer_of(f"max:{u}") for u in victims}
    for user in victims:
        token = await store.identities.issue_link_token(attacker)
        await push(svyaz_bot, max_wire.bot_started(user, f"link-{token}"))
    inbox = svyaz_bot.max_fake.inbox
    await eventually(lambda: all(inbox.count_of(u, ASKED) for u in victims))
    merged = [u for u in victims
              if await store.identities.customer_of(f"max:{u}") != before[u]]
    print(f"link_victims_asked: {len(victims)}/{len(victims)}; "
          f"link_merged_unasked: {len(merged)}")
    assert merged == []
    await push(svyaz_bot, max_wire.callback(victims[0], LINK_YES))  # one victim says yes
    await eventually(lambda: inbox.count_of(victims[0], "переписки объединены"))
    stays = await store.identities.customer_of(f"max:{victims[0]}")
    print(f"link_confirmed_established_side_stays: {stays == before[victims[0]]}")
    assert stays == before[victims[0]]


async def test_phone_match_is_silent_and_rate_limited(svyaz_bot: SvyazBot,
                                                      store: Store) -> None:
    phone = f"+7999{secrets.randbelow(10**7):07d}"
    victim = 95_000
    await say(svyaz_bot, victim, "записаться", "Какую услугу")
    customer = await store.identities.customer_of(f"max:{victim}")
    assert customer is not None
    await store.profiles.record_consent(customer, True, "1", datetime.now().astimezone(), "max")
    await store.profiles.set_field(customer, "phone", phone)
    day = bookable_day()
    answers: list[list[str]] = []
    attackers = list(range(95_001, 95_001 + PHONE_MATCH_MAX + 2))
    unknown = f"+7998{secrets.randbelow(10**7):07d}"
    for user in [*attackers, 95_100]:  # the last one types a number nobody has
        for text, expect in (("записаться", "Какую услугу"), ("Стрижка", "К какому мастеру"),
                             ("Анна", "На какой день"), (day, "Свободное время"),
                             ("10:00", "согласны"), ("да", "Как вас зовут"),
                             ("Оля", "телефона")):
            await say(svyaz_bot, user, text, expect)
        await say(svyaz_bot, user, phone if user != 95_100 else unknown, "Всё верно")
        answers.append([t for _, t in svyaz_bot.max_fake.inbox.replies[user]][-1:])
    # (for one number: each stranger's own typing moves the number's index to the stranger)
    codes = sum(svyaz_bot.max_fake.inbox.count_of(u, "напишите здесь код")
                for u in [victim, *attackers])
    same = all(a == answers[-1] for a in answers)
    print(f"phone_match_tries: {len(attackers)}; phone_match_codes_sent: {codes}; "
          f"phone_match_answer_same_as_unknown: {same}")
    assert codes == PHONE_MATCH_MAX
    assert same

"""Answering a hand-off from the owner's own MAX chat (through the MAX fake): the note
carries a short number; «N текст» reaches the customer as an operator's message; «/бот N»
hands back; the owner's messages are never taken as a customer's."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from desk_client import HANDED, desk_app, store_of

from bots.desk.relay import HINT, Command, operator_name, parse
from tests.fakes import max_wire as w
from tests.fakes.max import MaxFake, max_fake_fixture  # noqa: F401 - provides max_fake

OWNER, CUSTOMER = 900, 77


@pytest.mark.parametrize(("text", "command"), [
    ("12 Здравствуйте!", Command("say", 12, "Здравствуйте!")),
    ("№12: Добрый день\nвторая строка", Command("say", 12, "Добрый день\nвторая строка")),
    ("12. ok", Command("say", 12, "ok")),
    ("/бот 12", Command("back", 12)), ("/BOT №7 ", Command("back", 7)),
    ("12", Command("help")), ("привет", Command("help")), ("/бот", Command("help")),
    ("", Command("help")),
])
def test_the_owner_s_commands(text: str, command: Command) -> None:
    assert parse(text) == command


def test_the_name_a_customer_sees() -> None:
    assert operator_name("Анна Петрова") == "Анна"
    assert operator_name(None) == operator_name("{x}") == "Администратор"


async def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


def _to(fake: MaxFake, user: int) -> list[str]:
    return [str(s.body.get("text", "")) for s in fake.sent if s.user_id == user]


async def test_the_owner_answers_in_their_max_chat(
    redis_url: str, bot_prefix: str, tmp_path: Path, max_fake: MaxFake,
) -> None:
    async with desk_app(redis_url, bot_prefix, tmp_path, max_token=max_fake.token,
                        max_mode="polling", max_api_url=max_fake.url,
                        owner_max_chat=str(OWNER)) as (app, _):
        store = store_of(app)
        max_fake.enqueue(w.bot_started(CUSTOMER),
                         w.message_created(CUSTOMER, "Позвать администратора"))
        await _until(lambda: any("«/бот" in t for t in _to(max_fake, OWNER)), "no note")
        note = next(t for t in _to(max_fake, OWNER) if "«/бот" in t)
        found = re.search(r"«/бот (\d+)»", note)
        assert found is not None
        number = found.group(1)
        assert any(t.startswith(HANDED) for t in _to(max_fake, CUSTOMER))

        max_fake.enqueue(w.message_created(OWNER, f"{number} Здравствуйте, это Анна"))
        await _until(lambda: "Здравствуйте, это Анна" in _to(max_fake, CUSTOMER),
                     "the customer never got the owner's answer")
        await _until(lambda: f"Отправлено клиенту {number} (max)." in _to(max_fake, OWNER),
                     "the owner was not told")
        customer = await store.identities.customer_of(f"max:{CUSTOMER}")
        assert customer is not None
        assert await store.desk.handoffs.holder(customer) == "Иван"  # the fake's first name
        max_fake.enqueue(w.message_created(OWNER, "как дела?"))
        await _until(lambda: HINT in _to(max_fake, OWNER), "no hint")
        assert await store.identities.customer_of(f"max:{OWNER}") is None  # never a customer

        max_fake.enqueue(w.message_created(OWNER, f"/бот {number}"))
        await _until(lambda: f"Клиент {number} снова с ботом." in _to(max_fake, OWNER),
                     "not released")
        max_fake.enqueue(w.message_created(CUSTOMER, "записаться"))
        await _until(lambda: "Какую услугу вы хотите?" in _to(max_fake, CUSTOMER),
                     "the bot did not answer after the hand-back")

"""Answering a hand-off from the owner's own MAX chat or VK peer (through the MAX and VK
fakes): the note carries a short number, the customer's name and last messages; «N текст»
or a reply to the note reaches the customer as an operator's message; «/бот N», or «/бот» in
a reply, hands back; the owner's messages are never taken as a customer's."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from desk_client import HANDED, desk_app, store_of

from bots.desk.relay import HINT, Command, operator_name, parse
from tests.fakes import max_wire as w
from tests.fakes.max import MaxFake, max_fake_fixture  # noqa: F401 - provides max_fake
from tests.fakes.vk import FakeVk

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


@pytest.mark.parametrize(("text", "command"), [
    ("Добрый день", Command("say", 12, "Добрый день")),
    ("3 часа ждать не придётся", Command("say", 12, "3 часа ждать не придётся")),
    ("/бот", Command("back", 12)), ("/bot 3", Command("back", 12)), (" ", Command("help")),
])
def test_a_reply_to_a_note_needs_no_number(text: str, command: Command) -> None:
    assert parse(text, replied=12) == command


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
        # the note and the customer's reply go out separately, in either order
        await _until(lambda: any(t.startswith(HANDED) for t in _to(max_fake, CUSTOMER)),
                     "the customer was never told")

        max_fake.enqueue(w.message_created(OWNER, f"{number} Здравствуйте, это Анна"))
        await _until(lambda: "Иван: Здравствуйте, это Анна" in _to(max_fake, CUSTOMER),
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


def _note(fake: MaxFake, user: int) -> tuple[str, dict[str, object]]:
    """The hand-off note sent to ``user``: its text and body (a reply quotes the body)."""
    sent = next(s for s in fake.sent if s.user_id == user and "«/бот" in str(s.body.get("text")))
    return str(sent.body["text"]), dict(sent.message["body"])


async def test_the_owner_replies_to_the_note_in_max(
    redis_url: str, bot_prefix: str, tmp_path: Path, max_fake: MaxFake,
) -> None:
    async with desk_app(redis_url, bot_prefix, tmp_path, max_token=max_fake.token,
                        max_mode="polling", max_api_url=max_fake.url,
                        owner_max_chat=str(OWNER)) as (app, _):
        max_fake.enqueue(w.bot_started(CUSTOMER), w.message_created(CUSTOMER, "привет"),
                         w.message_created(CUSTOMER, "Позвать администратора"))
        await _until(lambda: any("«/бот" in t for t in _to(max_fake, OWNER)), "no note")
        text, body = _note(max_fake, OWNER)
        assert "Канал: MAX." in text
        assert "Имя: Иван" in text  # the fake's customer
        assert "Последние сообщения:\n" in text
        assert "— клиент: привет\n" in text
        assert "— бот: Чем могу помочь?\n" in text
        assert "— клиент: Позвать администратора\nОтветить клиенту" in text  # the last
        assert "ответьте на это сообщение" in text
        number = re.search(r"«/бот (\d+)»", text)
        assert number is not None

        max_fake.enqueue(w.message_created(OWNER, "3 минуты, уже смотрю", reply_to=body))
        await _until(lambda: "Иван: 3 минуты, уже смотрю" in _to(max_fake, CUSTOMER),
                     "the reply never reached the customer")
        confirmed = f"Отправлено клиенту {number.group(1)} (max)."
        await _until(lambda: confirmed in _to(max_fake, OWNER), "the owner was not told")
        answer = next(s for s in max_fake.sent if s.body.get("text") == confirmed)
        max_fake.enqueue(w.message_created(OWNER, "/бот", reply_to=dict(answer.message["body"])))
        await _until(lambda: f"Клиент {number.group(1)} снова с ботом." in _to(max_fake, OWNER),
                     "a reply to the answer did not hand back")
        max_fake.enqueue(w.message_created(CUSTOMER, "записаться"))
        await _until(lambda: "Какую услугу вы хотите?" in _to(max_fake, CUSTOMER),
                     "the bot did not answer after the hand-back")
        assert await store_of(app).identities.customer_of(f"max:{OWNER}") is None


VK_OWNER, VK_CUSTOMER = 901, 801


@pytest.fixture
async def vk_fake() -> AsyncIterator[FakeVk]:
    async with FakeVk() as fake:
        yield fake


def _vk_to(fake: FakeVk, peer: int) -> list[str]:
    return [m.message for m in fake.sent if m.peer_id == peer]


async def test_the_owner_replies_to_the_note_in_vk(
    redis_url: str, bot_prefix: str, tmp_path: Path, vk_fake: FakeVk,
) -> None:
    async with desk_app(redis_url, bot_prefix, tmp_path, vk_token=vk_fake.token,
                        vk_group_id=str(vk_fake.group_id), vk_api_url=vk_fake.api_url,
                        vk_mode="longpoll", owner_vk_peer=str(VK_OWNER)) as (app, _):
        await _until(lambda: bool(vk_fake.calls_of("groups.getLongPollServer")), "no poll")
        vk_fake.push_update(vk_fake.message_new(VK_CUSTOMER, "привет"))
        vk_fake.push_update(vk_fake.message_new(VK_CUSTOMER, "Позвать администратора"))
        await _until(lambda: any("«/бот" in t for t in _vk_to(vk_fake, VK_OWNER)), "no note")
        note = next(m for m in vk_fake.sent if m.peer_id == VK_OWNER and "«/бот" in m.message)
        assert "Канал: ВКонтакте." in note.message
        assert "— клиент: Позвать администратора" in note.message
        vk_fake.push_update(vk_fake.message_new(VK_OWNER, "Здравствуйте, это Анна",
                                                reply_to=note.message_id))
        await _until(lambda: "Администратор: Здравствуйте, это Анна"  # no name in VK's event
                     in _vk_to(vk_fake, VK_CUSTOMER),
                     "the reply never reached the customer")
        customer = await store_of(app).identities.customer_of(f"vk:{VK_CUSTOMER}")
        assert customer is not None
        assert await store_of(app).desk.handoffs.holder(customer) is not None
        vk_fake.push_update(vk_fake.message_new(VK_OWNER, "/бот", reply_to=note.message_id))
        await _until(lambda: any("снова с ботом" in t for t in _vk_to(vk_fake, VK_OWNER)),
                     "not released")
        assert await store_of(app).desk.handoffs.holder(customer) is None
        assert await store_of(app).identities.customer_of(f"vk:{VK_OWNER}") is None

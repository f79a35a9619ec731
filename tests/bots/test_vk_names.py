"""A VK customer's name, looked up with VK's ``users.get`` beside the turns (bots/naming.py),
through the running bot, the VK fake (long poll) and real Redis: it reaches the desk's list,
card and search and the owner's hand-off note; one lookup per account, however many messages;
VK failing or refusing it delays and loses nothing and leaves no name; the name a customer
gives in a flow wins; ``svyaz export`` shows it and ``svyaz forget`` erases it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from desk_client import HANDED, add_operator, desk_app, login, store_of

from bots.app import EDGE
from bots.cli import main
from tests.fakes import vk as vk_fakes
from tests.fakes.vk import FakeVk

fake_vk = vk_fakes.fake_vk
fake_vk_factory = vk_fakes.fake_vk_factory

OWNER, CUSTOMER = 901, 801
NAME = "Евлампий Вкшников"  # found nowhere else in the bot
INTRO = """\
flow: intro
title: Знакомство
triggers: [{text: [имя]}]
steps:
  consent:
    ask: Можно узнать ваше имя? Вы согласны на обработку персональных данных?
    consent: {policy: "https://example.ru/privacy", version: "2024-06"}
    next: {yes: name, no: refused}
  name:
    ask: Как вас зовут?
    save: name
    profile: name
    next: done
  done:
    say: "Приятно познакомиться, {{ name }}!"
  refused:
    say: Хорошо.
"""


async def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


def _to(fake: FakeVk, peer: int) -> list[str]:
    return [m.message for m in fake.sent if m.peer_id == peer]


def _vk(fake: FakeVk, **extra: object) -> dict[str, object]:
    return {"vk_token": fake.token, "vk_group_id": str(fake.group_id),
            "vk_api_url": fake.api_url, "vk_mode": "longpoll", **extra}


async def _name_of(app: object, account: str) -> str | None:
    store = store_of(app)  # type: ignore[arg-type]
    customer = await store.identities.customer_of(account)
    return None if customer is None else (await store.profiles.get(customer)).name


async def _named(app: object, account: str, name: str) -> str:
    """Waits until the customer of ``account`` is called ``name``; the customer."""
    store = store_of(app)  # type: ignore[arg-type]
    deadline = time.monotonic() + 10
    while await _name_of(app, account) != name:
        assert time.monotonic() < deadline, f"{account} was never named {name!r}"
        await asyncio.sleep(0.02)
    customer = await store.identities.customer_of(account)
    assert customer is not None
    return customer


async def test_a_vk_customer_is_named_on_the_desk_and_in_the_note(
    redis_url: str, bot_prefix: str, tmp_path: Path, fake_vk: FakeVk,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_vk.person(CUSTOMER, *NAME.split())
    async with desk_app(redis_url, bot_prefix, tmp_path,
                        **_vk(fake_vk, owner_vk_peer=str(OWNER))) as (app, client):
        await add_operator(app, "Ольга")
        await _until(lambda: bool(fake_vk.calls_of("groups.getLongPollServer")), "no poll")
        fake_vk.push_update(fake_vk.message_new(CUSTOMER, "привет"))
        customer = await _named(app, f"vk:{CUSTOMER}", NAME)
        fake_vk.push_update(fake_vk.message_new(CUSTOMER, "Позвать администратора"))
        await _until(lambda: any(t.startswith(HANDED) for t in _to(fake_vk, CUSTOMER)),
                     "the hand-off was never said")
        await _until(lambda: any("«/бот" in t for t in _to(fake_vk, OWNER)), "no note")
        note = next(t for t in _to(fake_vk, OWNER) if "«/бот" in t)
        assert NAME in note
        await login(client, "Ольга")
        listed = await (await client.get("/desk/?channel=vk")).text()
        assert f'data-customer="{customer}"' in listed
        assert NAME in listed
        assert NAME in await (await client.get(f"/desk/c/{customer}")).text()
        found = await (await client.get("/desk/", params={"q": "евлампий"})).text()
        assert f'data-customer="{customer}"' in found
        # two messages of one account: one users.get, for that account alone
        [call] = fake_vk.calls_of("users.get")
        assert call.params["user_ids"] == str(CUSTOMER)
    assert not [r for r in caplog.records if NAME in r.getMessage()]  # never logged


async def test_a_hand_off_right_after_the_first_message_is_named_in_the_note(
    redis_url: str, bot_prefix: str, tmp_path: Path, fake_vk: FakeVk,
) -> None:
    """The customer asks for a person at once, while VK is still answering users.get (it
    answers 0.3 s late): the owner's note waits for the name (a moment, bounded) instead of
    going out nameless."""
    fake_vk.person(CUSTOMER, *NAME.split())
    fake_vk.fail("users.get", delay=0.3)  # answers, late
    async with desk_app(redis_url, bot_prefix, tmp_path,
                        **_vk(fake_vk, owner_vk_peer=str(OWNER))) as (app, _):
        await add_operator(app, "Ольга")
        await _until(lambda: bool(fake_vk.calls_of("groups.getLongPollServer")), "no poll")
        fake_vk.push_update(fake_vk.message_new(CUSTOMER, "привет"))
        fake_vk.push_update(fake_vk.message_new(CUSTOMER, "Позвать администратора"))
        await _until(lambda: any("«/бот" in t for t in _to(fake_vk, OWNER)), "no note")
        note = next(t for t in _to(fake_vk, OWNER) if "«/бот" in t)
        assert NAME in note
        # (the note and the customer's reply go out separately, in either order)
        await _until(lambda: any(t.startswith(HANDED) for t in _to(fake_vk, CUSTOMER)),
                     "the hand-off was never said")


async def test_accounts_arriving_together_are_each_asked_once(
    redis_url: str, bot_prefix: str, tmp_path: Path, fake_vk: FakeVk,
) -> None:
    people = {811: "Анна Смирнова", 812: "Пётр Иванов", 813: "Ольга Кузнецова"}
    for user, name in people.items():
        fake_vk.person(user, *name.split())
    async with desk_app(redis_url, bot_prefix, tmp_path, **_vk(fake_vk)) as (app, _):
        await _until(lambda: bool(fake_vk.calls_of("groups.getLongPollServer")), "no poll")
        for user in people:  # three new accounts, six messages, arriving together
            fake_vk.push_update(fake_vk.message_new(user, "привет"))
            fake_vk.push_update(fake_vk.message_new(user, "записаться"))
        for user, name in people.items():
            await _named(app, f"vk:{user}", name)
        asked = [c.params["user_ids"].split(",") for c in fake_vk.calls_of("users.get")]
        assert sorted(i for ids in asked for i in ids) == sorted(str(u) for u in people)


@pytest.mark.parametrize("failure", [{"code": 15}, {"http_status": 429}, {"http_status": 503}],
                         ids=["error-15", "http-429", "http-503"])
async def test_vk_failing_users_get_answers_the_customer_and_leaves_no_name(
    redis_url: str, bot_prefix: str, tmp_path: Path, fake_vk: FakeVk,
    failure: dict[str, int],
) -> None:
    fake_vk.person(CUSTOMER, *NAME.split())
    fake_vk.fail("users.get", times=None, **failure)
    async with desk_app(redis_url, bot_prefix, tmp_path, **_vk(fake_vk)) as (app, _):
        await _until(lambda: bool(fake_vk.calls_of("groups.getLongPollServer")), "no poll")
        fake_vk.push_update(fake_vk.message_new(CUSTOMER, "записаться"))
        await _until(lambda: "Какую услугу вы хотите?" in _to(fake_vk, CUSTOMER),
                     "the customer was not answered")
        names = app[EDGE].parts.runtime._names  # noqa: SLF001 - to wait for its lookups
        assert names is not None
        await _until(lambda: bool(fake_vk.calls_of("users.get")), "VK was never asked")
        await names.idle()
        asked = len(fake_vk.calls_of("users.get"))
        fake_vk.push_update(fake_vk.message_new(CUSTOMER, "Стрижка"))
        await _until(lambda: "К какому мастеру записать?" in _to(fake_vk, CUSTOMER),
                     "the next message was not answered")
        await names.idle()
        assert len(fake_vk.calls_of("users.get")) == asked  # asked again later, not now
        assert await _name_of(app, f"vk:{CUSTOMER}") is None


async def test_a_slow_users_get_never_holds_the_reply(
    redis_url: str, bot_prefix: str, tmp_path: Path, fake_vk: FakeVk,
) -> None:
    """VK holds users.get (longer than the test waits): the customer is answered meanwhile."""
    fake_vk.person(CUSTOMER, *NAME.split())
    fake_vk.fail("users.get", delay=60, times=None)
    async with desk_app(redis_url, bot_prefix, tmp_path, **_vk(fake_vk)) as (app, _):
        await _until(lambda: bool(fake_vk.calls_of("groups.getLongPollServer")), "no poll")
        fake_vk.push_update(fake_vk.message_new(CUSTOMER, "записаться"))
        await _until(lambda: bool(fake_vk.calls_of("users.get")), "VK was never asked")
        await _until(lambda: "Какую услугу вы хотите?" in _to(fake_vk, CUSTOMER),
                     "the customer was not answered while users.get was held")
        held = len(fake_vk.calls) - fake_vk.finished
        assert held == 1  # users.get: still unanswered
        assert await _name_of(app, f"vk:{CUSTOMER}") is None


async def test_the_name_the_customer_gives_wins(
    redis_url: str, bot_prefix: str, tmp_path: Path, fake_vk: FakeVk,
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "intro.yaml").write_text(INTRO, encoding="utf-8")
    fake_vk.person(CUSTOMER, *NAME.split())
    async with desk_app(redis_url, bot_prefix, tmp_path, flows=flows,
                        **_vk(fake_vk)) as (app, _):
        await _until(lambda: bool(fake_vk.calls_of("groups.getLongPollServer")), "no poll")
        fake_vk.push_update(fake_vk.message_new(CUSTOMER, "имя"))
        await _named(app, f"vk:{CUSTOMER}", NAME)  # VK's name came first
        fake_vk.push_update(fake_vk.message_new(CUSTOMER, "да"))
        fake_vk.push_update(fake_vk.message_new(CUSTOMER, "Ваня"))
        await _until(lambda: "Приятно познакомиться, Ваня!" in _to(fake_vk, CUSTOMER),
                     "the flow did not end")
        assert await _name_of(app, f"vk:{CUSTOMER}") == "Ваня"
        assert len(fake_vk.calls_of("users.get")) == 1


async def test_export_shows_and_forget_erases_a_vk_name(
    redis_url: str, bot_prefix: str, tmp_path: Path, fake_vk: FakeVk,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SVYAZ_REDIS_URL", redis_url)
    monkeypatch.setenv("SVYAZ_BOT", bot_prefix)
    monkeypatch.setenv("SVYAZ_DATA_DIR", str(tmp_path / "data"))
    fake_vk.person(CUSTOMER, *NAME.split())
    async with desk_app(redis_url, bot_prefix, tmp_path, **_vk(fake_vk)) as (app, _):
        await _until(lambda: bool(fake_vk.calls_of("groups.getLongPollServer")), "no poll")
        fake_vk.push_update(fake_vk.message_new(CUSTOMER, "привет"))
        customer = await _named(app, f"vk:{CUSTOMER}", NAME)
        capsys.readouterr()
        assert await asyncio.to_thread(main, ["export", "--customer", customer]) == 0
        assert NAME in capsys.readouterr().err  # the profile, beside the messages
        assert await asyncio.to_thread(main, ["forget", "--yes", "--", customer]) == 0
        store = store_of(app)
        assert await store.identities.customer_of(f"vk:{CUSTOMER}") is None
        assert (await store.profiles.get(customer)).name is None
        redis = store.redis
        async for key in redis.scan_iter(match=f"svyaz:{store.keys.bot}:*"):
            kind = (await redis.type(key)).decode()
            if kind == "hash":
                assert NAME.encode() not in b"".join(
                    v for v in (await redis.hgetall(key)).values()), key

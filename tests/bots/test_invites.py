"""Invitations of imported customers (``bots.invites``) through the real runtime and Redis:
the first opening of a personal link (VK, MAX, web chat) joins the account to the imported
customer, whose profile, consents and tags stay; the link works once, only for a new or fresh
account, only while the customer has no messenger; ``svyaz forget`` erases the tokens."""

from __future__ import annotations

import asyncio
import csv
import re
from pathlib import Path

import pytest
from bots_harness import Harness

from bots import importer
from bots.cli import main
from bots.invites import messenger
from bots.texts import INVITE_JOINED, INVITE_NOT_HERE, INVITE_USED, LINK_EXPIRED
from flows.types import Channel, StartEvent, TextEvent

CSV = """name;phone;email;consent_personal_data;consent_ads;source;tags
Анна;+7 916 123-45-67;anna@mail.ru;2024-05-01;2024-05-01;анкета в салоне;vip
"""


async def _imported(harness: Harness) -> str:
    plan = importer.read_rows(CSV)
    [customer] = await importer.apply(harness.store, plan)
    return customer


async def _open(harness: Harness, channel: Channel, user: str, token: str) -> None:
    await harness.send(channel, user, StartEvent(payload=f"link-{token}"))


@pytest.mark.parametrize("channel", ["vk", "max", "web"])
async def test_the_first_opening_joins_the_imported_customer(harness: Harness,
                                                             channel: Channel) -> None:
    customer = await _imported(harness)
    token = await harness.store.identities.invitations.issue(customer)
    await _open(harness, channel, "u1", token)
    assert harness.texts(channel, "u1")[0] == INVITE_JOINED
    await harness.send(channel, "u1", TextEvent("Здравствуйте, хочу записаться"))
    assert await harness.customer(channel, "u1") == customer
    profile = await harness.store.profiles.get(customer)
    assert (profile.name, profile.phone, profile.email) == ("Анна", "+79161234567",
                                                             "anna@mail.ru")
    assert profile.tags == ("vip",)
    assert profile.ads_consent
    history = await harness.store.history.read(customer, count=100)
    assert any(e.direction == "in" and e.text == "Здравствуйте, хочу записаться"
               for e in history)
    accounts = [a.account for a in await harness.store.identities.accounts(customer)]
    assert accounts == [f"{channel}:u1"]


async def test_a_second_use_by_someone_else_joins_nothing(harness: Harness) -> None:
    customer = await _imported(harness)
    token = await harness.store.identities.invitations.issue(customer)
    other = await harness.store.identities.invitations.issue(customer)  # the MAX one
    await _open(harness, "vk", "owner-of-it", token)
    await _open(harness, "vk", "stranger", token)  # the same link, forwarded: spent
    assert harness.texts("vk", "stranger")[0] == LINK_EXPIRED
    assert await harness.customer("vk", "stranger") != customer
    await _open(harness, "max", "stranger", other)  # joined once: the others are erased
    assert await harness.customer("max", "stranger") != customer
    accounts = [a.account for a in await harness.store.identities.accounts(customer)]
    assert accounts == ["vk:owner-of-it"]


async def test_a_customer_with_a_messenger_is_not_joined_again(harness: Harness) -> None:
    customer = await _imported(harness)
    await harness.store.identities.attach("max:9", customer, 1.0)  # joined another way
    token = await harness.store.identities.invitations.issue(customer)
    await _open(harness, "vk", "stranger", token)
    assert harness.texts("vk", "stranger")[0] == INVITE_USED
    assert await harness.customer("vk", "stranger") != customer


async def test_an_sms_or_email_account_is_no_messenger(harness: Harness) -> None:
    assert [messenger(a) for a in ("vk:1", "max:2", "web:s", "sms:+79161234567",
                                   "email:a@b.ru", "nope:1")] == [True] * 3 + [False] * 3
    customer = await _imported(harness)
    await harness.store.identities.attach("sms:+79161234567", customer, 1.0)
    token = await harness.store.identities.invitations.issue(customer)
    await _open(harness, "max", "7", token)  # SMS reaches them, but no chat: still joins
    assert await harness.customer("max", "7") == customer


async def test_an_established_account_is_not_joined_and_spends_nothing(
        harness: Harness) -> None:
    customer = await _imported(harness)
    token = await harness.store.identities.invitations.issue(customer)
    await harness.send("web", "old", StartEvent())
    for said in ("Оля", "30", "ещё вопрос"):
        await harness.send("web", "old", TextEvent(said))
    await _open(harness, "web", "old", token)
    assert INVITE_NOT_HERE in harness.texts("web", "old")
    assert await harness.customer("web", "old") != customer
    await _open(harness, "web", "new", token)  # still the customer's own to use
    assert await harness.customer("web", "new") == customer


async def test_forget_erases_the_invitations(harness: Harness) -> None:
    customer = await _imported(harness)
    store = harness.store
    tokens = [await store.identities.invitations.issue(customer) for _ in range(3)]
    await store.forget(customer)
    for token in tokens:
        assert await store.identities.invitations.customer_of(token) is None
    left = [k async for k in store.redis.scan_iter(match=f"{store.keys.prefix}iv:*")]
    assert left == []
    await _open(harness, "vk", "late", tokens[0])
    assert await harness.customer("vk", "late") != customer


async def test_a_merge_erases_the_merged_sides_invitations(harness: Harness) -> None:
    customer = await _imported(harness)
    token = await harness.store.identities.invitations.issue(customer)
    await harness.send("vk", "1", StartEvent())
    keep = await harness.customer("vk", "1")
    await harness.store.identities.merge(keep, customer)
    assert await harness.store.identities.invitations.customer_of(token) is None


async def test_import_invite_writes_links_that_join(harness: Harness, redis_url: str,
                                                    bot_prefix: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in (("REDIS_URL", redis_url), ("BOT", bot_prefix), ("LANG", "ru"),
                        ("VK_TOKEN", "t"), ("VK_GROUP_ID", "77"), ("MAX_TOKEN", "m"),
                        ("MAX_BOT_USERNAME", "salon_bot"),
                        ("PUBLIC_URL", "https://bot.example.ru")):
        monkeypatch.setenv(f"SVYAZ_{name}", value)
    (tmp_path / "customers.csv").write_text(CSV, encoding="utf-8")
    out = tmp_path / "invites.csv"
    args = ["import", "customers.csv", "--yes", "--invite", str(out), "--days", "7"]
    assert await asyncio.to_thread(main, args) == 0
    rows = list(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))
    assert {r["channel"] for r in rows} == {"vk", "max", "web"}
    assert {r["name"] for r in rows} == {"Анна"}
    links = {r["channel"]: r["link"] for r in rows}
    assert links["max"].startswith("https://max.ru/salon_bot?start=link-")
    assert links["vk"].startswith("https://vk.me/club77?ref=link-")
    assert links["web"].startswith("https://bot.example.ru/chat#link=")
    token = re.split(r"link[-=]", links["max"])[1]
    key = harness.store.keys.invite_token(token)
    assert 6 * 86_400 < await harness.store.redis.ttl(key) <= 7 * 86_400
    await _open(harness, "max", "42", token)
    assert await harness.customer("max", "42") == rows[0]["customer"]

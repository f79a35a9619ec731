"""Accounts -> customers, link tokens and codes (with attempt limits), merging."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime

from flows.types import DialogState, Frame, Inbound, TextEvent
from storage.history import HistoryEntry
from storage.keys import (
    LINK_ACCOUNT_MAX_FAILURES,
    LINK_ADDRESS_MAX_FAILURES,
    LINK_CODE_TTL,
    LINK_TOKEN_TTL,
)
from storage.store import Store
from tests.held import holds
from tests.redeem import redeem_link_code, redeem_link_token
from tests.waiting import until_gone


async def test_resolve_creates_once_and_is_stable(store: Store) -> None:
    first = await store.identities.resolve("vk:1", name="Аня")
    assert await store.identities.resolve("vk:1") == first
    assert await store.identities.customer_of("vk:1") == first
    assert await store.identities.customer_of("vk:2") is None
    assert (await store.profiles.get(first)).name == "Аня"
    assert first != await store.identities.resolve("max:1")


async def test_concurrent_first_messages_make_one_customer(store: Store) -> None:
    found = await asyncio.gather(*(store.identities.resolve("web:s1") for _ in range(10)))
    assert len(set(found)) == 1


async def test_accounts_most_recent_first(store: Store) -> None:
    customer = await store.identities.resolve("vk:1")
    token = await store.identities.issue_link_token(customer)
    assert await redeem_link_token(store.identities, token, "max:9") == customer
    await asyncio.sleep(0.01)
    await store.identities.resolve("vk:1")
    accounts = await store.identities.accounts(customer)
    assert [a.account for a in accounts] == ["vk:1", "max:9"]
    assert accounts[0].last_active >= accounts[1].last_active
    await store.identities.set_route(customer, "max:9", "dialog:1009:9")
    assert await store.identities.reach(customer) == (accounts, {"max:9": "dialog:1009:9"})
    assert await store.identities.reach("nobody") == ([], {})


async def test_link_token_is_long_random_single_use_and_expiring(store: Store) -> None:
    customer = await store.identities.resolve("web:s1")
    token = await store.identities.issue_link_token(customer)
    assert re.fullmatch(r"[A-Za-z0-9_-]{22,}", token)  # >= 128 bits, url-safe
    assert token != await store.identities.issue_link_token(customer)
    ttl = await store.redis.ttl(store.keys.link_token(token))
    assert LINK_TOKEN_TTL - 5 < ttl <= LINK_TOKEN_TTL
    assert await redeem_link_token(store.identities, token, "vk:5") == customer
    assert await redeem_link_token(store.identities, token, "vk:6") is None
    assert await store.identities.customer_of("vk:6") is None
    expired = await store.identities.issue_link_token(customer)
    await store.redis.pexpire(store.keys.link_token(expired), 1)
    await until_gone(store.redis, store.keys.link_token(expired))
    assert await redeem_link_token(store.identities, expired, "vk:7") is None
    assert await redeem_link_token(store.identities, "nonsense", "vk:7") is None


async def test_link_code_joins_once(store: Store) -> None:
    customer = await store.identities.resolve("web:s1")
    code = await store.identities.issue_link_code(customer)
    assert re.fullmatch(r"\d{6}", code)
    ttl = await store.redis.ttl(store.keys.link_code(code))
    assert LINK_CODE_TTL - 5 < ttl <= LINK_CODE_TTL
    assert await redeem_link_code(store.identities, code, "vk:1") == customer
    assert await store.identities.customer_of("vk:1") == customer
    assert await redeem_link_code(store.identities, code, "vk:2") is None


def _wrong(code: str, i: int) -> str:
    guess = f"{i:06d}"
    return guess if guess != code else "999999" if code != "999999" else "999998"


async def test_a_thousand_guesses_from_one_address_are_limited(store: Store) -> None:
    """A web attacker opens a fresh session per guess: the address limit stops it."""
    customer = await store.identities.resolve("web:victim")
    code = await store.identities.issue_link_code(customer)
    hits = []
    for i in range(1000):
        attacker = f"web:a{i}"  # a fresh account per guess defeats per-account limits
        guess = code if i == 500 else _wrong(code, i)
        hits.append(await store.identities.claim_link_code(guess, attacker, address="ip1"))
    assert hits == [None] * 1000  # even the right guess at #500: the address is spent
    assert await store.identities.customer_of("web:a500") is None
    assert await redeem_link_code(store.identities, code, "vk:owner") == customer  # not burned


async def test_wrong_guesses_from_many_accounts_burn_nobody_s_code(store: Store) -> None:
    """Issue 13 §5: 20 wrong six-digit texts from any sessions burned every live code."""
    customer = await store.identities.resolve("web:s1")
    code = await store.identities.issue_link_code(customer)
    for i in range(LINK_ADDRESS_MAX_FAILURES * 3):
        assert await store.identities.claim_link_code(_wrong(code, i), f"max:{i}") is None
    assert await redeem_link_code(store.identities, code, "max:owner") == customer


async def test_one_account_is_limited_too(store: Store) -> None:
    customer = await store.identities.resolve("web:s1")
    code = await store.identities.issue_link_code(customer)
    for i in range(LINK_ACCOUNT_MAX_FAILURES):
        assert await redeem_link_code(store.identities, _wrong(code, i), "vk:1") is None
    assert await redeem_link_code(store.identities, code, "vk:1") is None
    assert await redeem_link_code(store.identities, "abc", "vk:2") is None
    assert await redeem_link_code(store.identities, code, "vk:3") == customer


async def test_a_claimed_link_joins_only_when_confirmed(store: Store) -> None:
    issuer = await _customer_with(store, "web:s1", [(1.0, "hi")])
    token = await store.identities.issue_link_token(issuer)
    other = await _customer_with(store, "vk:1", [(2.0, "мой телефон")])
    assert await store.identities.claim_link_token(token, "vk:1") == issuer
    assert await store.identities.claim_link_token(token, "vk:2") is None  # spent
    assert await store.identities.customer_of("vk:1") == other  # nothing joined yet
    assert await store.identities.pending_link("vk:1") == issuer
    assert await store.identities.drop_link("vk:1")
    assert await store.identities.confirm_link("vk:1") is None  # said no: nothing to confirm
    assert await store.identities.customer_of("vk:1") == other
    code = await store.identities.issue_link_code(issuer)
    assert await store.identities.claim_link_code(code, "vk:1") == issuer
    joined = await store.identities.confirm_link("vk:1")
    assert joined is not None
    assert (joined.keep, joined.gone) == (issuer, other)  # both typed; the issuer is older


async def _established(store: Store, account: str, ts: float, *, phone: bool = False) -> str:
    customer = await _customer_with(store, account, [(ts, f"said in {account}")])
    if phone:
        await store.profiles.set_field(customer, "phone", "+79990000000")
    return customer


async def test_the_established_side_stays_whoever_issued(store: Store) -> None:
    fresh = await store.identities.resolve("web:attacker")  # no typed message, no profile
    victim = await _established(store, "vk:1", 5.0, phone=True)
    token = await store.identities.issue_link_token(fresh)
    assert await redeem_link_token(store.identities, token, "vk:1") == victim
    assert await store.identities.customer_of("web:attacker") == victim
    assert (await store.profiles.get(victim)).phone == "+79990000000"


async def test_with_both_established_the_profile_then_the_older_stays(store: Store) -> None:
    old = await _established(store, "vk:1", 1.0)
    young_with_profile = await _established(store, "max:1", 9.0, phone=True)
    token = await store.identities.issue_link_token(old)
    assert await redeem_link_token(store.identities, token, "max:1") == young_with_profile
    older = await _established(store, "vk:2", 2.0)
    younger = await _established(store, "max:2", 3.0)
    token = await store.identities.issue_link_token(younger)
    assert await redeem_link_token(store.identities, token, "vk:2") == older


async def test_neither_side_is_shown_the_other_s_past(store: Store) -> None:
    """The web chat replays from ``visible_from``: a merge marks every account that would
    otherwise see the other side's earlier messages."""
    issuer = await _established(store, "web:attacker", 1.0)
    victim = await _established(store, "vk:1", 2.0)
    fresh = await store.identities.resolve("web:victim-browser")  # nothing typed yet
    await store.identities.merge(victim, fresh)
    assert await store.identities.visible_from(victim, "vk:1") == 0.0  # it saw all there was
    token = await store.identities.issue_link_token(issuer)
    before = time.time()
    await store.identities.claim_link_token(token, "vk:1")
    joined = await store.identities.confirm_link("vk:1")
    assert joined is not None
    for account in ("web:attacker", "vk:1", "web:victim-browser"):
        assert await store.identities.visible_from(joined.keep, account) >= before


async def _customer_with(store: Store, account: str, texts: list[tuple[float, str]]) -> str:
    customer = await store.identities.resolve(account)
    for ts, text in texts:
        await store.history.append(customer, HistoryEntry(ts, account[:2], "in", text))
    return customer


async def test_merge_keeps_both_histories_state_accounts_profile_reminders(store: Store) -> None:
    keep = await _customer_with(store, "web:s1", [(1.0, "w1"), (3.0, "w3"), (5.0, "w5")])
    other = await _customer_with(store, "vk:1", [(2.0, "v2"), (4.0, "v4")])
    await store.identities.resolve("max:1")  # unrelated customer stays untouched
    state = DialogState(stack=(Frame(f="booking", s="day"),))
    async with store.states.lock(keep) as lock:
        await store.states.save(keep, state, version=0, lock=lock)
    async with store.states.lock(other) as lock:
        await store.states.save(other, DialogState(), version=0, lock=lock)
    await store.profiles.set_field(keep, "name", "Аня")
    await store.profiles.set_field(other, "name", "Anya")
    await store.profiles.set_field(other, "email", "a@Example.RU")
    await store.profiles.record_consent(other, True, "v1", datetime(2026, 1, 1, tzinfo=UTC), "vk")
    await store.reminders.add(other, "visit")
    await store.reminders.add(keep, "call")
    await store.inbox.push(other, Inbound("vk", "1", "e1", TextEvent("later")))

    await store.identities.merge(keep, other)

    history = await store.history.read(keep, count=10)
    assert [e.text for e in history] == ["w1", "v2", "w3", "v4", "w5"]
    assert await store.states.load(keep) == (state, 1)
    assert await store.states.load(other) == (None, 0)
    assert await store.identities.customer_of("vk:1") == keep
    assert {a.account for a in await store.identities.accounts(keep)} == {"web:s1", "vk:1"}
    profile = await store.profiles.get(keep)
    assert (profile.name, profile.email, profile.consent_granted) == ("Аня", "a@example.ru", True)
    assert await store.reminders.list(keep) == ["call", "visit"]
    assert [p.event for _, p in await store.inbox.pending(keep)] == [TextEvent("later")]
    leftovers = [k async for k in store.redis.scan_iter(match=f"{store.keys.tag(other)}:*")]
    assert leftovers == []
    assert other not in await store.history.customers()


async def test_redeeming_from_an_account_with_its_own_customer_merges(store: Store) -> None:
    keep = await _customer_with(store, "web:s1", [(1.0, "web")])
    other = await _customer_with(store, "vk:1", [(2.0, "vk start")])
    token = await store.identities.issue_link_token(keep)
    assert await redeem_link_token(store.identities, token, "vk:1") == keep
    assert await store.identities.customer_of("vk:1") == keep
    assert [e.text for e in await store.history.read(keep)] == ["web", "vk start"]
    assert await store.history.read(other) == []


async def test_merge_makes_the_old_lock_holder_lose(store: Store) -> None:
    keep = await store.identities.resolve("web:s1")
    other = await store.identities.resolve("vk:1")
    lock = await store.states.locks.acquire(other)
    await store.identities.merge(keep, other)
    assert not await holds(store, lock)


async def test_routes_follow_their_accounts_in_a_merge_and_go_with_erasure(store: Store) -> None:
    keep = await store.identities.resolve("web:s1")
    other = await store.identities.resolve("max:5551001")
    await store.identities.set_route(other, "max:5551001", "dialog:1005551001:5551001")
    await store.identities.merge(keep, other)
    assert await store.identities.routes(keep) == {"max:5551001": "dialog:1005551001:5551001"}
    assert await store.identities.routes(other) == {}
    assert store.keys.routes(keep) in store.keys.customer_keys(keep)  # erased with the rest

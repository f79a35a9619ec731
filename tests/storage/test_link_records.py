"""storage.identity and storage.accounts through their public calls: link tokens and codes
(single use, expiry, what a claim parks, the guess limits, a code space that runs out), the
confirmation's cases, and accounts (resolve, attach, detach, routes, replay marks)."""

from __future__ import annotations

import time

import pytest
from storage_helpers import RoundTrips, node_of

from flows.types import Inbound, TextEvent
from storage import accounts as accounts_module
from storage.client import scripts_span_slots
from storage.errors import StorageError
from storage.history import HistoryEntry
from storage.keys import LINK_ACCOUNT_MAX_FAILURES, LINK_CONFIRM_TTL
from storage.store import Store
from tests.redeem import redeem_link_code, redeem_link_token

TOKEN_TTL, CODE_TTL = 700, 300  # unlike each other and the defaults: each is checked


@pytest.fixture
async def linking(store: Store) -> Store:
    """The same Redis and namespace, with link lifetimes of their own."""
    return Store(store.redis, bot=store.keys.bot, instance=store.instance,
                 link_token_ttl=TOKEN_TTL, link_code_ttl=CODE_TTL)


async def _ttl(store: Store, key: str) -> int:
    return int(await store.redis.ttl(key))


async def test_a_token_lives_its_ttl_and_its_index_the_longest_link_s(linking: Store) -> None:
    ids = linking.identities
    assert (ids.link_token_ttl, ids.link_code_ttl) == (TOKEN_TTL, CODE_TTL)
    customer = await ids.resolve("web:s1")
    token = await ids.issue_link_token(customer)
    assert len(token) == 22  # 16 random bytes, url-safe base64 without padding
    assert await linking.redis.get(linking.keys.link_token(token)) == customer.encode()
    assert TOKEN_TTL - 5 < await _ttl(linking, linking.keys.link_token(token)) <= TOKEN_TTL
    index = linking.keys.links(customer)
    assert await linking.redis.smembers(index) == {linking.keys.link_token(token).encode()}
    assert TOKEN_TTL - 5 < await _ttl(linking, index) <= TOKEN_TTL
    code = await ids.issue_link_code(customer)
    assert CODE_TTL - 5 < await _ttl(linking, linking.keys.link_code(code)) <= CODE_TTL
    assert TOKEN_TTL - 5 < await _ttl(linking, index) <= TOKEN_TTL  # max of both
    assert await ids.claim_link_token(token, "vk:1") == customer
    assert await linking.redis.smembers(index) == {linking.keys.link_code(code).encode()}
    pending = linking.keys.link_pending("vk:1")
    assert LINK_CONFIRM_TTL - 5 < await _ttl(linking, pending) <= LINK_CONFIRM_TTL


async def test_a_code_s_index_outlives_a_longer_code(store: Store) -> None:
    longer = Store(store.redis, bot=store.keys.bot, instance=store.instance,
                   link_token_ttl=CODE_TTL, link_code_ttl=TOKEN_TTL)
    customer = await longer.identities.resolve("web:s1")
    code = await longer.identities.issue_link_code(customer)
    assert TOKEN_TTL - 5 < await _ttl(longer, longer.keys.link_code(code)) <= TOKEN_TTL
    assert TOKEN_TTL - 5 < await _ttl(longer, longer.keys.links(customer)) <= TOKEN_TTL


async def test_odd_tokens_claim_nothing(store: Store) -> None:
    ids = store.identities
    customer = await ids.resolve("web:s1")
    assert await ids.claim_link_token("", "vk:1") is None
    long = "a" * 129  # longer than any issued token: not even looked up
    await store.redis.set(store.keys.link_token(long), customer)
    assert await ids.claim_link_token(long, "vk:1") is None
    edge = "b" * 128
    await store.redis.set(store.keys.link_token(edge), customer)
    assert await ids.claim_link_token(edge, "vk:1") == customer
    assert await ids.pending_link("vk:1") == customer
    assert await ids.pending_link("vk:2") is None
    assert await ids.drop_link("vk:1")
    assert not await ids.drop_link("vk:1")  # nothing left to drop


async def test_a_code_that_is_not_six_digits_is_a_failed_guess(store: Store) -> None:
    ids = store.identities
    customer = await ids.resolve("web:s1")
    code = await ids.issue_link_code(customer)
    for wrong in ("12345", "1234567", "abcdef", code + "0"):
        assert await ids.claim_link_code(wrong, "vk:1") is None
    failures = store.keys.link_account_failures("vk:1")
    assert int(await store.redis.get(failures)) == 4
    assert await ids.claim_link_code(code, "vk:1") == customer  # the 5th try is still allowed
    assert await ids.claim_link_code(code, "vk:2") is None  # spent
    assert await ids.pending_link("vk:1") == customer


async def test_a_spent_account_may_not_guess_even_the_right_code(store: Store) -> None:
    ids = store.identities
    customer = await ids.resolve("web:s1")
    code = await ids.issue_link_code(customer)
    for _ in range(LINK_ACCOUNT_MAX_FAILURES):
        assert await ids.claim_link_code("000000" if code != "000000" else "111111",
                                         "vk:1", address="ip1") is None
    assert await ids.claim_link_code(code, "vk:1", address="ip2") is None
    assert await ids.claim_link_code(code, "vk:9", address="ip1") == customer  # ip1: 5 of 20


async def test_the_code_space_running_out_is_a_clear_error(
    store: Store, monkeypatch: pytest.MonkeyPatch,
) -> None:
    drawn: list[int] = []

    def always_42(n: int) -> int:
        drawn.append(n)
        return 42

    monkeypatch.setattr("secrets.randbelow", always_42)
    customer = await store.identities.resolve("web:s1")
    assert await store.identities.issue_link_code(customer) == "000042"
    assert drawn == [10**6]
    with pytest.raises(StorageError) as refused:
        await store.identities.issue_link_code(customer)
    assert str(refused.value) == "no free link code; too many live codes"
    assert len(drawn) == 1 + 20  # twenty draws, then it gives up
    assert await store.redis.get(store.keys.link_code("000042")) == customer.encode()


async def test_redeeming_a_link_whose_customer_was_erased_joins_nothing(store: Store) -> None:
    ids = store.identities
    issuer = await ids.resolve("web:s1")
    token = await ids.issue_link_token(issuer)
    code = await ids.issue_link_code(issuer)
    await store.redis.delete(store.keys.accounts(issuer))  # erased meanwhile
    assert await redeem_link_token(ids, token, "vk:1") is None
    assert await ids.customer_of("vk:1") is None
    assert await redeem_link_code(ids, code, "vk:2") is None
    assert await ids.confirm_link("vk:3") is None  # nothing claimed


async def test_a_new_account_joins_seeing_nothing_from_before(store: Store) -> None:
    ids = store.identities
    issuer = await ids.resolve("web:s1")
    await store.history.append(issuer, HistoryEntry(1.0, "web", "in", "привет"))
    token = await ids.issue_link_token(issuer)
    assert await ids.claim_link_token(token, "vk:1") == issuer
    before = time.time()
    joined = await ids.confirm_link("vk:1")
    assert joined is not None
    assert (joined.keep, joined.gone) == (issuer, None)
    assert await ids.customer_of("vk:1") == issuer
    assert before <= await ids.visible_from(issuer, "vk:1") <= time.time()
    assert await ids.visible_from(issuer, "web:s1") == 0.0


async def test_an_account_already_the_issuer_s_joins_again_seeing_all(store: Store) -> None:
    ids = store.identities
    issuer = await ids.resolve("web:s1")
    token = await ids.issue_link_token(issuer)
    assert await ids.claim_link_token(token, "web:s1") == issuer
    joined = await ids.confirm_link("web:s1")
    assert joined is not None
    assert (joined.keep, joined.gone) == (issuer, None)
    assert await ids.visible_from(issuer, "web:s1") == 0.0
    assert [a.account for a in await ids.accounts(issuer)] == ["web:s1"]


async def test_the_confirming_entry_is_settled_before_its_customer_goes(store: Store) -> None:
    ids = store.identities
    issuer = await ids.resolve("web:s1")
    await store.history.append(issuer, HistoryEntry(1.0, "web", "in", "я тут давно"))
    other = await ids.resolve("vk:1")
    confirming = await store.inbox.push(other, Inbound("vk", "1", "e1", TextEvent("Объединить")))
    later = await store.inbox.push(other, Inbound("vk", "1", "e2", TextEvent("потом")))
    token = await ids.issue_link_token(issuer)
    await ids.claim_link_token(token, "vk:1")
    joined = await ids.confirm_link("vk:1", settle=(other, confirming))
    assert joined is not None
    assert (joined.keep, joined.gone) == (issuer, other)
    assert [i.event for _, i in await store.inbox.pending(issuer)] == [TextEvent("потом")]
    assert later  # (moved with the inbox; the confirming one was not)


async def test_a_settle_for_the_customer_that_stays_is_left_to_its_turn(store: Store) -> None:
    ids = store.identities
    issuer = await ids.resolve("web:s1")
    await store.history.append(issuer, HistoryEntry(1.0, "web", "in", "я тут давно"))
    other = await ids.resolve("vk:1")
    entry = await store.inbox.push(issuer, Inbound("web", "s1", "e1", TextEvent("да")))
    token = await ids.issue_link_token(issuer)
    await ids.claim_link_token(token, "vk:1")
    joined = await ids.confirm_link("vk:1", settle=(issuer, entry))
    assert joined is not None
    assert joined.keep == issuer
    assert [i for i, _ in await store.inbox.pending(issuer)] == [entry]
    assert other == joined.gone


async def test_an_account_told_to_type_a_code_expects_one(linking: Store) -> None:
    ids = linking.identities
    fresh = await ids.resolve("web:s1")
    assert await ids.expects_code("web:s1", fresh)  # a fresh visitor: six digits are a guess
    typed = await ids.resolve("vk:1")
    for n in range(3):
        await linking.history.append(typed, HistoryEntry(float(n), "vk", "in", f"m{n}"))
    assert not await ids.expects_code("vk:1", typed)  # an answer, a postcode, an order number
    await ids.expect_code("vk:1")
    assert await ids.expects_code("vk:1", typed)
    expected = linking.keys.link_expected("vk:1")
    assert CODE_TTL - 5 < await _ttl(linking, expected) <= CODE_TTL


async def test_phone_matches_are_limited_per_number(store: Store) -> None:
    ids = store.identities
    assert [await ids.phone_match_allowed("+79990000001") for _ in range(4)] == [
        True, True, True, False]
    assert await ids.phone_match_allowed("+79990000002")


# ------------------------------------------------------------------ accounts


def test_a_customer_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = iter(["-abc", "-def", "ghi"])
    sizes: list[int] = []

    def token(n: int) -> str:
        sizes.append(n)
        return next(drawn)

    monkeypatch.setattr("secrets.token_urlsafe", token)
    assert accounts_module.new_customer_id() == "ghi"
    assert sizes == [9, 9, 9]


async def test_resolve_marks_activity_and_keeps_a_known_name(store: Store) -> None:
    ids = store.identities
    before = time.time()
    customer = await ids.resolve("vk:1", name="Аня")
    [info] = await ids.accounts(customer)
    assert info.account == "vk:1"
    assert before <= info.last_active <= time.time()
    assert await ids.resolve("vk:1", name="Другая") == customer
    assert (await store.profiles.get(customer)).name == "Аня"  # set only if missing
    other = await ids.resolve("vk:2", name="")
    assert (await store.profiles.get(other)).name is None
    assert customer.encode() in await store.redis.smembers(store.keys.customers)


async def test_attach_moves_an_account_and_detach_drops_only_its_own(store: Store) -> None:
    ids = store.identities
    first = await ids.resolve("vk:1")
    second = await ids.resolve("vk:2")
    await ids.attach("vk:1", second, 5.0)
    assert await ids.customer_of("vk:1") == second
    assert await ids.accounts(first) == []
    assert [(a.account, a.last_active) for a in await ids.accounts(second)][-1] == ("vk:1", 5.0)
    await ids.attach("vk:1", second, 6.0)  # again: nothing to take from anyone
    assert {a.account for a in await ids.accounts(second)} == {"vk:1", "vk:2"}
    await ids.expect_code("vk:1")
    await store.redis.set(store.keys.link_pending("vk:1"), first)
    await store.redis.set(store.keys.link_account_failures("vk:1"), 3)
    await ids.detach("vk:1", first)  # no longer first's: kept
    assert await ids.customer_of("vk:1") == second
    await ids.detach("vk:1", second)
    assert await ids.customer_of("vk:1") is None
    for key in (store.keys.link_pending("vk:1"), store.keys.link_expected("vk:1"),
                store.keys.link_account_failures("vk:1")):
        assert not await store.redis.exists(key)


async def test_routes_and_reach_read_every_route(store: Store) -> None:
    ids = store.identities
    customer = await ids.resolve("max:1")
    for n, account in enumerate(("max:2", "vk:3", "web:4")):
        await ids.attach(account, customer, 10.0 - n)
    await ids.resolve("max:1")
    assert [a.account for a in await ids.accounts(customer)] == ["max:1", "max:2", "vk:3",
                                                                  "web:4"]
    assert await ids.routes(customer) == {}
    await ids.set_route(customer, "max:1", "dialog:1")
    await ids.set_route(customer, "max:2", "dialog:2")
    await ids.set_route(customer, "max:1", "dialog:3")  # replaced
    assert await ids.routes(customer) == {"max:1": "dialog:3", "max:2": "dialog:2"}
    accounts, routes = await ids.reach(customer)
    assert [a.account for a in accounts] == ["max:1", "max:2", "vk:3", "web:4"]
    assert routes == {"max:1": "dialog:3", "max:2": "dialog:2"}
    await store.redis.hset(store.keys.visible(customer), "max:1", "12.5")
    assert await ids.visible_from(customer, "max:1") == 12.5


async def test_resolving_a_known_account_is_two_round_trips(
    store: Store, round_trips: RoundTrips,
) -> None:
    """Every message resolves its account: read the mapping, mark it (and the customer in the
    desk's activity index) active in one pipeline; nothing else. On a cluster that pipeline
    is one round trip to each node holding one of the two keys (one node or two)."""
    customer = await store.identities.resolve("vk:1", name="Аня")
    before = round_trips.count
    assert await store.identities.resolve("vk:1") == customer
    nodes = 1
    if not scripts_span_slots(store.redis):
        keys = store.keys
        nodes = len({node_of(store.redis, k) for k in (keys.accounts(customer), keys.desk_active)})
    assert round_trips.count - before == 1 + nodes

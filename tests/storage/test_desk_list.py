"""storage.desk_list's activity index: written by each accepted message, read a page at a
time with the hand-offs left out, completed from the accounts when customers are missing,
and left by merged and erased customers — on every backend, the Redis Cluster included."""

from __future__ import annotations

from flows.types import Inbound, TextEvent
from storage.desk_list import skipped_start
from storage.store import Store


def _inbound(user: str, event_id: str) -> Inbound:
    return Inbound(channel="max", user_id=user, event_id=event_id, event=TextEvent("привет"))


async def _customers(store: Store, count: int) -> list[str]:
    """``count`` customers, each active after the one before (the last is the most recent)."""
    made = []
    for n in range(count):
        customer = await store.intake.accept(f"max:e{n}", _inbound(str(n), f"e{n}"))
        assert customer is not None
        await store.redis.zadd(store.keys.desk_active, {customer: 1000.0 + n})
        made.append(customer)
    return made


def test_a_skipped_item_at_or_before_the_start_moves_it_on() -> None:
    assert skipped_start(0, []) == 0
    assert skipped_start(2, [0, 5]) == 3
    assert skipped_start(2, [0, 1, 2, 3, 9]) == 6
    assert skipped_start(2, [3, 4]) == 2


async def test_an_accepted_message_marks_its_customer_active(store: Store) -> None:
    customer = await store.intake.accept("max:a1", _inbound("7", "a1"))
    assert customer is not None
    first = await store.redis.zscore(store.keys.desk_active, customer)
    assert first is not None
    await store.redis.zadd(store.keys.desk_active, {customer: 1.0})
    assert await store.intake.accept("max:a2", _inbound("7", "a2")) == customer  # fast path
    again = await store.redis.zscore(store.keys.desk_active, customer)
    assert again is not None
    assert again >= first


async def test_pages_of_the_most_recent_leave_the_hand_offs_out(store: Store) -> None:
    c = await _customers(store, 6)
    summaries = store.desk.summaries
    skip = {c[4], c[1], "unknown"}  # "unknown": waiting, yet never active
    assert await summaries.active(0, 2, skip) == ([c[5], c[3]], 7)
    assert await summaries.active(2, 2, skip) == ([c[2], c[0]], 7)
    assert await summaries.active(4, 2, skip) == ([], 7)
    assert await summaries.active(0, 0, skip) == ([], 7)
    assert await summaries.active(1, 3) == ([c[4], c[3], c[2]], 6)


async def test_an_index_missing_customers_is_completed_from_their_accounts(
    store: Store,
) -> None:
    c = await _customers(store, 3)
    await store.redis.delete(store.keys.desk_active)  # data from before the index
    await store.redis.zadd(store.keys.desk_active, {c[0]: 9e9})  # one written since
    found, total = await store.desk.summaries.active(0, 10)
    assert total == 3
    assert found == [c[0], c[2], c[1]]  # the others by their accounts' last activity


async def test_merged_and_erased_customers_leave_the_index(store: Store) -> None:
    keep, other, erased = await _customers(store, 3)
    await store.identities.merge(keep, other)
    await store.forget(erased)
    assert await store.desk.summaries.active(0, 10) == ([keep], 1)
    latest = max(a.last_active for a in await store.identities.accounts(keep))
    assert await store.redis.zscore(store.keys.desk_active, keep) == latest  # its accounts'


async def test_only_customers_gone_leave_the_index_when_found(store: Store) -> None:
    kept, gone = await _customers(store, 2)
    await store.redis.srem(store.keys.customers, gone)  # merged away while it wrote
    assert await store.desk.summaries.inactive([kept, gone]) == 1
    assert await store.desk.summaries.active(0, 10) == ([kept], 1)

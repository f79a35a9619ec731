"""storage.notice_merge: a merge moves the other customer's notices, their indexes and SMS
counters to the customer that stays, so the ladder climbs on, delivery reports find it, the
daily SMS limit counts both, and erasing the merged customer leaves nothing of either."""

from __future__ import annotations

from storage.notices import Sent
from storage.sms_quota import Refusal, Taken
from storage.store import Store

LADDER = ("messenger", "sms", "email")
NOW = 1_800_000_000.0
DAY, MONTH = "2027-01-15", "2027-01"


async def _two_customers(store: Store) -> tuple[str, str]:
    keep = await store.identities.resolve("vk:100")
    other = await store.identities.resolve("web:s100")
    notices = store.notices
    await notices.open(other, "n1", LADDER, NOW)  # climbing, its SMS sent
    await notices.advance(other, "n1", 0, NOW + 1)
    await notices.claim(other, "n1", 1, "t", NOW + 2)
    await notices.settle(other, "n1", 1, "t", Sent("smsru", "sms-77"), NOW + 3)
    await notices.texts.keep(other, "n1", "Мария, запись завтра в 10:00")
    await notices.reschedule(other, "n1", NOW + 7200, NOW + 3)
    await notices.open(other, "both", LADDER, NOW)  # the same notice on both sides
    await notices.open(keep, "both", ("messenger", "email"), NOW)
    assert isinstance(await notices.quota.take_sms(other, DAY, MONTH, 2, None, 1), Taken)
    return keep, other


async def test_a_merge_moves_the_notices_and_their_indexes(store: Store) -> None:
    keep, other = await _two_customers(store)
    await store.identities.merge(keep, other)
    moved = await store.notices.get(keep, "n1")
    assert moved is not None
    assert (moved.state, moved.at, moved.text) == ("climbing", 1, "Мария, запись завтра в 10:00")
    assert await store.notices.get(other, "n1") is None
    due = [(d.customer, d.notice_id, d.at) for d in await store.notices.due(NOW + 10**6)]
    assert sorted(due) == sorted([(keep, "n1", NOW + 7200), (keep, "both", NOW)])
    ref = await store.notices.sms("smsru", "sms-77")
    assert ref is not None
    assert (ref.customer, ref.notice_id, ref.rung) == (keep, "n1", 1)
    kept = await store.notices.get(keep, "both")
    assert kept is not None
    assert kept.rungs == ("messenger", "email")  # the one that stays keeps its own
    assert await store.notices.answered(keep, NOW + 9) == ["both", "n1"]  # climbing: both


async def test_today_s_sms_of_the_merged_customer_count_against_the_limit(
    store: Store,
) -> None:
    keep, other = await _two_customers(store)
    assert isinstance(await store.notices.quota.take_sms(keep, DAY, MONTH, 2, None, 1), Taken)
    await store.identities.merge(keep, other)
    refused = await store.notices.quota.take_sms(keep, DAY, MONTH, 2, None, 1)
    assert isinstance(refused, Refusal)
    assert (refused.limit, refused.day_count) == ("daily", 2)


async def test_forgetting_the_merged_customer_leaves_nothing_of_either(store: Store) -> None:
    keep, other = await _two_customers(store)
    await store.identities.merge(keep, other)
    await store.forget(keep)
    async for key in store.redis.scan_iter(match=f"{store.keys.prefix}*"):
        for customer in (keep, other):
            assert customer.encode() not in key, key
            if await store.redis.type(key) in (b"string", "string"):
                assert customer.encode() not in (await store.redis.get(key) or b""), key
    assert await store.notices.sms("smsru", "sms-77") is None
    assert await store.notices.due(NOW + 10**6) == []

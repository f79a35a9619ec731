"""storage.notices and storage.sms_quota: a notice's rung is claimed once — concurrent claims,
retries and a crash between claim and settle included —, settled only by its claim, stopped by
the customer's answer; the SMS quota holds at its limits; erasure leaves nothing behind."""

from __future__ import annotations

import asyncio

from storage.keys import NOTICE_TTL, SMS_DAY_TTL, SMS_INDEX_TTL, SMS_MONTH_TTL
from storage.notices import Notices, Refused, Sent, Unknown
from storage.sms_quota import Refusal, Taken
from storage.store import Store

LADDER = ("messenger", "sms", "email")
NOW = 1_800_000_000.0
DAY, MONTH = "2027-01-15", "2027-01"


async def _at_sms(store: Store, customer: str = "c1", notice: str = "n1") -> None:
    """A notice opened and moved to its SMS rung."""
    await store.notices.open(customer, notice, LADDER, NOW)
    await store.notices.advance(customer, notice, 0, NOW + 1)


async def test_open_is_idempotent(store: Store) -> None:
    first, created = await store.notices.open("c1", "job-1:2027-01-15T10:00", LADDER, NOW)
    again, created_again = await store.notices.open("c1", "job-1:2027-01-15T10:00", ["email"],
                                                    NOW + 60)
    assert (created, created_again) == (True, False)
    assert again == first
    assert (first.rungs, first.at, first.state, first.created) == (LADDER, 0, "climbing", NOW)
    assert first.outcomes == (None, None, None)
    assert 0 < await store.redis.ttl(store.keys.notice("c1", "job-1:2027-01-15T10:00")) \
        <= NOTICE_TTL
    await store.notices.answered("c1", NOW + 1)
    late, _ = await store.notices.open("c1", "job-1:2027-01-15T10:00", LADDER, NOW + 2)
    assert late.state == "answered"
    assert await store.notices.due(NOW + 100) == []  # opening it again schedules nothing


async def test_a_rung_is_claimed_once_and_a_retry_of_the_same_claim_gets_it_back(
    store: Store,
) -> None:
    await _at_sms(store)
    won = await store.notices.claim("c1", "n1", 1, "a", NOW + 2)
    retry = await store.notices.claim("c1", "n1", 1, "a", NOW + 3)  # a timed-out call, again
    other = await store.notices.claim("c1", "n1", 1, "b", NOW + 3)
    assert (won.won, won.why) == (True, "claimed")
    assert retry.won
    assert retry.rung == won.rung
    assert (other.won, other.why) == (False, "taken")
    assert other.rung is not None
    assert (other.rung.status, other.rung.token) == ("claimed", "a")


async def test_of_concurrent_claims_exactly_one_wins(store: Store) -> None:
    await _at_sms(store)
    claims = await asyncio.gather(*(store.notices.claim("c1", "n1", 1, f"t{i}", NOW + 2)
                                    for i in range(20)))
    winners = [c for c in claims if c.won]
    assert len(winners) == 1
    assert {c.why for c in claims if not c.won} == {"taken"}
    assert winners[0].rung is not None
    assert all(c.rung is not None and c.rung.token == winners[0].rung.token for c in claims)


async def test_a_claim_never_settled_keeps_the_rung_from_being_sent_again(store: Store) -> None:
    await _at_sms(store)
    assert (await store.notices.claim("c1", "n1", 1, "before-crash", NOW + 2)).won
    # kill -9 here: the SMS may or may not have left. A fresh process sees the claim.
    restarted = Notices(store.redis, store.keys)
    again = await restarted.claim("c1", "n1", 1, "after-restart", NOW + 100)
    assert (again.won, again.why) == (False, "taken")
    assert again.rung is not None
    assert again.rung.status == "claimed"
    notice = await restarted.get("c1", "n1")
    assert notice is not None
    assert notice.outcomes[1] == again.rung
    # the runtime may record the doubt with the token it reads; the rung stays closed
    settled = await restarted.settle("c1", "n1", 1, again.rung.token, Unknown("crash"), NOW + 101)
    assert settled.ok
    assert settled.rung is not None
    assert settled.rung.status == "unknown"
    assert not (await restarted.claim("c1", "n1", 1, "after-restart", NOW + 102)).won


async def test_only_the_current_rung_of_a_climbing_notice_is_claimed(store: Store) -> None:
    await store.notices.open("c1", "n1", LADDER, NOW)
    assert (await store.notices.claim("c1", "n1", 1, "t", NOW)).why == "not_current"
    assert (await store.notices.claim("c1", "missing", 0, "t", NOW)).why == "missing"
    assert (await store.notices.claim("c1", "n1", 0, "t", NOW)).won


async def test_settle_needs_the_claims_token_and_happens_once(store: Store) -> None:
    await _at_sms(store)
    await store.notices.claim("c1", "n1", 1, "mine", NOW + 2)
    wrong = await store.notices.settle("c1", "n1", 1, "theirs", Sent("smsru", "m-1", 2), NOW + 3)
    assert not wrong.ok
    assert wrong.rung is not None
    assert wrong.rung.status == "claimed"
    assert await store.notices.sms("smsru", "m-1") is None  # nothing indexed for a refusal
    sent = await store.notices.settle("c1", "n1", 1, "mine", Sent("smsru", "m-1", 2), NOW + 3)
    assert sent.ok
    assert sent.rung is not None
    assert (sent.rung.status, sent.rung.message_id, sent.rung.parts) == ("sent", "m-1", 2)
    repeat = await store.notices.settle("c1", "n1", 1, "mine", Sent("smsru", "m-1", 2), NOW + 3)
    assert repeat.ok  # a retry of the same settlement
    changed = await store.notices.settle("c1", "n1", 1, "mine", Refused("no"), NOW + 4)
    assert not changed.ok
    assert changed.rung == sent.rung
    never = await store.notices.settle("c1", "n1", 2, "mine", Refused("no"), NOW + 4)
    assert (never.ok, never.rung) == (False, None)  # an unclaimed rung


async def test_answered_stops_every_climbing_notice_of_that_customer_only(store: Store) -> None:
    await store.notices.open("c1", "n1", LADDER, NOW)
    await _at_sms(store, "c1", "n2")
    await store.notices.open("c2", "n1", LADDER, NOW)
    assert await store.notices.answered("c1", NOW + 5) == ["n1", "n2"]
    for notice_id in ("n1", "n2"):
        notice = await store.notices.get("c1", notice_id)
        assert notice is not None
        assert notice.state == "answered"
        claim = await store.notices.claim("c1", notice_id, notice.at, "t", NOW + 6)
        assert (claim.won, claim.why) == (False, "answered")
    other = await store.notices.get("c2", "n1")
    assert other is not None
    assert other.state == "climbing"
    assert [(d.customer, d.notice_id) for d in await store.notices.due(NOW + 10)] == [("c2", "n1")]
    assert await store.notices.answered("c1", NOW + 7) == []
    await store.redis.sadd(store.keys.climbing("c1"), "n1")  # a stale index entry
    assert await store.notices.answered("c1", NOW + 8) == []  # the record decides


async def test_advance_moves_once_from_a_rung_then_exhausts(store: Store) -> None:
    await store.notices.open("c1", "n1", LADDER, NOW)
    moved, stale = await asyncio.gather(store.notices.advance("c1", "n1", 0, NOW + 1),
                                        store.notices.advance("c1", "n1", 0, NOW + 1))
    assert moved is not None
    assert stale is not None
    assert (moved.at, stale.at) == (1, 1)  # two callers advancing rung 0: it moved once
    await store.notices.advance("c1", "n1", 1, NOW + 2)
    last = await store.notices.advance("c1", "n1", 2, NOW + 3)
    assert last is not None
    assert (last.at, last.state) == (2, "exhausted")
    assert await store.notices.due(NOW + 100) == []
    assert (await store.notices.claim("c1", "n1", 2, "t", NOW + 4)).why == "exhausted"
    assert await store.redis.smembers(store.keys.climbing("c1")) == set()
    assert await store.notices.answered("c1", NOW + 5) == []
    assert await store.notices.advance("c1", "missing", 0, NOW) is None


async def test_stop_ends_a_climbing_notice_as_delivered(store: Store) -> None:
    await store.notices.open("c1", "n1", LADDER, NOW)
    stopped = await store.notices.stop("c1", "n1", "delivered", NOW + 1)
    assert stopped is not None
    assert stopped.state == "delivered"
    assert await store.notices.answered("c1", NOW + 2) == []  # no longer climbing
    still = await store.notices.get("c1", "n1")
    assert still is not None
    assert still.state == "delivered"
    assert await store.notices.due(NOW + 100) == []


async def test_a_sent_sms_is_found_by_its_id_and_its_delivery_report_lands_on_its_rung(
    store: Store,
) -> None:
    await _at_sms(store)
    await store.notices.claim("c1", "n1", 1, "t", NOW + 2)
    await store.notices.settle("c1", "n1", 1, "t", Sent("smsc", "77-1"), NOW + 3)
    ref = await store.notices.sms("smsc", "77-1")
    assert ref is not None
    assert (ref.customer, ref.notice_id, ref.rung) == ("c1", "n1", 1)
    assert 0 < await store.redis.ttl(store.keys.sms_sent("smsc", "77-1")) <= SMS_INDEX_TTL
    assert await store.notices.sms("smsru", "77-1") is None  # ids are per provider
    assert await store.notices.report("smsc", "77-1", False, NOW + 60) == ref
    notice = await store.notices.get("c1", "n1")
    assert notice is not None
    assert notice.outcomes[1] is not None
    assert (notice.outcomes[1].status, notice.outcomes[1].failed_at) == ("failed", NOW + 60)
    assert notice.outcomes[1].message_id == "77-1"
    assert await store.notices.report("smsc", "nope", True, NOW + 61) is None
    assert not (await store.notices.claim("c1", "n1", 1, "t2", NOW + 62)).won  # still closed


async def test_due_and_reschedule(store: Store) -> None:
    await store.notices.open("c1", "n1", LADDER, NOW, check_at=NOW + 10)
    await store.notices.open("c2", "n2", LADDER, NOW, check_at=NOW + 20)
    assert await store.notices.due(NOW + 5) == []
    assert [d.notice_id for d in await store.notices.due(NOW + 30)] == ["n1", "n2"]
    assert [d.notice_id for d in await store.notices.due(NOW + 30, limit=1)] == ["n1"]
    assert await store.notices.reschedule("c1", "n1", NOW + 7200, NOW + 30)
    due = await store.notices.due(NOW + 30)
    assert [(d.customer, d.notice_id, d.at) for d in due] == [("c2", "n2", NOW + 20)]
    notice = await store.notices.get("c1", "n1")
    assert notice is not None
    assert notice.next_check == NOW + 7200
    await store.notices.answered("c2", NOW + 31)
    assert not await store.notices.reschedule("c2", "n2", NOW + 40, NOW + 31)
    # a due entry whose record never came (a crash inside ``open``) or expired is dropped
    await store.redis.zadd(store.keys.notices_due, {"c3 gone": NOW})
    assert not await store.notices.reschedule("c3", "gone", NOW + 40, NOW + 31)
    assert [d.notice_id for d in await store.notices.due(NOW + 10_000)] == ["n1"]


async def test_the_daily_limit_counts_a_customers_messages(store: Store) -> None:
    quota = store.notices.quota
    for _ in range(2):
        assert isinstance(await quota.take_sms("c1", DAY, MONTH, 2, None, 3), Taken)
    refused = await quota.take_sms("c1", DAY, MONTH, 2, None, 1)
    assert refused == Refusal("daily", 2, 6)
    assert isinstance(await quota.take_sms("c2", DAY, MONTH, 2, None, 1), Taken)  # per customer
    assert isinstance(await quota.take_sms("c1", "2027-01-16", MONTH, 2, None, 1), Taken)
    day_key = store.keys.sms_day(DAY, "c1")
    assert 0 < await store.redis.ttl(day_key) <= SMS_DAY_TTL  # counters expire on their own
    assert 0 < await store.redis.ttl(store.keys.sms_month(MONTH)) <= SMS_MONTH_TTL


async def test_the_monthly_budget_counts_parts_and_a_refused_send_is_given_back_once(
    store: Store,
) -> None:
    quota = store.notices.quota
    taken = await quota.take_sms("c1", DAY, MONTH, None, 5, 3)
    assert isinstance(taken, Taken)
    assert taken.month_parts == 3
    assert await quota.take_sms("c2", DAY, MONTH, None, 5, 3) == Refusal("monthly", 0, 3)
    assert await quota.give_back(taken)
    assert not await quota.give_back(taken)  # once only
    after = await quota.take_sms("c2", DAY, MONTH, None, 5, 5)
    assert isinstance(after, Taken)
    assert (after.month_parts, after.day_count) == (5, 1)
    assert (await quota.take_sms("c1", DAY, MONTH, None, 5, 1)) == Refusal("monthly", 0, 5)
    assert isinstance(await quota.take_sms("c1", DAY, "2027-02", 0, None, 1), Refusal)


async def test_erase_leaves_no_key_and_no_index_entry(store: Store) -> None:
    for customer in ("gone01", "kept01"):
        await _at_sms(store, customer, "n1")
        await store.notices.open(customer, "n2", LADDER, NOW)
        await store.notices.claim(customer, "n1", 1, "t", NOW + 2)
        await store.notices.settle(customer, "n1", 1, "t", Sent("smsru", f"id-{customer}"),
                                   NOW + 3)
        await store.notices.quota.take_sms(customer, DAY, MONTH, 5, 100, 1)
    # a notice record whose id set has expired is found all the same
    await store.notices.open("gone01", "n3", LADDER, NOW)
    await store.redis.srem(store.keys.notice_ids("gone01"), "n3")
    # and a due entry whose record never came (a crash inside ``open``)
    await store.redis.zadd(store.keys.notices_due, {"gone01 n9": NOW})

    assert await store.notices.erase("gone01") == 3

    async for key in store.redis.scan_iter(match=f"{store.keys.prefix}*"):
        assert b"gone01" not in key, key
        if await store.redis.type(key) in (b"string", "string"):
            assert b"gone01" not in (await store.redis.get(key) or b""), key
    due = await store.redis.zrange(store.keys.notices_due, 0, -1)
    assert due
    assert not [m for m in due if b"gone01" in m]
    assert await store.notices.sms("smsru", "id-gone01") is None
    assert await store.notices.sms("smsru", "id-kept01") is not None
    assert [n for n in ("n1", "n2") if await store.notices.get("kept01", n)] == ["n1", "n2"]

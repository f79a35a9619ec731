"""The outbox: written before sending, acknowledged after, stale entries claimed once."""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from storage_helpers import RoundTrips

from flows.types import Button, Reply
from storage.batch import batcher
from storage.client import scripts_span_slots
from storage.outbox import shard_of
from storage.store import Store

REPLY = Reply("Ждём вас завтра", (Button("ok", "Хорошо"),))


async def test_put_then_ack(store: Store) -> None:
    entry_id = await store.outbox.put("c1", "vk", "42", REPLY)
    pending = await store.outbox.pending()
    assert [(e.id, e.customer, e.channel, e.user_id, e.reply) for e in pending] == [
        (entry_id, "c1", "vk", "42", REPLY)
    ]
    assert await store.outbox.ack(entry_id)
    assert not await store.outbox.ack(entry_id)
    assert await store.outbox.pending() == []


async def test_fresh_entries_are_not_claimed(store: Store) -> None:
    await store.outbox.put("c1", "vk", "42", REPLY)
    assert await store.outbox.claim_stale(60_000) == []


async def _lapse(store: Store, entry_id: str, hours: int = 1) -> None:
    """Age the entry's lease by an hour (no sleeping: a loaded machine cannot let a fresh
    lease lapse between the claims below, as a 200 ms one did)."""
    lease = store.outbox.keys_of(entry_id).lease
    leased_ms = await store.redis.zscore(lease, entry_id)
    assert leased_ms is not None
    await store.redis.zadd(lease, {entry_id: leased_ms - hours * 3_600_000})


async def test_stale_entry_is_claimed_by_exactly_one_caller(store: Store) -> None:
    entry_id = await store.outbox.put("c1", "max", "7", REPLY)
    await _lapse(store, entry_id)
    claims = await asyncio.gather(*(store.outbox.claim_stale(60_000) for _ in range(8)))
    winners = [c for c in claims if c]
    assert len(winners) == 1
    [entry] = winners[0]
    assert (entry.id, entry.reply, entry.claims) == (entry_id, REPLY, 1)
    # The claim renewed the lease: not claimable again until it goes stale once more.
    assert await store.outbox.claim_stale(60_000) == []
    await _lapse(store, entry_id)
    [again] = await store.outbox.claim_stale(60_000)
    assert again.claims == 2
    await store.outbox.ack(entry_id)
    assert await store.outbox.claim_stale(0) == []


async def test_touch_renews_the_lease_of_a_pending_entry_only(store: Store) -> None:
    entry_id = await store.outbox.put("c1", "vk", "42", REPLY)
    await _lapse(store, entry_id)
    assert await store.outbox.touch(entry_id)
    assert await store.outbox.claim_stale(60_000) == []  # touched just now, not an hour ago
    await _lapse(store, entry_id)
    [entry] = await store.outbox.claim_stale(60_000)
    assert entry.id == entry_id
    await store.outbox.ack(entry_id)
    assert not await store.outbox.touch(entry_id)  # acknowledged: nothing to renew
    assert not await store.outbox.touch("0000000000000-unknown")
    assert await store.redis.zcard(store.outbox.keys_of(entry_id).lease) == 0  # no lease added
    assert await store.redis.zcard(store.keys.outbox(None).lease) == 0


async def test_drop_customer_removes_only_theirs(store: Store) -> None:
    await store.outbox.put("c1", "vk", "1", REPLY)
    keep = await store.outbox.put("c2", "vk", "2", REPLY)
    assert await store.outbox.drop_customer("c1") == 1
    assert [e.id for e in await store.outbox.pending()] == [keep]


async def test_claim_by_id_takes_the_pending_ones_at_once(store: Store) -> None:
    first = await store.outbox.put("c1", "vk", "1", Reply("раз"))
    second = await store.outbox.put("c1", "vk", "1", Reply("два"))
    await store.outbox.ack(second)
    claimed = await store.outbox.claim([first, second, "no-such-entry"])
    assert [(e.id, e.reply.text) for e in claimed] == [(first, "раз")]
    assert await store.outbox.claim([]) == []
    await _lapse(store, first)
    assert [e.id for e in await store.outbox.claim_stale(60_000)] == [first]  # still pending


async def test_an_entry_records_who_when_and_what(store: Store) -> None:
    before = time.time()
    entry_id = await store.outbox.put("c1", "max", "42", REPLY)
    after = time.time()
    assert re.fullmatch(rf"\d{{13}}-{re.escape(store.outbox.instance)}-[0-9a-f]{{12}}"
                        rf"-o{shard_of('c1')}", entry_id)
    assert before * 1000 - 1 <= int(entry_id[:13]) <= after * 1000 + 1
    entry = await store.outbox.get(entry_id)
    assert entry is not None
    assert (entry.id, entry.customer, entry.channel, entry.user_id, entry.reply, entry.claims) \
        == (entry_id, "c1", "max", "42", REPLY, 0)
    assert before <= entry.created <= after
    assert await store.outbox.get("0000000000000-nobody-000000000000") is None


async def test_pending_is_in_id_order(store: Store) -> None:
    ids = [await store.outbox.put("c1", "vk", str(n), REPLY) for n in range(4)]
    pending = await store.outbox.pending()
    assert [e.id for e in pending] == sorted(ids)  # the time of writing, to the ms
    assert [e.user_id for e in pending] == [str(ids.index(i)) for i in sorted(ids)]


async def test_prepared_entries_are_written_leased_in_one_round_trip(
    store: Store, round_trips: RoundTrips
) -> None:
    prepared = [store.outbox.prepare("c1", "vk", "1", Reply(t)) for t in ("раз", "два")]
    assert prepared[0].id != prepared[1].id
    before = round_trips.count
    await store.outbox.put_prepared(prepared)
    if scripts_span_slots(store.redis):  # (a cluster client may ask for the slots first)
        assert round_trips.count - before == 1
    assert {(e.id, e.reply.text) for e in await store.outbox.pending()} == {
        (prepared[0].id, "раз"), (prepared[1].id, "два")}
    assert await store.outbox.claim_stale(60_000) == []  # leased by their writer
    for entry in prepared:
        await _lapse(store, entry.id)
    assert len(await store.outbox.claim_stale(60_000)) == 2


async def test_claim_stale_takes_at_most_count_oldest_first(store: Store) -> None:
    ids = [await store.outbox.put("c1", "vk", "1", Reply(str(n))) for n in range(3)]
    for age, entry_id in zip((3, 2, 1), ids, strict=True):
        await _lapse(store, entry_id, hours=age)
    assert [e.id for e in await store.outbox.claim_stale(60_000, count=2)] == ids[:2]
    assert [e.id for e in await store.outbox.claim_stale(60_000, count=2)] == ids[2:]


async def test_claim_stale_leaves_entries_younger_than_min_idle(store: Store) -> None:
    entry_id = await store.outbox.put("c1", "vk", "1", REPLY)
    await _lapse(store, entry_id)  # an hour old
    assert await store.outbox.claim_stale(2 * 3_600_000) == []
    assert [e.id for e in await store.outbox.claim_stale(3_500_000)] == [entry_id]


async def test_an_ack_queued_on_a_pipeline_acknowledges(store: Store) -> None:
    entry_id = await store.outbox.put("c1", "vk", "1", REPLY)
    await _lapse(store, entry_id)
    await store.outbox.claim_stale(60_000)  # tried once
    pipe = store.redis.pipeline(transaction=False)
    store.outbox.ack_to(pipe, entry_id)
    assert await pipe.execute() == [1]
    assert await store.outbox.pending() == []
    for key in store.outbox.keys_of(entry_id)[1:]:  # lease, tries: nothing left behind
        assert await store.redis.exists(key) == 0


async def test_a_lease_without_its_entry_is_cleaned_by_a_claim(store: Store) -> None:
    entry_id = await store.outbox.put("c1", "vk", "1", REPLY)
    await store.redis.hdel(store.outbox.keys_of(entry_id).data, entry_id)  # (an old ack)
    await _lapse(store, entry_id)
    assert await store.outbox.claim_stale(60_000) == []
    assert await store.redis.zcard(store.outbox.keys_of(entry_id).lease) == 0


async def test_inherit_takes_only_the_names_entries_never_claimed(store: Store) -> None:
    mine = await store.outbox.put("c1", "vk", "1", Reply("моё"))
    claimed = await store.outbox.put("c1", "vk", "1", Reply("передано"))
    await store.outbox.claim([claimed])  # handed on: another process sends it
    other = Store(store.redis, bot=store.keys.bot, instance="0123456789ab")
    theirs = await other.outbox.put("c2", "vk", "2", Reply("чужое"))
    [entry] = await store.outbox.inherit()
    assert (entry.id, entry.reply.text, entry.claims) == (mine, "моё", 1)
    assert await store.outbox.inherit() == []
    assert {e.id for e in await store.outbox.pending()} == {mine, claimed, theirs}


async def test_drop_customer_counts_what_it_dropped(store: Store) -> None:
    for n in range(3):
        await store.outbox.put("c1", "vk", "1", Reply(str(n)))
    keep = await store.outbox.put("c2", "vk", "2", REPLY)
    assert await store.outbox.drop_customer("c1") == 3
    assert await store.outbox.drop_customer("c1") == 0
    assert [e.id for e in await store.outbox.pending()] == [keep]


async def test_a_sweep_claims_a_hundred_entries_at_most_by_default(store: Store) -> None:
    entries = [store.outbox.prepare("c1", "vk", "1", Reply(f"№{n}")) for n in range(101)]
    await store.outbox.put_prepared(entries)
    assert len(await store.outbox.pending()) == 101
    assert len(await store.outbox.claim_stale(0)) == 100


async def test_a_post_is_marked_until_the_ack(store: Store) -> None:
    """``posts.posting`` marks when an entry went out (bots.posting: a re-send after a kill waits
    for such a post to land); the ack takes the mark, and a gone entry gets none."""
    entry = await store.outbox.put("c1", "max", "5", Reply("раз"))
    posts = store.outbox.posts
    assert await posts.posted(entry) is None  # never posted: re-sent at once
    await posts.posting(entry)
    assert await posts.posted(entry) is not None
    assert await store.outbox.ack(entry)
    assert await posts.posted(entry) is None
    await posts.posting(entry)
    assert await posts.posted(entry) is None
    assert await store.outbox.pending() == []


async def test_posts_marked_in_one_iteration_share_a_pipeline(store: Store) -> None:
    """Under load many customers' replies are about to be posted at once: their marks reach
    Redis as one pipeline (``storage.batch``), not a round trip each (outside a cluster)."""
    if not scripts_span_slots(store.redis):
        pytest.skip("a cluster sends each mark to its shard's node")
    entries = [await store.outbox.put(f"c{n}", "max", str(n), Reply("раз")) for n in range(8)]
    stats = batcher(store.redis)  # type: ignore[arg-type]
    before = stats.batches, stats.batched
    await asyncio.gather(*(store.outbox.posts.posting(e) for e in entries))
    assert (stats.batches - before[0], stats.batched - before[1]) == (1, 8)
    assert None not in [await store.outbox.posts.posted(e) for e in entries]

"""storage.intake and the turn's combined round trips (lock with inbox, save with history,
release with acknowledgements) — on every backend, the Redis Cluster included."""

from __future__ import annotations

import asyncio

import pytest
from storage_helpers import BUSY_LUA, RoundTrips

from flows.types import DialogState, Frame, Inbound, Reply, TextEvent
from storage.client import scripts_span_slots
from storage.errors import StorageError, StorageUnavailable
from storage.history import HistoryEntry
from storage.intake import Arrival
from storage.locks import Lease
from storage.outbox import shard_in
from storage.store import Sent, Store
from tests.held import holds
from tests.waiting import until

STATE = DialogState(stack=(Frame(f="booking", s="day"),))


def _inbound(event_id: str, text: str, user: str = "42", name: str | None = None) -> Inbound:
    return Inbound(channel="max", user_id=user, event_id=event_id, event=TextEvent(text),
                   name=name)


async def test_accept_resolves_pushes_and_deduplicates(store: Store) -> None:
    first = await store.intake.accept("max:e1", _inbound("e1", "привет", name=" Оля "))
    assert first is not None  # a new account: a new customer
    assert await store.identities.customer_of("max:42") == first
    assert await store.redis.sismember(store.keys.customers, first)  # listed for export
    again = await store.intake.accept("max:e2", _inbound("e2", "ещё", name="Другое"))
    assert again == first  # the known account's fast path
    assert await store.intake.accept("max:e2", _inbound("e2", "ещё")) is None  # a repeat
    pending = await store.inbox.pending(first)
    assert [p.event for _, p in pending] == [TextEvent("привет"), TextEvent("ещё")]
    assert await store.inbox.customers_with_pending() == [first]
    assert (await store.profiles.get(first)).name == "Оля"  # the first name stays
    [account] = await store.identities.accounts(first)
    assert account.account == "max:42"


async def test_an_account_merged_away_is_resolved_again(store: Store) -> None:
    old = await store.intake.accept("max:a", _inbound("a", "1"))
    keep = await store.intake.accept("max:b", _inbound("b", "2", user="7"))
    assert old is not None
    assert keep is not None
    assert old != keep
    await store.identities.merge(keep, old)  # max:42 now belongs to keep
    assert await store.intake.accept("max:c", _inbound("c", "3")) == keep
    assert [p.event for _, p in await store.inbox.pending(keep)][-1] == TextEvent("3")
    assert await store.inbox.pending(old) == []


async def test_a_turn_in_three_round_trips_keeps_every_record(store: Store) -> None:
    customer = await store.intake.accept("max:t1", _inbound("t1", "завтра"))
    assert customer is not None
    lease = await store.states.locks.lease(customer)
    lock = lease.lock
    [(entry_id, inbound)] = await store.inbox.decode(customer, lease.rows)  # read with the lock
    state, version = await store.states.load(customer, snapshot=lease.snapshot)
    assert (state, version) == (None, 0)
    came_in = HistoryEntry(1.0, "max", "in", "завтра")
    await store.states.save(customer, STATE, version=0, lock=lock, inbox_id=entry_id,
                            history=came_in)
    reply = Reply("Во сколько?")
    entry = await store.outbox.put(customer, "max", "42", reply)
    sent = [Sent(entry, customer, HistoryEntry(2.0, "max", "out", reply.text))]
    assert await store.release_if_idle(lock, sent) is None  # nothing new: released
    assert sent == []
    assert not await holds(store, lock)
    assert await store.outbox.pending() == []
    assert [(e.direction, e.text) for e in await store.history.read(customer)] == [
        ("in", "завтра"), ("out", "Во сколько?"),
    ]
    assert await store.inbox.customers_with_pending() == []
    assert await store.states.load(customer) == (STATE, 1)


async def test_the_release_takes_a_max_reply_s_post_mark_with_its_entry(store: Store) -> None:
    """A MAX reply is marked just before its post (``Outbox.posts``); the turn's release
    acknowledges it and takes the mark in the same step. The release left every mark behind
    (one field per MAX reply, kept for ever, in the shard's tries hash)."""
    customer = await store.intake.accept("max:m1", _inbound("m1", "завтра"))
    assert customer is not None
    lease = await store.states.locks.lease(customer)
    [(entry_id, _)] = await store.inbox.decode(customer, lease.rows)
    await store.states.save(customer, STATE, version=0, lock=lease.lock, inbox_id=entry_id,
                            history=HistoryEntry(1.0, "max", "in", "завтра"))
    entries = [await store.outbox.put(customer, "max", "42", Reply(said))
               for said in ("Во сколько?", "Утром или вечером?")]
    for entry in entries:
        await store.outbox.posts.posting(entry)
        assert await store.outbox.posts.posted(entry) is not None
    assert await store.outbox.pending() != []  # (the marks are not entries)
    sent = [Sent(entry, customer, HistoryEntry(2.0, "max", "out", "…")) for entry in entries]
    assert await store.release_if_idle(lease.lock, sent) is None
    for entry in entries:
        assert await store.outbox.posts.posted(entry) is None
        keys = store.keys.outbox(shard_in(entry))
        for key in (keys.data, keys.tries):
            assert await store.redis.hlen(key) == 0


async def test_release_keeps_the_lock_while_new_entries_wait(store: Store) -> None:
    customer = await store.intake.accept("max:n1", _inbound("n1", "a"))
    assert customer is not None
    lock = await store.states.locks.acquire(customer)
    [(first, _)] = await store.inbox.pending(customer)
    await store.states.save(customer, STATE, version=0, lock=lock, inbox_id=first)
    await store.intake.accept("max:n2", _inbound("n2", "b"))  # arrives during the turn
    rows = await store.release_if_idle(lock, [])
    assert rows is not None
    assert [p.event for _, p in await store.inbox.decode(customer, rows)] == [TextEvent("b")]
    assert await holds(store, lock)
    await store.release(lock, [])
    assert not await holds(store, lock)


async def test_accept_can_take_the_lock_with_state_and_inbox(store: Store) -> None:
    arrival = await store.intake.take("max:k1", _inbound("k1", "a"))
    assert arrival is not None
    customer, lease = arrival.customer, arrival.lease
    assert lease is not None
    lock = lease.lock
    assert await holds(store, lock)
    # Held: the next accept pushes but cannot take it.
    assert await store.intake.take("max:k2", _inbound("k2", "b")) == Arrival(customer, None)
    assert [p.event for _, p in await store.inbox.pending(customer)] == [
        TextEvent("a"), TextEvent("b")]
    assert await store.states.load(customer) == (None, 0)
    rows = await store.release_if_idle(lock, [])
    assert rows is not None  # "b" is waiting: the lock stays
    await store.release(lock, [])


async def test_repeats_are_caught_by_a_process_that_never_saw_the_account(store: Store) -> None:
    customer = await store.intake.accept("max:r1", _inbound("r1", "a"))
    other = Store(store.redis, bot=store.keys.bot)  # another process: an empty cache
    assert await other.intake.accept("max:r1", _inbound("r1", "a")) is None
    assert await other.intake.accept("max:r2", _inbound("r2", "b")) == customer
    assert len(await store.inbox.pending(customer)) == 2


async def test_a_cached_account_that_was_erased_gets_a_new_customer(store: Store) -> None:
    first = await store.intake.accept("max:f1", _inbound("f1", "a"))
    assert first is not None
    await store.forget(first)
    second = await store.intake.accept("max:f2", _inbound("f2", "b"))
    assert second not in (None, first)
    assert await store.identities.customer_of("max:42") == second


async def test_a_waiting_acquire_gets_the_lock_an_accept_takes_meanwhile(
    store: Store, round_trips: RoundTrips, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by bench/load.py: a drain polling for the lock while this process's own accept
    # took it waited until LockTimeout, and the message got no reply.
    # The waiter polls once a second (at least half a second apart), so the release and the
    # accept below come between two of its polls even on a busy machine; with the 2-50 ms
    # polls of production the waiter itself sometimes took the freed lock first there.
    monkeypatch.setattr("storage.locks._POLL_MIN", 1.0)
    monkeypatch.setattr("storage.locks._POLL_MAX", 1.0)
    customer = await store.intake.accept("max:w1", _inbound("w1", "a"))
    assert customer is not None
    held = await store.states.locks.acquire(customer)
    handed: list[Lease] = []  # what the runtime's drain is handed (``Dispatch.handed``)
    before = round_trips.count
    waiter = asyncio.create_task(store.states.locks.lease(
        customer, wait=5.0, handed=lambda: handed.pop() if handed else None))
    # The waiter tried and now polls (a second try sent): it is waiting, not yet started.
    await until(lambda: round_trips.count >= before + 2, what="the waiter's second try")
    await store.release(held, [])
    arrival = await store.intake.take("max:w2", _inbound("w2", "b"))
    assert arrival is not None
    assert arrival.customer == customer
    assert arrival.lease is not None
    handed.append(arrival.lease)
    lock = (await asyncio.wait_for(waiter, 8)).lock
    assert await holds(store, lock)
    assert handed == []  # handed to the waiter, not left behind
    await store.release(lock, [])


async def _stall(store: Store, ms: int, monkeypatch: pytest.MonkeyPatch) -> (
        asyncio.Task[object]):
    """Redis runs a ``ms``-long script: a stall, not an outage. Commands sent meanwhile run
    when it ends, after their callers (deadline 0.2 s) have given up waiting."""
    if not scripts_span_slots(store.redis):
        pytest.skip("a cluster sends these calls from the caller's task; its timeout closes "
                    "the connection, so whether the script ran is not for the test to choose")
    monkeypatch.setattr("storage.errors.OPERATION_TIMEOUT", 0.2)
    monkeypatch.setattr("storage.locks.OPERATION_TIMEOUT", 0.2)
    await asyncio.gather(*(store.redis.ping() for _ in range(3)))  # connections to spare
    stall = asyncio.create_task(store.redis.eval(BUSY_LUA, 0, ms))
    await asyncio.sleep(0.05)  # it runs
    return stall


async def test_a_lock_whose_answer_timed_out_is_taken_over_at_once(
    store: Store, monkeypatch: pytest.MonkeyPatch,
) -> None:
    customer = await store.intake.accept("max:s1", _inbound("s1", "a"))
    assert customer is not None
    await store.inbox.done(customer, (await store.inbox.pending(customer))[0][0])
    stall = await _stall(store, 600, monkeypatch)
    with pytest.raises(StorageUnavailable):  # the webhook answers 503; the platform retries
        await store.intake.take("max:s2", _inbound("s2", "b"))
    await stall  # the stall ends: the accept's script runs, takes the lock and pushes
    assert await until(lambda: store.redis.get(store.keys.lock(customer)),
                       what="the lock taken by the late script") is not None
    # The platform's retry is a repeat, yet the customer is handed back to be processed, and
    # the lock the lost answer held is taken over instead of waiting 30 s for it to expire.
    assert await store.intake.take("max:s2", _inbound("s2", "b")) == Arrival(customer, None)
    lock = await store.states.locks.acquire(customer, wait=0.3)
    assert [p.event for _, p in await store.inbox.pending(customer)] == [TextEvent("b")]
    await store.release(lock, [])
    assert await store.redis.get(store.keys.lock(customer)) is None
    assert await store.intake.accept("max:s2", _inbound("s2", "b")) is None  # settled: repeat


async def test_an_acquire_whose_answer_timed_out_leaves_a_lock_taken_over_at_once(
    store: Store, monkeypatch: pytest.MonkeyPatch,
) -> None:
    customer = await store.intake.accept("max:q1", _inbound("q1", "a"))
    assert customer is not None
    await store.release(await store.states.locks.acquire(customer), [])  # the script is loaded
    stall = await _stall(store, 600, monkeypatch)
    with pytest.raises(StorageUnavailable):
        await store.states.locks.acquire(customer, wait=0.0)
    await stall  # the acquire's script runs now, though its caller gave up
    assert await until(lambda: store.redis.get(store.keys.lock(customer)),
                       what="the lock taken by the late script") is not None
    lock = await store.states.locks.acquire(customer, wait=0.3)
    assert await holds(store, lock)
    await store.release(lock, [])


async def test_a_retry_after_the_account_was_merged_away_is_still_a_repeat(
    store: Store,
) -> None:
    old = await store.intake.accept("max:m1", _inbound("m1", "1"))
    keep = await store.intake.accept("max:m2", _inbound("m2", "2", user="7"))
    assert old is not None
    assert keep is not None
    await store.identities.merge(keep, old)  # max:42 and its inbox entry move to keep
    assert await store.intake.accept("max:m1", _inbound("m1", "1")) is None  # the retry
    assert [p.event for _, p in await store.inbox.pending(keep)] == [
        TextEvent("2"), TextEvent("1")]
    assert await store.intake.accept("max:m3", _inbound("m3", "3")) == keep


async def test_an_accept_costs_one_round_trip_a_new_account_too_an_unseen_one_more(
    store: Store, round_trips: RoundTrips
) -> None:
    if not scripts_span_slots(store.redis):
        pytest.skip("a cluster writes the customer's node and the pending set's in parallel; "
                    "a new account goes through Identities.resolve")
    await store.intake.accept("max:p0", _inbound("p0", "x", user="1"))  # the scripts loaded
    before = round_trips.count
    customer = await store.intake.accept("max:p1", _inbound("p1", "a"))
    assert round_trips.count - before == 1  # one script creates it, no read before
    before = round_trips.count
    arrival = await store.intake.take("max:p2", _inbound("p2", "b"))
    assert arrival is not None
    assert arrival.customer == customer
    assert round_trips.count - before == 1  # known here: one script
    store.intake._known.clear()  # as in another process, or after a restart
    before = round_trips.count
    assert await store.intake.accept("max:p3", _inbound("p3", "c")) == customer
    assert round_trips.count - before == 2  # the create answers with its customer; the push
    assert [p.event for _, p in await store.inbox.pending(customer)] == [
        TextEvent("a"), TextEvent("b"), TextEvent("c")]
    assert await store.redis.scard(store.keys.customers) == 2  # nobody created twice


async def test_a_message_without_a_name_leaves_the_name_to_a_later_one(store: Store) -> None:
    customer = await store.intake.accept("max:n1", _inbound("n1", "a"))
    assert customer is not None
    assert (await store.profiles.get(customer)).name is None
    other = Store(store.redis, bot=store.keys.bot)  # a process that never saw the account
    assert await other.intake.accept("max:n2", _inbound("n2", "b", name="Оля")) == customer
    assert (await store.profiles.get(customer)).name == "Оля"


async def test_accept_with_the_lock_reads_state_and_inbox_in_the_same_step(
    store: Store, round_trips: RoundTrips
) -> None:
    customer = await store.intake.accept("max:l1", _inbound("l1", "a"))
    assert customer is not None
    lock = await store.states.locks.acquire(customer)
    [(entry, _)] = await store.inbox.pending(customer)
    await store.states.save(customer, STATE, version=0, lock=lock, inbox_id=entry)
    await store.release(lock, [])
    arrival = await store.intake.take("max:l2", _inbound("l2", "b"))
    assert arrival is not None
    assert arrival.customer == customer
    lease = arrival.lease
    assert lease is not None
    before = round_trips.count
    assert await store.states.load(customer, snapshot=lease.snapshot) == (STATE, 1)
    assert [p.event for _, p in await store.inbox.decode(customer, lease.rows)] == [
        TextEvent("b")]
    assert round_trips.count == before  # both read by the accept's own script
    await store.release(lease.lock, [])


async def test_an_accept_without_the_lock_whose_answer_timed_out_retries_as_a_repeat(
    store: Store, monkeypatch: pytest.MonkeyPatch,
) -> None:
    customer = await store.intake.accept("max:u1", _inbound("u1", "a"))
    assert customer is not None
    stall = await _stall(store, 600, monkeypatch)
    with pytest.raises(StorageUnavailable):
        await store.intake.accept("max:u2", _inbound("u2", "b"))  # take=False
    await stall  # the late script pushes "b" and takes no lock

    async def pushed() -> bool:
        return len(await store.inbox.pending(customer)) == 2

    await until(pushed, what="the late script's push")
    # No lock call went unanswered: the retry is an ordinary repeat; the entry waits in the
    # inbox (and the pending set) for whoever processes the customer.
    assert await store.intake.accept("max:u2", _inbound("u2", "b")) is None
    assert await store.redis.get(store.keys.lock(customer)) is None


async def test_a_known_account_costs_a_process_that_never_saw_it_one_get_more(
    store: Store, round_trips: RoundTrips
) -> None:
    if not scripts_span_slots(store.redis):
        pytest.skip("a cluster writes the customer's node and the pending set's in parallel")
    customer = await store.intake.accept("max:g1", _inbound("g1", "a"))
    other = Store(store.redis, bot=store.keys.bot)  # another process: an empty cache
    before = round_trips.count
    assert await other.intake.accept("max:g2", _inbound("g2", "b")) == customer
    assert round_trips.count - before == 2  # GET of the account; the script


async def test_a_retry_after_a_merge_leaves_no_stale_customer_cached(
    store: Store, round_trips: RoundTrips
) -> None:
    if not scripts_span_slots(store.redis):
        pytest.skip("a cluster writes the customer's node and the pending set's in parallel")
    old = await store.intake.accept("max:v1", _inbound("v1", "1"))
    keep = await store.intake.accept("max:v2", _inbound("v2", "2", user="7"))
    assert old is not None
    await store.identities.merge(keep, old)  # max:42 moves to keep
    assert await store.intake.accept("max:v1", _inbound("v1", "1")) is None  # the retry
    before = round_trips.count
    assert await store.intake.accept("max:v3", _inbound("v3", "3")) == keep
    assert round_trips.count - before == 2  # GET of the account; the script


async def test_an_account_that_keeps_moving_is_refused_after_three_tries(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = await store.intake.accept("max:w1", _inbound("w1", "a"))
    assert customer is not None
    other = Store(store.redis, bot=store.keys.bot)  # another process: an empty cache
    resolve, found = other.identities.resolve, []

    async def losing_the_race(account: str, *, name: str | None = None) -> str:
        found.append(await resolve(account, name=name))
        await store.redis.zrem(store.keys.accounts(found[-1]), account)  # moved on again
        return found[-1]

    await store.redis.zrem(store.keys.accounts(customer), "max:42")  # a merge under way
    monkeypatch.setattr(other.identities, "resolve", losing_the_race)
    with pytest.raises(StorageError) as refused:
        await other.intake.accept("max:w2", _inbound("w2", "b"))
    assert str(refused.value) == "account max:42 keeps moving between customers; retry later"
    assert found == [customer] * 3


async def test_a_fresh_take_forgets_the_token_of_a_take_whose_answer_was_lost(
    store: Store, monkeypatch: pytest.MonkeyPatch,
) -> None:
    customer = await store.intake.accept("max:x1", _inbound("x1", "a"))
    assert customer is not None
    held = await store.states.locks.acquire(customer)  # the late script finds it taken
    stall = await _stall(store, 600, monkeypatch)
    with pytest.raises(StorageUnavailable):
        await store.intake.take("max:x2", _inbound("x2", "b"))
    await stall

    async def pushed() -> bool:  # the late script ran, found the lock held, took nothing
        return len(await store.inbox.pending(customer)) == 2

    await until(pushed, what="the late script's push")
    await store.release(held, [])
    arrival = await store.intake.take("max:x3", _inbound("x3", "c"))  # takes the lock
    assert arrival is not None
    assert arrival.lease is not None
    await store.release(arrival.lease.lock, [])
    # The lost take's token can hold no lock now: its retry is an ordinary repeat.
    assert await store.intake.take("max:x2", _inbound("x2", "b")) is None


async def test_a_name_that_arrives_after_a_merge_is_stored(store: Store) -> None:
    old = await store.intake.accept("max:y1", _inbound("y1", "a"))  # no name; cached here
    keep = await store.intake.accept("max:y2", _inbound("y2", "b", user="7"))
    assert old is not None
    assert keep is not None
    await store.identities.merge(keep, old)  # max:42 moves to keep, unknown to this cache
    assert await store.intake.accept("max:y3", _inbound("y3", "c", name="Оля")) == keep
    assert (await store.profiles.get(keep)).name == "Оля"


async def test_accepts_of_one_loop_iteration_share_one_round_trip(
    store: Store, round_trips: RoundTrips
) -> None:
    if not scripts_span_slots(store.redis):
        pytest.skip("a cluster sends each accept's pipeline on its own")
    customers = [await store.intake.accept(f"max:h{n}", _inbound(f"h{n}", "a", user=str(n)))
                 for n in range(3)]  # known here now
    before = round_trips.count
    again = await asyncio.gather(*(
        store.intake.accept(f"max:i{n}", _inbound(f"i{n}", "b", user=str(n))) for n in range(3)))
    assert again == customers
    assert round_trips.count - before == 1  # one pipeline of three scripts

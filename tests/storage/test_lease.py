"""storage.locks through its public calls: what a lease carries, how long a lock lives, who may
release or renew it, how a waiting lease ends, and the orphaned tokens it takes over.

Who holds a lock is read from Redis itself (``Keys.lock``), not asked of ``Locks``.
"""

from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import ResponseError

from flows.types import DialogState, Frame, Inbound, TextEvent
from storage.codec import text
from storage.errors import LockTimeout
from storage.keys import LOCK_TTL
from storage.locks import ORPHAN_TOKENS, ORPHANS_KEPT, Lease, Lock, Locks, Orphans, idle_rows
from storage.store import Store
from tests.waiting import until, until_gone

STATE = DialogState(stack=(Frame(f="booking", s="day"),))


async def _holder(store: Store, customer: str) -> str | None:
    """The token the customer's lock holds in Redis, or None."""
    found = await store.redis.get(store.keys.lock(customer))
    return None if found is None else text(found)


async def _pttl(store: Store, customer: str) -> int:
    return int(await store.redis.pttl(store.keys.lock(customer)))


def _inbound(event_id: str, said: str) -> Inbound:
    return Inbound("max", "42", event_id, TextEvent(said))


def test_a_lock_s_ttl_in_milliseconds_is_never_zero() -> None:
    assert Lock("c", "t", 2.5).ttl_ms == 2500
    assert Lock("c", "t", 0.0004).ttl_ms == 1  # PX 0 would be an error, not a short lock
    assert Lock("c", "t", 0).ttl_ms == 1


def test_a_lease_reads_a_lock_script_s_reply() -> None:
    lock = Lock("c", "t", 1.0)
    full = Lease.read(lock, [b"3", b"{}", [[b"1-0", [b"k", b"v"]]], b"fx"])
    assert (full.lock, full.snapshot.version, full.snapshot.data) == (lock, b"3", b"{}")
    assert full.rows == [("1-0", {"k": "v"})]
    assert full.effects == "fx"
    assert Lease.read(lock, [None, None, []]).effects is None  # a reply without the 4th item
    assert Lease.read(lock, [None, None, [], b""]).effects is None
    assert Lease.read(lock, [None, None, [], None]).rows == []


def test_idle_rows_are_the_pending_rows_none_once_released_or_empty_when_lost() -> None:
    assert idle_rows([]) is None  # released
    assert idle_rows(0) == []  # not ours any more: nothing released, nothing checked
    assert idle_rows([[b"1-0", [b"k", b"v"]]]) == [("1-0", {"k": "v"})]


def test_orphaned_tokens_keep_the_oldest_and_the_newest() -> None:
    orphans = Orphans()
    assert (orphans.of("c"), orphans.has("c")) == ((), False)
    tokens = [f"t{i}" for i in range(ORPHAN_TOKENS)]
    for token in tokens:
        orphans.add("c", token)
    assert orphans.of("c") == tuple(tokens)  # exactly the limit: all kept
    orphans.add("c", "late")
    half = ORPHAN_TOKENS // 2
    assert orphans.of("c") == (*tokens[:half], *tokens[-half + 1:], "late")
    assert len(orphans.of("c")) == ORPHAN_TOKENS
    assert orphans.has("c")
    assert not orphans.has("d")
    orphans.forget("c")
    orphans.forget("c")  # twice: nothing to forget is no error
    assert (orphans.of("c"), orphans.has("c")) == ((), False)


def test_orphans_are_kept_for_a_bounded_number_of_customers() -> None:
    orphans = Orphans()
    for n in range(ORPHANS_KEPT):
        orphans.add(f"c{n}", "t")
    assert orphans.has("c0")
    orphans.add("c0", "u")  # a customer already kept: nobody dropped
    assert orphans.has(f"c{ORPHANS_KEPT - 1}")
    orphans.add("new", "t")
    assert not orphans.has("c0")  # the oldest customer went
    assert orphans.has("c1")
    assert orphans.has("new")


async def test_a_lease_carries_its_lock_for_its_ttl_named_after_the_process(store: Store) -> None:
    locks = store.states.locks
    assert locks.lock_ttl == LOCK_TTL
    lease = await locks.lease("c1")
    lock = lease.lock
    assert (lock.customer, lock.ttl) == ("c1", LOCK_TTL)
    assert lock.token.startswith(f"{store.instance}.")
    assert len(lock.token) == len(store.instance) + 1 + 24  # 96 random bits in hex
    assert await _holder(store, "c1") == lock.token
    assert LOCK_TTL * 1000 - 5000 < await _pttl(store, "c1") <= LOCK_TTL * 1000
    assert (lease.snapshot.version, lease.snapshot.data, lease.rows, lease.effects) == (
        None, None, [], None)
    short = (await locks.lease("c2", ttl=2.5)).lock
    assert short.ttl == 2.5
    assert 0 < await _pttl(store, "c2") <= 2500
    assert short.token != lock.token
    assert await locks.release(lock)
    assert await locks.release(short)


async def test_release_frees_only_the_holder_s_lock(store: Store) -> None:
    locks = store.states.locks
    lock = await locks.acquire("c1")
    stranger = Lock("c1", store.states.locks.new_token(), 30.0)
    assert not await locks.release(stranger)
    assert await _holder(store, "c1") == lock.token
    assert await locks.release(lock)
    assert await _holder(store, "c1") is None
    assert not await locks.release(lock)  # already free


async def test_the_lock_block_holds_and_then_frees(store: Store) -> None:
    async with store.states.lock("c1", ttl=7) as held:
        assert await _holder(store, "c1") == held.token
        assert held.ttl == 7
        assert 0 < await _pttl(store, "c1") <= 7000
    assert await _holder(store, "c1") is None
    with pytest.raises(RuntimeError):
        async with store.states.locks.lock("c1"):
            raise RuntimeError("the turn failed")
    assert await _holder(store, "c1") is None  # freed on the way out too


async def test_extend_renews_only_the_holder_s_lock_for_the_asked_ttl(store: Store) -> None:
    locks = store.states.locks
    lock = await locks.acquire("c1", ttl=2.0)
    assert await locks.extend(lock, ttl=20)
    assert 15_000 < await _pttl(store, "c1") <= 20_000
    assert await locks.extend(lock)  # its own ttl again
    assert 0 < await _pttl(store, "c1") <= 2000
    stranger = Lock("c1", locks.new_token(), 30.0)
    assert not await locks.extend(stranger, ttl=60)
    assert await _pttl(store, "c1") <= 2000
    assert await locks.release(lock)
    assert not await locks.extend(lock)
    assert await _holder(store, "c1") is None  # extending a free lock does not take it
    brief = await locks.acquire("c2")
    assert await locks.extend(brief, ttl=0.0001)  # 1 ms, never PX 0 (an error)
    await until_gone(store.redis, store.keys.lock("c2"))


async def test_a_waiting_lease_times_out_after_the_default_wait(store: Store) -> None:
    locks = Locks(store.redis, store.keys, instance=store.instance, lock_wait=0.2)
    assert locks.lock_wait == 0.2
    held = await locks.acquire("c1")
    with pytest.raises(LockTimeout) as refused:
        await locks.lease("c1")  # no wait given: lock_wait
    assert "c1" in str(refused.value)
    assert "0.2 s" in str(refused.value)
    assert await _holder(store, "c1") == held.token
    await locks.release(held)


async def test_a_waiting_lease_gets_the_lock_once_it_is_free(store: Store) -> None:
    locks = store.states.locks
    held = await locks.acquire("c1")
    polls: list[int] = []

    def handed() -> Lease | None:
        polls.append(1)
        return None

    waiter = asyncio.create_task(locks.lease("c1", wait=10, handed=handed))
    await until(lambda: len(polls) >= 2, what="the lease polling")
    await locks.release(held)
    lease = await waiter
    assert await _holder(store, "c1") == lease.lock.token
    await locks.release(lease.lock)


async def test_a_lease_handed_meanwhile_ends_the_wait(store: Store) -> None:
    locks = store.states.locks
    held = await locks.lease("c1")
    asked = []

    def handed() -> Lease | None:
        asked.append(1)
        return held if len(asked) == 2 else None

    assert await locks.lease("c1", wait=5, handed=handed) is held
    assert len(asked) == 2
    with pytest.raises(LockTimeout):
        await locks.lease("c1", wait=0.05, handed=lambda: None)
    await locks.release(held.lock)


async def test_an_orphaned_token_s_lock_is_taken_over_and_the_orphans_forgotten(
    store: Store,
) -> None:
    locks = store.states.locks
    lost = await locks.acquire("c1")  # its answer "never came"
    locks.orphans.add("c1", lost.token)
    lease = await locks.lease("c1", wait=0.05)
    assert await _holder(store, "c1") == lease.lock.token != lost.token
    assert 0 < await _pttl(store, "c1") <= lease.lock.ttl_ms
    assert not locks.orphans.has("c1")  # taken over: forgotten
    assert not await locks.release(lost)
    await locks.release(lease.lock)
    locks.orphans.add("c2", "stale-token")  # a call that took nothing: the lock is free
    free = await locks.lease("c2", wait=0.05)
    assert not locks.orphans.has("c2")
    await locks.release(free.lock)


async def test_release_if_idle_keeps_the_lock_while_entries_pushed_meanwhile_wait(
    store: Store,
) -> None:
    """An entry pushed while the lock is held (the lock marked: ``storage.lock_scripts``)
    keeps it, put back unmarked; once processed, the next release lets go."""
    locks = store.states.locks
    async with store.states.lock("c1") as lock:
        await store.states.save("c1", STATE, version=0, lock=lock, effects="fx")
    lease = await locks.lease("c1")
    entry = await store.inbox.push("c1", _inbound("e1", "a"))
    rows = await locks.release_if_idle(lease.lock)
    assert rows is not None
    assert [i for i, _ in rows] == [entry]
    assert await _holder(store, "c1") == lease.lock.token
    stranger = Lock("c1", locks.new_token(), 30.0)
    assert await locks.release_if_idle(stranger) == []  # not ours: its holder goes on
    assert await _holder(store, "c1") == lease.lock.token
    await store.inbox.done("c1", entry)
    assert await locks.release_if_idle(lease.lock) is None
    assert await _holder(store, "c1") is None
    assert (await locks.lease("c1")).effects is None  # the turns ran: effects forgotten


async def test_a_release_with_an_empty_inbox_leaves_a_lock_that_is_not_its_own(
    store: Store,
) -> None:
    """The steady path's release takes the lock and compares in one GETDEL: a lock not its
    own (its own expired, another took it) is put back in the same step, still expiring
    (with the full ttl: at least what it had), and its holder releases it as usual — on
    both release scripts (with and without replies to acknowledge)."""
    locks = store.states.locks
    lease = await locks.lease("c1", ttl=20.0)
    await store.redis.pexpire(store.keys.lock("c1"), 5_000)
    stranger = Lock("c1", locks.new_token(), 20.0)
    assert await locks.release_if_idle(stranger) == []
    assert await store.release_if_idle(stranger, []) == []
    assert await _holder(store, "c1") == lease.lock.token
    assert 5_000 < await _pttl(store, "c1") <= 20_000
    assert await locks.release_if_idle(lease.lock) is None
    assert await _holder(store, "c1") is None
    assert await locks.release_if_idle(stranger) == []  # nobody's: nothing put back
    assert await _holder(store, "c1") is None


async def test_lock_scripts_queued_on_a_pipeline_share_its_round_trip(store: Store) -> None:
    locks = store.states.locks
    one = await locks.acquire("c1", ttl=2.0)
    two = await locks.acquire("c2", ttl=2.0)
    await store.inbox.push("c1", _inbound("e1", "a"))  # during the hold: the lock is marked
    await store.redis.pexpire(store.keys.lock("c1"), 500)
    pipe = store.redis.pipeline(transaction=False)
    locks.extend_to(pipe, one)
    locks.release_if_idle_to(pipe, one)
    locks.release_to(pipe, two)
    extended, pending, released = await pipe.execute()
    assert (extended, released) == (1, 1)
    assert 500 < await _pttl(store, "c1") <= 2000  # renewed to its own ttl
    assert idle_rows(pending) is not None  # an entry waits: kept
    assert await _holder(store, "c1") == one.token
    assert await _holder(store, "c2") is None
    await locks.release(one)


async def test_a_lock_call_redis_refused_leaves_no_orphaned_token(store: Store) -> None:
    """Only a call without Redis's answer may have taken the lock; a refusal took nothing."""
    await store.redis.hset(store.keys.lock("c1"), "not", "a lock")  # WRONGTYPE for GET
    with pytest.raises(ResponseError):
        await store.states.locks.lease("c1", wait=0)
    assert not store.states.locks.orphans.has("c1")

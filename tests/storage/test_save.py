"""storage.state's load and save through their public calls: a save refused for a stale version
or a lost lock (and then writing nothing), what a save writes with the state (history, the
lock's renewal, the state's expiry), and states read from a snapshot or from Redis."""

from __future__ import annotations

import pytest
from storage_helpers import RoundTrips

from flows.types import DialogState, Frame, Inbound, Reply, TextEvent
from storage.errors import CodecError, LockLost, LockTimeout, StorageError, VersionConflict
from storage.history import HistoryEntry
from storage.kept import encode
from storage.locks import Lock, Snapshot
from storage.save import Writes
from storage.state import States
from storage.store import Store

STATE = DialogState(stack=(Frame(f="booking", s="day"),), vars={"n": 1})


def _bare(store: Store, **kwargs: object) -> States:
    """States without the Store facade's history and outbox."""
    return States(store.redis, store.keys, instance=store.instance,
                  **kwargs)  # type: ignore[arg-type]


async def test_load_decodes_a_snapshot_without_reading_redis(store: Store) -> None:
    encoded = STATE.model_dump_json(by_alias=True, exclude_defaults=True)
    assert await store.states.load("c1", snapshot=Snapshot(b"7", encoded.encode())) == (STATE, 7)
    assert await store.states.load("c1", snapshot=Snapshot("7", encoded)) == (STATE, 7)
    assert await store.states.load("c1", snapshot=Snapshot(None, None)) == (None, 0)
    assert await store.states.load("c1", snapshot=Snapshot(b"7", None)) == (None, 0)
    assert await store.states.load("c1", snapshot=Snapshot(None, encoded)) == (None, 0)
    assert await store.states.load("c1") == (None, 0)  # nothing stored: the snapshot was read


async def test_an_invalid_stored_state_is_a_clear_error(store: Store) -> None:
    with pytest.raises(CodecError) as refused:
        await store.states.load("c7", snapshot=Snapshot(b"1", b'{"stack": 5}'))
    assert "customer c7: stored state is invalid" in str(refused.value)
    await store.redis.hset(store.keys.state("c7"), mapping={"v": 2, "d": "not json"})
    with pytest.raises(CodecError):
        await store.states.load("c7")


async def test_refusals_name_the_customer_and_the_versions(store: Store) -> None:
    lock = await store.states.locks.acquire("c1")
    await store.states.save("c1", STATE, version=0, lock=lock)
    with pytest.raises(VersionConflict) as stale:
        await store.states.save("c1", STATE, version=4, lock=lock)
    assert str(stale.value) == "customer c1: version 1 stored, 4 loaded"
    lost = Lock("c1", store.states.locks.new_token(), 30.0)
    with pytest.raises(LockLost) as taken:
        await store.states.save("c1", STATE, version=1, lock=lost)
    assert str(taken.value) == "customer c1: lock expired or taken over before save"
    with pytest.raises(LockLost) as other:
        await store.states.save("c2", STATE, version=0, lock=lock)
    assert str(other.value) == "lock is for customer c1, not c2"
    await store.states.locks.release(lock)
    with pytest.raises(LockLost):  # released: a free lock is not ours either
        await store.states.save("c1", STATE, version=1, lock=lock)
    assert await store.states.load("c1") == (STATE, 1)


async def test_a_refused_save_writes_no_history(store: Store) -> None:
    lock = await store.states.locks.acquire("c1")
    said = HistoryEntry(1.5, "max", "in", "привет")
    with pytest.raises(VersionConflict):
        await store.states.save("c1", STATE, version=2, lock=lock, history=said)
    assert await store.history.read("c1") == []
    assert await store.states.save("c1", STATE, version=0, lock=lock, history=said) == 1
    assert await store.history.read("c1") == [said]
    await store.states.locks.release(lock)


async def test_a_save_renews_the_lock_for_its_ttl(store: Store) -> None:
    lock = await store.states.locks.acquire("c1", ttl=20)
    await store.redis.pexpire(store.keys.lock("c1"), 500)
    await store.states.save("c1", STATE, version=0, lock=lock)
    assert 15_000 < await store.redis.pttl(store.keys.lock("c1")) <= 20_000
    await store.states.locks.release(lock)


async def test_the_state_expires_after_its_ttl_unless_kept_forever(store: Store) -> None:
    states = _bare(store, state_ttl=100)
    assert states.state_ttl == 100
    lock = await states.locks.acquire("c1")
    await states.save("c1", STATE, version=0, lock=lock)
    assert 90 < await store.redis.ttl(store.keys.state("c1")) <= 100
    forever = _bare(store, state_ttl=0)
    await forever.save("c1", STATE, version=1, lock=lock)
    await store.redis.persist(store.keys.state("c1"))
    await forever.save("c1", STATE, version=2, lock=lock)
    assert await store.redis.ttl(store.keys.state("c1")) == -1  # no expiry set
    assert await forever.load("c1") == (STATE, 3)
    await states.locks.release(lock)


async def test_the_state_s_expiry_is_renewed_once_per_window_of_a_30th_of_its_ttl(
    store: Store,
) -> None:
    """The save's EXPIRE runs when the state's mark (field "x") is not the current window's
    (a day for 30 days): a second save in the same window leaves the expiry alone (the
    state still lives at least 29 days after it); a save in a later window renews it."""
    day = 86_400
    states = _bare(store, state_ttl=30 * day)
    lock = await states.locks.acquire("c1")
    key = store.keys.state("c1")
    await states.save("c1", STATE, version=0, lock=lock)
    assert 30 * day - 100 < await store.redis.ttl(key) <= 30 * day
    await store.redis.expire(key, 29 * day)  # as if the window's EXPIRE ran a day ago
    await states.save("c1", STATE, version=1, lock=lock)
    assert await store.redis.ttl(key) <= 29 * day  # no EXPIRE this window
    await store.redis.hset(key, "x", f"{day}.1")  # the mark of a window long gone
    await states.save("c1", STATE, version=2, lock=lock)
    assert 30 * day - 100 < await store.redis.ttl(key) <= 30 * day
    assert await states.load("c1") == (STATE, 3)
    await states.locks.release(lock)


async def test_a_save_writes_the_turn_s_profile_fields_and_tags_only_with_its_state(
    store: Store,
) -> None:
    """``Writes`` ride the save: stored when the state is, never by a refused save (a lock
    lost: the turn runs again under the new holder and writes them then)."""
    lock = await store.states.locks.acquire("c1")
    writes = Writes(fields=(("name", "Оля"), ("email", "olya@mail.ru")), tags=("vip", "new"))
    stranger = Lock("c1", "not.the.holder", 30.0)
    with pytest.raises(LockLost):
        await store.states.save("c1", STATE, version=0, lock=stranger, writes=writes)
    assert (await store.profiles.get("c1")).name is None
    await store.states.save("c1", STATE, version=0, lock=lock, writes=writes)
    profile = await store.profiles.get("c1")
    assert (profile.name, profile.email, sorted(profile.tags)) == (
        "Оля", "olya@mail.ru", ["new", "vip"])
    await store.states.locks.release(lock)


async def test_a_save_without_the_facade_refuses_history(store: Store) -> None:
    states = _bare(store)
    lock = await states.locks.acquire("c1")
    with pytest.raises(StorageError, match="history"):
        await states.save("c1", STATE, version=0, lock=lock,
                          history=HistoryEntry(1.0, "max", "in", "a"))
    assert await states.load("c1") == (None, 0)  # refused before anything was written
    assert await states.save("c1", STATE, version=0, lock=lock) == 1
    await states.locks.release(lock)


async def test_delete_forgets_the_state(store: Store) -> None:
    async with store.states.lock("c1") as lock:
        await store.states.save("c1", STATE, version=0, lock=lock)
    await store.states.delete("c1")
    assert await store.states.load("c1") == (None, 0)
    async with store.states.lock("c1") as lock:  # a new customer again: version 0
        assert await store.states.save("c1", STATE, version=0, lock=lock) == 1


async def test_lock_block_of_states_passes_ttl_and_wait(store: Store) -> None:
    async with store.states.lock("c1", ttl=9) as held:
        assert held.ttl == 9
        assert 0 < await store.redis.pttl(store.keys.lock("c1")) <= 9000
        with pytest.raises(LockTimeout, match="0.1 s"):
            async with store.states.lock("c1", wait=0.1):
                pass
    assert await store.redis.get(store.keys.lock("c1")) is None


async def test_states_pass_their_lock_ttl_and_wait_to_the_locks(store: Store) -> None:
    states = _bare(store, lock_ttl=3.0, lock_wait=0.2)
    lock = await states.locks.acquire("c1")
    assert lock.ttl == 3.0
    assert 0 < await store.redis.pttl(store.keys.lock("c1")) <= 3000
    with pytest.raises(LockTimeout, match="0.2 s"):
        await states.locks.acquire("c1")  # the default wait: the one given to States
    await states.locks.release(lock)


async def test_the_refusals_without_the_facade_say_what_is_missing(store: Store) -> None:
    states = _bare(store)
    lock = await states.locks.acquire("c1")
    with pytest.raises(StorageError) as no_history:
        await states.save("c1", STATE, version=0, lock=lock,
                          history=HistoryEntry(1.0, "max", "in", "a"))
    assert str(no_history.value) == "States.save(history=...) needs the Store facade"
    await states.locks.release(lock)


async def test_a_state_is_stored_without_its_defaults(store: Store) -> None:
    """Only what differs from the defaults is stored: a default added later reaches old states."""
    async with store.states.lock("c1") as lock:
        await store.states.save("c1", DialogState(), version=0, lock=lock)
    assert await store.redis.hget(store.keys.state("c1"), "d") == b"{}"


async def test_a_save_with_replies_is_one_round_trip(
    store: Store, round_trips: RoundTrips,
) -> None:
    """The replies are kept in the state by the save's own script, on a cluster too
    (``storage.kept``: the customer's slot); the outbox is not touched."""
    lock = await store.states.locks.acquire("c1")
    await store.states.save("c1", STATE, version=0, lock=lock)  # the script is loaded
    entry = store.outbox.prepare("c1", "max", "7", Reply("Записал."))
    before = round_trips.count
    await store.states.save("c1", STATE, version=1, lock=lock, replies=[entry])
    assert round_trips.count - before == 1
    assert await store.outbox.claim_stale(0) == []
    assert await store.redis.hget(store.keys.state("c1"), "out") == encode([entry]).encode()
    await store.states.locks.release(lock)


async def test_a_save_without_effects_leaves_the_stored_ones(store: Store) -> None:
    lock = await store.states.locks.acquire("c1")
    await store.states.save("c1", STATE, version=0, lock=lock, effects='{"fx": 1}')
    await store.states.save("c1", STATE, version=1, lock=lock)  # effects=None
    await store.states.locks.release(lock)  # a turn cut short: nobody ran them
    assert (await store.states.locks.lease("c1")).effects == '{"fx": 1}'


async def test_a_save_that_settles_no_entry_leaves_the_inbox_alone(store: Store) -> None:
    waiting = await store.inbox.push("c1", Inbound("max", "7", "e1", TextEvent("позже")))
    lock = await store.states.locks.acquire("c1")
    assert await store.states.save("c1", STATE, version=0, lock=lock) == 1
    entry = store.outbox.prepare("c1", "max", "7", Reply("Записал."))  # (with replies too)
    assert await store.states.save("c1", STATE, version=1, lock=lock, replies=[entry]) == 2
    await store.states.locks.release(lock)
    assert [entry_id for entry_id, _ in await store.inbox.pending("c1")] == [waiting]

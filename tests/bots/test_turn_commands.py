"""What one turn asks of Redis, counted by Redis itself (``INFO commandstats``: the commands
inside scripts included): the steady path must not spend commands on work already done.
bench/load.py prints the same count per message under load (issue 17's budget)."""

from __future__ import annotations

import time
from collections import Counter

from bots_harness import Harness

from bots.held import Held
from flows.types import StartEvent, TextEvent
from storage.locks import Lock


async def _counts(harness: Harness) -> Counter[str]:
    stats = await harness.store.redis.info("commandstats")
    return Counter({k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()})


async def test_a_turn_without_effects_does_not_forget_effects_nobody_stored(
    harness: Harness,
) -> None:
    """The lease read the state's stored effects (none), the turn has none: neither its save
    nor its release deletes the field. The only HDEL is the release's of the reply kept in the
    state (``out``, with its post mark, in the same command)."""
    await harness.send("max", "7", StartEvent())
    before = await _counts(harness)
    await harness.send("max", "7", TextEvent("Оля"))
    spent = await _counts(harness) - before
    assert harness.texts("max", "7")[-1] == "Приятно познакомиться, Оля! Сколько вам лет?"
    assert spent["hdel"] == 1


async def test_a_turn_s_effects_are_still_forgotten_once_they_ran(harness: Harness) -> None:
    """With effects (consent, then the phone into the profile) the save keeps them and the
    release forgets them; the next turn without effects leaves nothing behind either."""
    await harness.send("max", "8", TextEvent("телефон"))
    await harness.send("max", "8", TextEvent("да"))  # a consent: an effect
    customer = await harness.customer("max", "8")
    state_key = harness.store.keys.state(customer)
    assert not await harness.store.redis.hexists(state_key, "fx")
    await harness.send("max", "8", TextEvent("+7 916 123-45-67"))  # the phone: an effect
    assert harness.texts("max", "8")[-1] == "Спасибо!"
    assert not await harness.store.redis.hexists(state_key, "fx")
    profile = await harness.store.profiles.get(customer)
    assert profile.consent_granted


async def test_a_known_account_is_proved_theirs_and_marked_active_by_one_command(
    harness: Harness,
) -> None:
    """The accept's ZADD XX GT CH both checks that the account is still the customer's and
    moves its activity mark: no ZSCORE first (the other ZADDs are the desk's activity index,
    ``{desk}:active``, and the step entered, ``storage.reached``; the reply, kept in the
    state, has no outbox lease)."""
    await harness.send("max", "9", StartEvent())
    customer = await harness.customer("max", "9")
    accounts = harness.store.keys.accounts(customer)
    first = await harness.store.redis.zscore(accounts, "max:9")
    before = await _counts(harness)
    await harness.send("max", "9", TextEvent("Оля"))
    spent = await _counts(harness) - before
    assert (spent["zscore"], spent["zadd"]) == (0, 3)
    moved = await harness.store.redis.zscore(accounts, "max:9")
    assert first is not None
    assert moved is not None
    assert moved > first


# A known customer's plain message (one reply, no effects) on the steady path, outside the
# funnel's count: accept 9 (EVALSHA, ZADD of the account, SET NX de-duplication, XADD inbox,
# SADD pending set, ZADD desk activity, SET NX PX lock, HMGET state, XRANGE inbox), save 6
# (EVALSHA, GET lock, HSET state with the reply kept in it, XDEL inbox entry, XADD history,
# ZADD of the steps reached), release 4 (EVALSHA, XADD history, GETDEL lock, HDEL of the kept
# reply); and the funnel's one HINCRBY: 20.
# 30 before issue 17's second round: the state's EXPIRE (now once a day), the lock's
# PEXPIRE (now when a third of its time has passed), the release's GET + DEL (now one
# GETDEL); 27 before its third: a HINCRBY per fact of the turn (3 here; now one field);
# 25 before its fourth: the release's XRANGE of the inbox (now only when a push marked the
# lock during the turn, storage.lock_scripts), the save's HMGET of the version and expiry
# mark (the lease read the mark; the lock check proves the version: storage.save.Marks);
# 23 before its fifth: the reply's outbox entry (HSET + ZADD in the save, ZREM + HDEL in the
# release), now kept in the state's own HSET and deleted by the release's HDEL (storage.kept).
# zadd: account activity, desk activity, the step reached (storage.reached)
PLAIN_MESSAGE = Counter({
    "evalsha": 3, "zadd": 3, "set": 2, "xadd": 3, "sadd": 1, "hmget": 1, "xrange": 1,
    "get": 1, "hset": 1, "xdel": 1, "hdel": 1, "getdel": 1,
})
FUNNEL_COUNTS = 1  # one HINCRBY for all the turn's facts (storage.funnel; was one per fact: 3)


async def test_a_plain_message_costs_its_commands_and_no_more(harness: Harness) -> None:
    """The steady path's commands, counted by Redis (INFO commandstats, inside scripts
    included): the second customer's message, so the funnel's fields and the state's expiry
    mark of the day exist already. Any command added to every message fails this."""
    for user in ("6", "7"):
        await harness.send("max", user, StartEvent())
        await harness.send("max", user, TextEvent("Оля"))
        before = await _counts(harness)
        await harness.send("max", user, TextEvent("33"))
        spent = await _counts(harness) - before
    assert harness.texts("max", "7")[-1] == "Записал: Оля, 33."
    spent["info"] -= 1  # (the count's own)
    funnel = spent.pop("hincrby", 0)
    assert +spent == PLAIN_MESSAGE
    assert funnel == FUNNEL_COUNTS  # (the message answers, enters a step and ends a flow)
    assert sum(PLAIN_MESSAGE.values()) + FUNNEL_COUNTS == 20


async def test_a_turn_s_steps_reached_cost_one_zadd_and_its_facts_one_hincrby(
    harness: Harness,
) -> None:
    """A flow started again reaches two members (the flow and its first step) and its turn
    has two facts (started, entered): the save writes both members with one ZADD (the other
    two: the account's and the desk's activity) and both facts with one HINCRBY."""
    await harness.send("max", "5", StartEvent())
    await harness.send("max", "5", TextEvent("Оля"))
    before = await _counts(harness)
    await harness.send("max", "5", StartEvent())
    spent = await _counts(harness) - before
    assert harness.texts("max", "5")[-1] == "Как вас зовут?"
    customer = await harness.customer("max", "5")
    steps = await harness.store.reached.steps(customer)
    assert {"hello", "hello.name"} <= set(steps)
    assert (spent["zadd"], spent["hincrby"]) == (3, 1)


def test_a_save_renews_only_a_lock_a_third_of_whose_time_has_passed() -> None:
    """The runner asks ``stale`` before each save: a lock taken moments ago is left as it is
    (two thirds of its time and more remain for the turn's sends), an older one renewed."""
    fresh = Held(Lock("c1", "t", 30.0), None, renewed=Lock("c1", "t", 30.0).taken)
    assert not fresh.stale()
    old = Held(Lock("c1", "t", 30.0, taken=time.monotonic() - 11), None)
    old.renewed = old.lock.taken
    assert old.stale()
    old.stored("c1", None, 1, "", renewed=False)
    assert old.stale()  # a save that did not renew leaves it stale
    old.stored("c1", None, 2, "", renewed=True)
    assert not old.stale()

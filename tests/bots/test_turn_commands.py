"""What one turn asks of Redis, counted by Redis itself (``INFO commandstats``: the commands
inside scripts included): the steady path must not spend commands on work already done.
bench/load.py prints the same count per message under load (issue 17's budget)."""

from __future__ import annotations

from collections import Counter

from bots_harness import Harness

from flows.types import StartEvent, TextEvent


async def _counts(harness: Harness) -> Counter[str]:
    stats = await harness.store.redis.info("commandstats")
    return Counter({k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()})


async def test_a_turn_without_effects_does_not_forget_effects_nobody_stored(
    harness: Harness,
) -> None:
    """The lease read the state's stored effects (none), the turn has none: neither its save
    nor its release deletes the field. The only HDEL is the reply's outbox entry's (a reply
    acknowledged a moment after it was written has no claim count to delete)."""
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
    ``{desk}:active``, the reply's outbox lease and the step entered, ``storage.reached``)."""
    await harness.send("max", "9", StartEvent())
    customer = await harness.customer("max", "9")
    accounts = harness.store.keys.accounts(customer)
    first = await harness.store.redis.zscore(accounts, "max:9")
    before = await _counts(harness)
    await harness.send("max", "9", TextEvent("Оля"))
    spent = await _counts(harness) - before
    assert (spent["zscore"], spent["zadd"]) == (0, 4)
    moved = await harness.store.redis.zscore(accounts, "max:9")
    assert first is not None
    assert moved is not None
    assert moved > first

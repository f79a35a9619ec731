"""storage.funnel through the turn's save, on every backend: counts are added exactly when the
save writes (in its script outside a cluster, right after it on one), never when it is
refused; a day's counter expires; fields read back as tallies."""

from __future__ import annotations

import pytest

from flows.types import DialogState, Frame, Happened, Reply
from storage.errors import VersionConflict
from storage.funnel import Counts, Tally, counts_of, facts_in, field_of, funnel_day, parse_field
from storage.keyparts import FUNNEL_TTL
from storage.store import Store

STATE = DialogState(stack=(Frame(f="booking", s="day"),))
DAY = "2026-12-05"
FACTS = (Happened("answered", "booking", "service", "cut", 12),
         Happened("entered", "booking", "day"), Happened("entered", "booking", "day"))


def test_fields_round_trip() -> None:
    assert field_of(FACTS[0], "vk") == "a|booking|service|vk|1|cut"
    assert field_of(Happened("started", "booking"), "max") == "s|booking||max"
    assert field_of(Happened("answered", "b", "s", None, None), "web") == "a|b|s|web||"
    assert parse_field("a|booking|service|vk|1|a|b", 3) == Tally(
        "answered", "booking", "service", "vk", 3, 1, "a|b")  # an option id may hold a "|"
    assert parse_field("e|booking|day|vk", 2) == Tally("entered", "booking", "day", "vk", 2)
    assert parse_field("zz|x|y|z", 1) is None
    joined = '["a|booking|service|vk|1|cut","e|booking|day|vk","e|booking|day|vk"]'
    assert counts_of(DAY, FACTS, "vk") == Counts(DAY, ((joined, 1),))  # one field per turn
    assert counts_of(DAY, FACTS[::-1], "vk") == Counts(DAY, ((joined, 1),))  # (sorted)
    assert counts_of(DAY, FACTS[1:2], "max") == Counts(DAY, (("e|booking|day|max", 1),))
    assert counts_of(DAY, (), "vk") is None
    assert facts_in(joined) == ["a|booking|service|vk|1|cut", *["e|booking|day|vk"] * 2]
    odd = Happened("answered", "b", "s", '"],\n[', None)  # (a choice_from option is any text)
    counts = counts_of(DAY, (odd, FACTS[1]), "web")
    assert counts is not None
    ((name, _),) = counts.pairs
    assert facts_in(name) == ["a|b|s|web||\"],\n[", "e|booking|day|web"]
    assert facts_in("[not json") == []


async def test_a_save_counts_its_turn_once(store: Store) -> None:
    counts = counts_of(DAY, FACTS, "vk")
    lock = await store.states.locks.acquire("c1")
    version = await store.states.save("c1", STATE, version=0, lock=lock, counts=counts)
    entry = store.outbox.prepare("c1", "vk", "1", Reply("Когда?"))
    await store.states.save("c1", STATE, version=version, lock=lock, counts=counts,
                            replies=[entry])  # with the turn's replies too
    with pytest.raises(VersionConflict):  # refused: nothing written, nothing counted
        await store.states.save("c1", STATE, version=0, lock=lock, counts=counts)
    assert await store.funnel.days([DAY, "2026-12-04"]) == [
        Tally("answered", "booking", "service", "vk", 2, 1, "cut"),
        Tally("entered", "booking", "day", "vk", 4),
    ]
    key = counts.key(store.keys) if counts else ""
    assert 0 < await store.redis.ttl(key) <= FUNNEL_TTL


async def test_counters_written_a_field_per_fact_read_on(store: Store) -> None:
    """Counters written before a turn's facts shared one field (each fact a field, its
    increment the times it happened) read the same beside the new fields."""
    key = funnel_day(store.keys.prefix, DAY)
    await store.redis.hset(key, mapping={"a|booking|service|vk|1|cut": 2,
                                         "e|booking|day|vk": 3})
    lock = await store.states.locks.acquire("c3")
    await store.states.save("c3", STATE, version=0, lock=lock,
                            counts=counts_of(DAY, FACTS, "vk"))
    assert await store.funnel.days([DAY]) == [
        Tally("answered", "booking", "service", "vk", 3, 1, "cut"),
        Tally("entered", "booking", "day", "vk", 5),
    ]


async def test_counts_of_several_days_add_up(store: Store) -> None:
    lock = await store.states.locks.acquire("c2")
    version = 0
    for day in ("2026-12-01", "2026-12-02"):
        version = await store.states.save(
            "c2", STATE, version=version, lock=lock,
            counts=counts_of(day, [Happened("started", "booking")], "max"))
    assert await store.funnel.days(["2026-12-01", "2026-12-02"]) == [
        Tally("started", "booking", "", "max", 2)]
    assert await store.funnel.days(["2026-12-02"]) == [Tally("started", "booking", "", "max", 1)]
    await store.funnel.drop(["2026-12-01", "2026-12-02"])
    assert await store.funnel.days(["2026-12-01"]) == []

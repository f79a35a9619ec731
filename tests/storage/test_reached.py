"""storage.reached: the flows and steps a customer reached ride the turn's save (with the
funnel's counts, with the turn's replies, or alone), at the time they were last reached; a refused
save writes none; a merge keeps the later time of the two; forgetting the customer erases
them and the export shows them."""

from __future__ import annotations

import pytest

from bots.desk.queries import customer_export
from flows.types import DialogState, Frame, Happened, Reply
from storage.errors import VersionConflict
from storage.funnel import Counts
from storage.history import HistoryEntry
from storage.reached import Reached
from storage.store import Store

STATE = DialogState(stack=(Frame(f="booking", s="booked"),))
TURN = (Happened("started", "booking"), Happened("entered", "booking", "day"),
        Happened("answered", "booking", "day", seconds=3),
        Happened("entered", "booking", "booked"), Happened("finished", "booking"))


def test_a_turns_facts_become_the_flow_and_the_steps_entered() -> None:
    reached = Reached.of(TURN, 1_700_000_000.25)
    assert reached == Reached(1_700_000_000_250, ("booking", "booking.day", "booking.booked"))
    assert reached.args() == [3, 1_700_000_000_250, "booking", "booking.day", "booking.booked"]
    assert Reached.of([Happened("retried", "booking", "day")], 1.0) is None


@pytest.mark.parametrize("shape", ["alone", "counted", "with_replies"])
async def test_the_save_keeps_what_the_turn_reached(store: Store, shape: str) -> None:
    customer = "c-reached-1"
    lock = await store.states.locks.acquire(customer)
    counts = Counts("2026-12-05", (("e|booking|day|vk", 1),)) if shape != "alone" else None
    outbox = [store.outbox.prepare(customer, "vk", "1", Reply("Записал."))] \
        if shape == "with_replies" else []
    said = HistoryEntry(1.5, "vk", "in", "да")
    await store.states.save(customer, STATE, version=0, lock=lock, history=said,
                            counts=counts, replies=outbox,
                            reached=Reached.of(TURN[:2], 1000.0))
    await store.states.save(customer, STATE, version=1, lock=lock,
                            reached=Reached.of(TURN[1:4], 2000.0))
    await store.states.save(customer, STATE, version=2, lock=lock)  # reached nothing
    assert await store.reached.steps(customer) == {
        "booking": 1000.0, "booking.day": 2000.0, "booking.booked": 2000.0}
    assert await store.history.read(customer) == [said]  # (the entry after the new block)
    assert await store.reached.when([customer, "c-nobody"], "booking.booked") == [2000.0, None]
    await store.states.locks.release(lock)


async def test_a_refused_save_reaches_nothing(store: Store) -> None:
    lock = await store.states.locks.acquire("c-reached-2")
    with pytest.raises(VersionConflict):
        await store.states.save("c-reached-2", STATE, version=5, lock=lock,
                                reached=Reached.of(TURN, 1000.0))
    assert await store.reached.steps("c-reached-2") == {}
    await store.states.locks.release(lock)


async def test_a_merge_keeps_the_later_time_and_forget_erases_them(store: Store) -> None:
    keep = await store.identities.resolve("vk:71")
    other = await store.identities.resolve("max:72")
    for customer, at in ((keep, 1000.0), (other, 3000.0)):
        async with store.states.lock(customer) as lock:
            await store.states.save(customer, STATE, version=0, lock=lock,
                                    reached=Reached.of(TURN[:2], at))
    async with store.states.lock(other) as lock:
        await store.states.save(other, STATE, version=1, lock=lock,
                                reached=Reached.of(TURN[3:4], 500.0))
    await store.identities.merge(keep, other)
    assert await store.reached.steps(keep) == {
        "booking": 3000.0, "booking.day": 3000.0, "booking.booked": 500.0}
    assert (await customer_export(store, keep))["reached"]["booking.booked"] == 500.0
    await store.forget(keep)
    assert await store.reached.steps(keep) == {}
    assert not await store.redis.exists(store.keys.reached(keep))

"""flows.chain: one event's work, with at most MAX_CALLS calls before giving up."""

from __future__ import annotations

from flows.chain import GIVE_UP, MAX_CALLS, Chain
from flows.types import CallHttp, CallResultEvent, HandoffUnheardEvent, TextEvent

CALL = CallHttp(call_id="c", method="POST", url="http://x")


def test_the_event_then_what_is_fed_back_in_order() -> None:
    chain = Chain(TextEvent("привет"))
    assert chain.next() == TextEvent("привет")
    chain.feed(HandoffUnheardEvent(), CALL)
    assert chain.next() == HandoffUnheardEvent()
    assert chain.next() == CALL
    assert chain.next() is None
    assert chain.calls == 1


def test_a_call_past_the_bound_gives_up_once_and_no_call_follows() -> None:
    chain = Chain(TextEvent("крутись"))
    made = 0
    item = chain.next()
    while item is not None and item is not GIVE_UP:
        if isinstance(item, CallHttp):
            made += 1
            chain.feed(CallResultEvent(item.call_id, ok=True, status=200))
        else:
            chain.feed(CALL)  # every turn asks for the same call again
        item = chain.next()
    assert item is GIVE_UP
    assert made == chain.calls == MAX_CALLS
    chain.feed(CALL, HandoffUnheardEvent())  # what the give-up turn produced
    assert chain.next() == HandoffUnheardEvent()  # events still run, calls never again
    assert chain.next() is None

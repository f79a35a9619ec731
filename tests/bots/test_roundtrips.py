"""How many Redis round trips one customer message costs, end to end through the runtime.

Counted at redis-py's socket write (one per command, one per pipeline), so the figure is
exact and does not depend on the machine. The bound is the design of the hot path, the
floor's three: accept (de-duplicate, push, pending set and the lock with state and inbox),
save (with inbox settle, history, lock renewal and the replies' outbox entries), then the
reply's ack and history together with the release (which checks the inbox for new entries).
A change that adds a round trip to every message makes this fail on purpose.
"""

from __future__ import annotations

from bots_harness import Harness

from flows.types import StartEvent, TextEvent
from tests.roundtrips import RoundTrips

ROUND_TRIPS_PER_REPLIED_MESSAGE = 3


async def test_a_known_customers_message_costs_three_round_trips(
    harness: Harness, round_trips: RoundTrips
) -> None:
    await harness.send("max", "7", StartEvent())  # a new customer takes the slow path once
    await harness.send("max", "7", TextEvent("Оля"))
    before = round_trips.count
    await harness.send("max", "7", TextEvent("33"))
    assert harness.texts("max", "7")[-1] == "Записал: Оля, 33."
    print(f"round trips per message: {round_trips.count - before}")
    assert round_trips.count - before <= ROUND_TRIPS_PER_REPLIED_MESSAGE

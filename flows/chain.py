"""What one event sets going: the event, then every result an executor feeds back.

Owns the bound on that loop, shared by every executor of effects (``bots.runtime`` for real,
``svyaz chat`` pretending): a turn asks for an HTTP call, its answer comes back as an event,
the next turn may ask again — a flow whose call leads back to itself would call the
business's endpoint forever while the customer waits. ``Chain`` hands out at most
``MAX_CALLS`` calls per event, then ``GIVE_UP``: the executor runs ``engine.give_up`` (an
apology and the menu) instead of the next call.

Pure: it decides, the executors call and advance. It must do no I/O.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final

from flows.types import CallHttp, Event

MAX_CALLS: Final = 20  # HTTP calls one customer event may chain


@dataclass(frozen=True, slots=True)
class GiveUp:
    """The chain made ``MAX_CALLS`` calls and asks for one more: stop here."""


GIVE_UP: Final = GiveUp()


class Chain:
    """The work of one event, in order: events to advance, calls to make, then nothing."""

    __slots__ = ("_pending", "_stopped", "calls")

    def __init__(self, event: Event) -> None:
        self._pending: deque[Event | CallHttp] = deque([event])
        self._stopped = False
        self.calls = 0  # made so far

    def feed(self, *items: Event | CallHttp) -> None:
        """A turn's results: events to advance and calls it asked for."""
        self._pending.extend(items)

    def next(self) -> Event | CallHttp | GiveUp | None:
        """The next thing to do; ``GIVE_UP`` once, after which no call is made any more;
        None when done."""
        while self._pending:
            item = self._pending.popleft()
            if not isinstance(item, CallHttp):
                return item
            if self._stopped:
                continue
            if self.calls >= MAX_CALLS:
                self._stopped = True
                self._pending.clear()
                return GIVE_UP
            self.calls += 1
            return item
        return None

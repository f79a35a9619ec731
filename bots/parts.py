"""The running bot's parts, made once at start-up, and the edge that waits for them.

``Parts`` is what ``bots.app`` builds when the application starts: every part fully formed
(no field is "not yet"), frozen, handed as one value to whoever needs several of them.
Routes and connectors are fixed before start-up, so they hold the ``Edge`` instead: it
answers "not started yet / stopping" (``NotStarted``) until the parts exist and after the
turns stopped, and passes everything else on. This module must not build parts or decide
anything about a dialogue; it only says whether the parts are there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bots.metrics import Metrics
from bots.webdialogue import greeting, history, quiet, settled
from connectors.base import Unavailable

if TYPE_CHECKING:
    import aiohttp

    from bots.broadcast_send import Sender
    from bots.broadcasts import Broadcaster
    from bots.delivery import Delivery
    from bots.filecopy import FileCopier
    from bots.flowsource import FlowSource
    from bots.incidents import Incidents
    from bots.ladder import Ladder
    from bots.runtime import Runtime
    from bots.scheduler import ReminderService
    from bots.spare import Spare
    from connectors.base import Connector
    from connectors.webchat import WebHistoryItem
    from flows.types import Channel, Event, Inbound, Reply
    from storage.embedded import EmbeddedRedis
    from storage.instance import Instance
    from storage.store import Store


class NotStarted(Unavailable):
    """The parts are not there (yet, or any more): the caller should try again shortly."""


@dataclass(frozen=True, slots=True)
class Parts:
    """Everything ``svyaz run`` starts, fully formed."""

    store: Store
    embedded: EmbeddedRedis | None  # None: the server at SVYAZ_REDIS_URL
    instance: Instance
    http: aiohttp.ClientSession
    flows: FlowSource
    delivery: Delivery
    reminders: ReminderService
    runtime: Runtime
    connectors: Mapping[Channel, Connector]
    spare: Spare  # SMS and e-mail for critical notices (each may be off)
    ladder: Ladder  # critical notices climbing to SMS and e-mail
    incidents: Incidents  # bot-wide troubles the owner hears of once
    broadcasts: Broadcaster  # the owner's broadcasts (API, desk)
    sender: Sender  # sends the running broadcasts
    copies: FileCopier  # copies of the files customers send (and its sweep)


class Edge:
    """What routes and connectors hold from before start-up: the parts once they exist,
    the turns only while they run; ``NotStarted`` otherwise."""

    def __init__(self, *, clock: Callable[[], datetime]) -> None:
        self.metrics = Metrics()
        self.clock = clock
        self.stop = asyncio.Event()  # set when the background tasks should end
        self.tasks: list[asyncio.Task[None]] = []
        self._parts: Parts | None = None
        self._turning = False

    def open(self, parts: Parts) -> None:
        self._parts, self._turning = parts, True

    def stop_turns(self) -> None:
        """From now on no new turn starts (``svyaz run`` is stopping)."""
        self._turning = False

    @property
    def started(self) -> Parts | None:
        return self._parts

    @property
    def parts(self) -> Parts:
        if self._parts is None:
            raise NotStarted("svyaz is starting or stopping")
        return self._parts

    @property
    def runtime(self) -> Runtime:
        """The runtime while it takes turns."""
        if not self._turning:
            raise NotStarted("svyaz is starting or stopping")
        return self.parts.runtime

    @property
    def busy(self) -> int:
        """Turns in progress (none while the runtime takes no turns)."""
        return self.parts.runtime.busy if self._turning else 0

    async def accept(self, inbound: Inbound) -> None:
        """The ``InboundSink`` handed to every connector."""
        await self.runtime.accept(inbound)

    async def inject(self, customer: str, event: Event, *, event_id: str) -> bool:
        return await self.runtime.inject(customer, event, event_id=event_id)

    async def read_file(self, file_id: str) -> bytes:
        """A kept file's bytes (an operator's, for the connector that uploads it)."""
        return await asyncio.to_thread(self.parts.store.files.path(file_id).read_bytes)

    async def web_history(self, session_id: str) -> list[WebHistoryItem] | None:
        parts = self.parts
        return await history(parts.store, session_id, parts.flows.current())

    async def web_quiet(self, session_id: str) -> bool:
        return await quiet(self.parts.store, session_id)

    async def web_settled(self, session_id: str) -> None:
        await settled(self.parts.store, self.runtime, session_id)

    def web_greeting(self) -> tuple[Reply, ...]:
        if self._parts is None:
            return ()
        return greeting(self._parts.flows.current(), self.clock())

"""Telling the business owner: a customer asked for a human, a reminder reached nobody.

This module owns the owner's notification hook: a JSON POST to ``SVYAZ_OWNER_WEBHOOK`` and/or
a message to the owner's VK peer (``SVYAZ_OWNER_VK_PEER``) or MAX chat
(``SVYAZ_OWNER_MAX_CHAT``). A failing hook is logged and never breaks a customer's turn;
callers learn whether anyone was told. It also words the start-up warning for flows that can
hand a customer off with nobody to tell. It must not decide when to notify; callers do.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

import aiohttp

from bots.texts import OWNER_NOTE_ANSWER, OWNER_NOTE_CUSTOMER, OWNER_NOTE_TITLES, OwnerNoteKind
from connectors.base import ChannelError, Connector
from flows.types import Channel, Reply

if TYPE_CHECKING:
    from flows.model import FlowSet

log = logging.getLogger("svyaz.bots")

Kind = OwnerNoteKind
_WEBHOOK_TIMEOUT = aiohttp.ClientTimeout(total=10)


@dataclass(frozen=True, slots=True)
class OwnerNote:
    kind: Kind
    customer: str
    detail: str = ""

    def text(self) -> str:
        lines = [f"{OWNER_NOTE_TITLES[self.kind]}."]
        if self.customer:  # (an incident concerns no one customer)
            lines.append(OWNER_NOTE_CUSTOMER.format(customer=self.customer))
        if self.detail:
            lines.append(self.detail)
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Heard:
    """What the desk made of a hand-off note: heard by someone who can answer, its short
    number (0: none), and lines about the customer for the owner's chat."""

    heard: bool
    number: int
    about: str = ""


class DeskHook(Protocol):
    """The operator desk (``bots.desk.notes``)."""

    async def heard(self, note: OwnerNote) -> Heard: ...

    async def noted(self, number: int, channel: Channel, message_id: str) -> None: ...


class Owner:
    """Sends ``OwnerNote``s to every configured destination."""

    def __init__(
        self,
        *,
        webhook: str | None,
        chats: Mapping[Channel, str],
        connectors: Mapping[Channel, Connector],
        http: Callable[[], aiohttp.ClientSession],
        desk: DeskHook | None = None,
    ) -> None:
        self._webhook = webhook
        # The operator desk (bots.desk): hears hand-offs when it has people, and numbers them
        # so the owner can answer in their own chat («12 текст»).
        self._desk = desk
        self._chats = {ch: peer for ch, peer in chats.items() if ch in connectors}
        self._connectors = connectors
        self._http = http
        self.sent: int = 0

    @property
    def configured(self) -> bool:
        return bool(self._webhook or self._chats)

    async def notify(self, note: OwnerNote) -> None:
        await self.reach(note)

    async def reach(self, note: OwnerNote) -> int:
        """Send ``note`` to every destination; how many took it (0: nobody was told)."""
        reached = number = 0
        if self._desk is not None and note.kind == "handoff":
            found = await self._desk.heard(note)
            reached, number = int(found.heard), found.number
            if self._chats and number:
                answer = OWNER_NOTE_ANSWER.format(number=number)
                note = replace(note, detail="\n".join(filter(None, (
                    note.detail, found.about, answer))))
        if self._webhook:
            reached += await self._post(self._webhook, note)
        for channel, peer in self._chats.items():
            reached += await self._chat(channel, peer, note, number)
        self.sent += reached
        return reached

    async def _post(self, webhook: str, note: OwnerNote) -> bool:
        body = {"event": note.kind, "customer": note.customer, "text": note.text(),
                "ts": time.time()}
        try:
            async with self._http().post(webhook, json=body,
                                         timeout=_WEBHOOK_TIMEOUT) as resp:
                if resp.status >= 400:
                    log.warning("owner webhook answered %s", resp.status,
                                extra={"customer": note.customer, "kind": note.kind})
                    return False
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("owner webhook failed: %s", type(exc).__name__,
                        extra={"customer": note.customer, "kind": note.kind})
            return False
        return True

    async def _chat(self, channel: Channel, peer: str, note: OwnerNote, number: int) -> bool:
        """Send the note; a numbered one's message id goes to the desk (a reply answers)."""
        key = f"owner-{uuid.uuid4().hex}"
        try:
            sent = await self._connectors[channel].send(peer, Reply(text=note.text()),
                                                        message_key=key)
        except ChannelError as exc:
            log.warning("owner chat %s failed: %s", channel, type(exc).__name__,
                        extra={"customer": note.customer, "kind": note.kind})
            return False
        if sent and number and self._desk is not None:
            await self._desk.noted(number, channel, sent)
        return True


def unheard_handoffs(flows: FlowSet, owner: Owner) -> str | None:
    """The start-up warning when the flows can hand a customer off and no owner destination
    is set (those customers are told nobody can answer), else None."""
    steps = [f"{flow.name}/{step.name}" for flow in flows.flows.values()
             for step in flow.steps.values() if step.handoff is not None]
    if not steps or owner.configured:
        return None
    shown = ", ".join(steps[:5]) + (f" and {len(steps) - 5} more" if len(steps) > 5 else "")
    return (f"the flows hand customers to an operator ({shown}), but no owner destination is "
            "set (SVYAZ_OWNER_WEBHOOK, SVYAZ_OWNER_VK_PEER, SVYAZ_OWNER_MAX_CHAT): unless the "
            "desk has an operator (svyaz operator add NAME), nobody will be told, and those "
            "customers hear that nobody can answer them here")

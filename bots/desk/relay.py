"""Answering a hand-off from the owner's own messenger (``SVYAZ_OWNER_MAX_CHAT``,
``SVYAZ_OWNER_VK_PEER``): «12 текст» sends the text to the customer of hand-off 12 as an
operator's message; «/бот 12» hands that customer back to the bot. A reply to the hand-off's
note (or to this module's answer about it) needs no number: its text goes to that customer,
«/бот» alone hands back.

``take`` is asked by ``Runtime.accept`` before anything else: a message from the owner's chat
is never taken as a customer's (it is answered here, once per platform event, and True is
returned); any other message costs nothing (compared in memory). The parsing is a pure
function. This module must not run flows; it goes through ``bots.desk.takeover``.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from bots.desk.takeover import Takeover
from bots.events import dedupe_key
from bots.parts import Edge
from connectors.base import ChannelError, Connector
from flows.types import Channel, Inbound, Reply, TextEvent
from storage.keyparts import check_operator

log = logging.getLogger("svyaz.desk")

OWNER_NAME = "Администратор"  # the name a customer sees when the owner's name cannot be shown
_SAY = re.compile(r"^\s*№?\s*(\d{1,9})[\s.:,)\-—]+(\S.*)$", re.DOTALL)
_BACK = re.compile(r"^\s*/(?:бот|bot)\s+№?\s*(\d{1,9})\s*$", re.IGNORECASE)
_BACK_HERE = re.compile(r"^\s*/(?:бот|bot)(?:\s+№?\s*\d{1,9})?\s*$", re.IGNORECASE)
HINT = ("Чтобы ответить клиенту, напишите номер обращения и текст: «12 Здравствуйте!». "
        "Вернуть клиента боту: «/бот 12».")
SENT = "Отправлено клиенту {number} ({channel})."
NOT_SENT = "Клиенту {number} доставить не удалось: ни один его канал не принял сообщение."
RELEASED = "Клиент {number} снова с ботом."
UNKNOWN = "Обращения {number} нет (номера действуют 7 дней)."
HELD = "Клиенту {number} уже отвечает {holder} в операторской."


@dataclass(frozen=True, slots=True)
class Command:
    kind: Literal["say", "back", "help"]
    number: int = 0
    text: str = ""


def parse(text: str, replied: int | None = None) -> Command:
    """The owner's message; ``replied``: the number of the hand-off whose note it answers."""
    if replied is not None:
        if _BACK_HERE.match(text):
            return Command("back", replied)
        return Command("say", replied, text.strip()) if text.strip() else Command("help")
    if (back := _BACK.match(text)) is not None:
        return Command("back", int(back.group(1)))
    if (say := _SAY.match(text)) is not None:
        return Command("say", int(say.group(1)), say.group(2).strip())
    return Command("help")


def operator_name(name: str | None) -> str:
    """The owner's first name when it can be an operator's name, else ``OWNER_NAME``."""
    first = (name or "").split(" ")[0]
    try:
        return check_operator(first)
    except ValueError:
        return OWNER_NAME


class OwnerRelay:
    def __init__(self, edge: Edge, *, chats: Mapping[Channel, str],
                 connectors: Mapping[Channel, Connector]) -> None:
        self._edge = edge
        self._chats = {ch: peer for ch, peer in chats.items() if ch in connectors}
        self._connectors = connectors
        self._takeover = Takeover(edge)

    def from_owner(self, inbound: Inbound) -> bool:
        """The owner's chat: its peer is the sender (a one-to-one chat) or the chat itself."""
        peer = self._chats.get(inbound.channel)
        return peer is not None and peer in (inbound.user_id, inbound.reply_to)

    async def take(self, inbound: Inbound) -> bool:
        """Handle the owner's message; False when ``inbound`` is not the owner's."""
        if not self.from_owner(inbound):
            return False
        store = self._edge.parts.store
        if not await store.dedupe.first_seen(f"owner:{dedupe_key(inbound)}"):
            return True
        event = inbound.event
        replied = (await store.desk.handoffs.of_note(inbound.channel, inbound.replied)
                   if inbound.replied else None)
        command = (parse(event.text, replied) if isinstance(event, TextEvent)
                   else Command("help"))
        answer = await self._run(command, operator_name(inbound.name))
        await self._tell(inbound, answer, command.number)
        return True

    async def _run(self, command: Command, operator: str) -> str:
        if command.kind == "help":
            return HINT
        store = self._edge.parts.store
        customer = await store.desk.handoffs.by_short(command.number)
        if customer is None:
            return UNKNOWN.format(number=command.number)
        if command.kind == "back":
            await self._takeover.release(customer, operator)
            await store.desk.audit.record(operator, "release", customer)
            return RELEASED.format(number=command.number)
        holder = await self._takeover.claim(customer, operator)
        if holder != operator:
            return HELD.format(number=command.number, holder=holder)
        sent = await self._takeover.say(customer, operator, command.text)
        if sent.target is None:
            return NOT_SENT.format(number=command.number)
        return SENT.format(number=command.number, channel=sent.target.channel)

    async def _tell(self, inbound: Inbound, text: str, number: int) -> None:
        """Answer the owner; a reply to an answer about hand-off ``number`` goes on with it."""
        peer = self._chats[inbound.channel]
        try:
            sent = await self._connectors[inbound.channel].send(
                peer, Reply(text), message_key=f"owner-{uuid.uuid4().hex}")
        except ChannelError as exc:
            log.warning("owner chat %s refused the answer: %s", inbound.channel,
                        type(exc).__name__)
            return
        if sent and number:
            await self._edge.parts.store.desk.handoffs.noted(inbound.channel, sent, number)

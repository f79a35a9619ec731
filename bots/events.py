"""Pure facts about events: what a link token or code looks like, how an event reads in the
history, which events the bot starts itself, the «продолжить в …» command (its words:
``bots.texts``).

This module owns these small decisions so the runtime stays an executor. It must do no I/O.
"""

from __future__ import annotations

import re
import time

from bots.texts import CONTINUE_ANYWHERE, CONTINUE_PATTERN, HISTORY_CONTACT
from connectors.base import dialog_user
from connectors.registry import INSTALLED
from flows.types import (
    AttachmentEvent,
    ButtonEvent,
    CallResultEvent,
    ContactEvent,
    DialogState,
    Event,
    Inbound,
    LinkChannel,
    PermissionEvent,
    ResumeEvent,
    StartEvent,
    StartFlowEvent,
    TextEvent,
    TimerEvent,
)
from storage.history import Direction, HistoryEntry

LINK_PREFIX = "link-"
# The note of an inbound entry with files: "files photo:<id> file:<id>" (the history's "a"
# field holds the attachments themselves).
FILES_NOTE = "files "
_CODE = re.compile(r"^\s*(\d{6})\s*$")


def dedupe_key(inbound: Inbound) -> str:
    return f"{inbound.channel}:{inbound.event_id}"


def is_initiated(event: Event) -> bool:
    """Events the bot starts on its own: delivered to the best channel, with failover."""
    return isinstance(event, TimerEvent | StartFlowEvent)


def link_token_of(event: Event) -> str | None:
    if isinstance(event, StartEvent) and event.payload and event.payload.startswith(LINK_PREFIX):
        return event.payload[len(LINK_PREFIX):]
    return None


def link_code_of(event: Event) -> str | None:
    if isinstance(event, TextEvent) and (match := _CODE.match(event.text)):
        return match.group(1)
    return None


_CONTINUE = re.compile(CONTINUE_PATTERN, re.IGNORECASE)


def continue_command(event: Event) -> LinkChannel | None:
    """The global command «продолжить в MAX / во ВКонтакте / на сайте» as a link effect."""
    if not isinstance(event, TextEvent) or not (match := _CONTINUE.match(event.text)):
        return None
    where = match.group(2).lower()
    if where in CONTINUE_ANYWHERE:
        return LinkChannel(target=None)
    channel = INSTALLED.called(where)
    return None if channel is None else LinkChannel(target=channel.name)


def describe(event: Event) -> tuple[str, str]:
    """(text, note) of an inbound event for the history."""
    said = _said(event)
    if said is not None:
        return said
    if isinstance(event, TimerEvent):
        return "", f"reminder {event.key} fired ({event.flow})"
    if isinstance(event, StartFlowEvent):
        return "", f"api started {event.flow}"
    if isinstance(event, ResumeEvent):
        return "", f"continued on {event.channel}"
    if isinstance(event, PermissionEvent):
        return "", "messages allowed" if event.allowed else "messages denied"
    if isinstance(event, CallResultEvent):
        return "", f"call {event.call_id}: {event.status}"
    return "", type(event).__name__


def _said(event: Event) -> tuple[str, str] | None:
    """(text, note) of what the customer did themselves; None for other events."""
    if isinstance(event, TextEvent):
        return event.text, ""
    if isinstance(event, ButtonEvent):
        return event.text or event.button, f"button {event.button}"
    if isinstance(event, StartEvent):
        return "/start", "start" + (" (link)" if link_token_of(event) else "")
    if isinstance(event, ContactEvent):
        return HISTORY_CONTACT, "contact shared"
    if isinstance(event, AttachmentEvent):
        return event.text, FILES_NOTE + " ".join(f"{a.kind}:{a.id}" for a in event.attachments)
    return None


def position(state: DialogState | None) -> tuple[str, str]:
    if state is None or not state.stack:
        return "-", "-"
    top = state.stack[-1]
    return top.flow, top.step


def inbound_entry(inbound: Inbound) -> HistoryEntry:
    """The history entry of what the customer sent (an event when it was not their words)."""
    text, note = describe(inbound.event)
    event = inbound.event
    files = event.attachments if isinstance(event, AttachmentEvent) else ()
    direction: Direction = "in" if (text and not is_initiated(event)) or files else "event"
    return HistoryEntry(ts=time.time(), channel=inbound.channel, direction=direction,
                        text=text, note=note, attachments=files)


def retarget(inbound: Inbound, channel: str, user_id: str) -> Inbound:
    """After a bot-initiated delivery, follow-up replies go to where it was delivered (a
    route, ``DIALOG_PREFIX``, stays the reply target; the user id is its last part)."""
    user = dialog_user(user_id)
    return Inbound(channel=channel, user_id=user or user_id,
                   event_id=inbound.event_id, event=inbound.event,
                   reply_to=user_id if user else None)

"""VK updates -> channel-neutral ``Inbound`` events (PROTOCOLS.md B4-B6, B10).

Pure: no I/O, no clock, no state. The same function serves the Callback API handler and the
Bots Long Poll loop, whose update objects share one envelope. Envelopes and objects are
validated with pydantic at this boundary; a malformed body raises ``VkPayloadError`` (the
caller answers 400 or skips the update), never anything else.

Button payloads this package renders are ``{"b": "<Button.id>"}``; VK's own «Начать» button
sends ``{"command": "start"}``; a ``vk.me/<club>?ref=<value>`` deep link puts ``ref`` on the
message, which becomes ``StartEvent(payload=ref)`` (the ``link-<token>`` convention of API.md).
A message with photos, documents or a voice message becomes an ``AttachmentEvent`` (its text
is the caption; ``connectors.vk.attachments`` reads the media objects).
It must not decide what to answer and must not talk to VK.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, ValidationError

from connectors.common import clean_inbound, load_json
from connectors.vk.attachments import attachments_of
from flows.errors import SvyazError
from flows.types import (
    JSON,
    AttachmentEvent,
    ButtonEvent,
    Event,
    Inbound,
    PermissionEvent,
    StartEvent,
    TextEvent,
)

BUTTON_KEY = "b"  # payload key carrying the engine's Button.id
START_COMMAND = "start"


class VkPayloadError(SvyazError):
    """A VK update that is not shaped as VK documents it (bad JSON, missing fields)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Envelope(_Model):
    """The part every Callback API notification and long-poll update shares."""

    type: str
    event_id: str | None = None
    group_id: int | None = None
    secret: str | None = None
    v: str | None = None
    object: dict[str, JSON] | None = None


class _Replied(_Model):
    id: int = 0


class _Message(_Model):
    from_id: int
    peer_id: int
    text: str = ""
    out: int = 0
    payload: JSON = None
    ref: str | None = None
    attachments: JSON = None  # (read leniently by connectors.vk.attachments)
    reply_message: _Replied | None = None


class _MessageEvent(_Model):
    user_id: int
    peer_id: int
    event_id: str
    payload: JSON = None


class _Permission(_Model):
    user_id: int


def parse_envelope(body: object) -> Envelope:
    """Validate the envelope of a notification or update."""
    if not isinstance(body, Mapping):
        raise VkPayloadError(f"VK update must be a JSON object, got {type(body).__name__}")
    try:
        return Envelope.model_validate(body)
    except ValidationError as exc:
        raise VkPayloadError(f"bad VK envelope: {_brief(exc)}") from exc


def parse_callback(body: object) -> Inbound | None:
    """A Callback API body or a long-poll update -> ``Inbound``, or None if we ignore its type."""
    return parse_event(parse_envelope(body))


def parse_event(envelope: Envelope) -> Inbound | None:
    parser = _PARSERS.get(envelope.type)
    if parser is None:
        return None
    if not envelope.event_id:
        raise VkPayloadError(f"VK {envelope.type} without event_id")
    if envelope.object is None:
        raise VkPayloadError(f"VK {envelope.type} without object")
    try:
        inbound = parser(envelope.event_id, envelope.object)
    except ValidationError as exc:
        raise VkPayloadError(f"bad VK {envelope.type} object: {_brief(exc)}") from exc
    return None if inbound is None else clean_inbound(inbound)


def _message_new(event_id: str, obj: Mapping[str, JSON]) -> Inbound | None:
    # API >= 5.103 wraps the message with client_info; older versions send the message itself.
    raw = obj.get("message", obj)
    message = _Message.model_validate(raw)
    if message.out or message.from_id <= 0:  # our own echo, or another community
        return None
    return Inbound(
        channel="vk",
        user_id=str(message.from_id),
        event_id=event_id,
        event=_message_event_of(event_id, message),
        reply_to=None if message.peer_id == message.from_id else str(message.peer_id),
        replied=str(replied.id) if (replied := message.reply_message) and replied.id else None,
    )


def _message_event_of(event_id: str, message: _Message) -> Event:
    payload = _payload_value(message.payload)
    if isinstance(payload, Mapping) and payload.get("command") == START_COMMAND:
        return StartEvent(payload=message.ref or None)
    button = _button_of(payload)
    if button is not None:
        return ButtonEvent(button=button, text=message.text)
    if message.ref:
        return StartEvent(payload=message.ref)
    items = message.attachments if isinstance(message.attachments, list) else []
    files = attachments_of(event_id, items)
    if files:
        return AttachmentEvent(attachments=files, text=message.text)
    return TextEvent(text=message.text)


def _callback_press(event_id: str, obj: Mapping[str, JSON]) -> Inbound:
    press = _MessageEvent.model_validate(obj)
    payload = _payload_value(press.payload)
    event: Event
    if isinstance(payload, Mapping) and payload.get("command") == START_COMMAND:
        event = StartEvent()
    else:
        event = ButtonEvent(button=_button_of(payload) or _as_text(press.payload))
    return Inbound(
        channel="vk",
        user_id=str(press.user_id),
        event_id=event_id,
        event=event,
        reply_to=None if press.peer_id == press.user_id else str(press.peer_id),
        callback_id=press.event_id,
    )


def _allow(event_id: str, obj: Mapping[str, JSON]) -> Inbound:
    return _permission(event_id, obj, allowed=True)


def _deny(event_id: str, obj: Mapping[str, JSON]) -> Inbound:
    return _permission(event_id, obj, allowed=False)


def _permission(event_id: str, obj: Mapping[str, JSON], *, allowed: bool) -> Inbound:
    who = _Permission.model_validate(obj)
    return Inbound(
        channel="vk",
        user_id=str(who.user_id),
        event_id=event_id,
        event=PermissionEvent(allowed=allowed),
    )


def _payload_value(payload: JSON) -> JSON:
    """A payload as JSON: VK documents a JSON string, vk_api's example reads an object.

    Text that is not JSON stays a string (a foreign keyboard's payload).
    """
    if not isinstance(payload, str):
        return payload
    if not payload:
        return None
    try:
        return load_json(payload)
    except ValueError:
        return payload


def _button_of(payload: JSON) -> str | None:
    if isinstance(payload, Mapping):
        button = payload.get(BUTTON_KEY)
        return button if isinstance(button, str) and button else None
    return None


def _as_text(payload: JSON) -> str:
    if isinstance(payload, str):
        return payload
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _brief(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in exc.errors()
    )


_PARSERS = {
    "message_new": _message_new,
    "message_event": _callback_press,
    "message_allow": _allow,
    "message_deny": _deny,
}

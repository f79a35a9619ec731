"""JSON (de)serialisation of the svyaz types storage keeps: ``Inbound`` with every event type,
and ``Reply`` (for the outbox).

Only plain JSON is ever written (never pickle). An event is an object with ``"t"`` naming its
type and its fields by name; unknown types or fields raise ``CodecError`` instead of guessing.
This module does no I/O.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from flows.types import (
    ATTACHMENT_KINDS,
    LADDER_UNTIL,
    Attachment,
    AttachmentEvent,
    Button,
    ButtonEvent,
    CallResultEvent,
    CancelReminder,
    Channel,
    ContactEvent,
    Effect,
    Event,
    Handoff,
    Inbound,
    Ladder,
    PermissionEvent,
    RecordConsent,
    Reply,
    ResumeEvent,
    SaveProfile,
    ScheduleReminder,
    SetTags,
    StartEvent,
    StartFlowEvent,
    TextEvent,
    TimerEvent,
)
from storage.errors import CodecError

EVENT_TYPES: Mapping[str, type[Event]] = {
    "text": TextEvent,
    "button": ButtonEvent,
    "start": StartEvent,
    "contact": ContactEvent,
    "files": AttachmentEvent,
    "timer": TimerEvent,
    "call_result": CallResultEvent,
    "start_flow": StartFlowEvent,
    "resume": ResumeEvent,
    "permission": PermissionEvent,
}
_EVENT_NAMES: Mapping[type[Event], str] = {cls: name for name, cls in EVENT_TYPES.items()}


def _plain(value: object) -> object:
    """Mappings (event ``vars``) become dicts, tuples lists, attachments objects; JSON values
    pass through."""
    if isinstance(value, Attachment):
        return attachment_to_dict(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def event_to_dict(event: Event) -> dict[str, object]:
    name = _EVENT_NAMES.get(type(event))
    if name is None:
        raise CodecError(f"not an event: {type(event).__name__}")
    data: dict[str, object] = {"t": name}
    for f in dataclasses.fields(event):
        data[f.name] = _plain(getattr(event, f.name))
    return data


def event_from_dict(data: Mapping[str, Any]) -> Event:
    fields = dict(data)
    cls = EVENT_TYPES.get(str(fields.pop("t", "")))
    if cls is None:
        raise CodecError(f"unknown event type {data.get('t')!r}")
    try:
        if cls is AttachmentEvent:
            fields["attachments"] = tuple(map(attachment_from_dict, fields["attachments"]))
        return cls(**fields)
    except (KeyError, TypeError) as exc:
        raise CodecError(f"bad {cls.__name__}: {exc}") from exc


def attachment_to_dict(attachment: Attachment) -> dict[str, object]:
    """An attachment as JSON-ready data, unknown properties left out."""
    return {f.name: v for f in dataclasses.fields(attachment)
            if (v := getattr(attachment, f.name)) is not None}


def attachment_from_dict(data: Mapping[str, Any]) -> Attachment:
    """Raises ``TypeError`` for anything that is not a stored attachment."""
    if not isinstance(data, Mapping) or data.get("kind") not in ATTACHMENT_KINDS:
        raise TypeError(f"not an attachment: {data!r}")
    return Attachment(**data)


def inbound_to_dict(inbound: Inbound) -> dict[str, object]:
    data: dict[str, object] = {
        "channel": inbound.channel,
        "user_id": inbound.user_id,
        "event_id": inbound.event_id,
        "event": event_to_dict(inbound.event),
    }
    for name in ("reply_to", "callback_id", "name", "address"):
        value = getattr(inbound, name)
        if value is not None:
            data[name] = value
    return data


def inbound_from_dict(data: Mapping[str, Any]) -> Inbound:
    try:
        return Inbound(
            channel=channel(data["channel"]),
            user_id=str(data["user_id"]),
            event_id=str(data["event_id"]),
            event=event_from_dict(data["event"]),
            reply_to=data.get("reply_to"),
            callback_id=data.get("callback_id"),
            name=data.get("name"),
            address=data.get("address"),
        )
    except (KeyError, TypeError) as exc:
        raise CodecError(f"bad inbound: {exc!r}") from exc


def channel(value: object) -> Channel:
    """A stored channel name (storage knows no channel by name: any identifier is one)."""
    if not isinstance(value, str) or not value.isidentifier():
        raise CodecError(f"bad channel {value!r}")
    return value


def reply_to_dict(reply: Reply) -> dict[str, object]:
    """A reply as JSON-ready data, defaults left out (every outgoing message passes here)."""
    data: dict[str, object] = {"text": reply.text}
    if reply.buttons:
        data["buttons"] = [{"id": b.id, "text": b.text, "url": b.url} for b in reply.buttons]
    if reply.request_phone:
        data["request_phone"] = True
    if reply.image_url is not None:
        data["image_url"] = reply.image_url
    if reply.markdown:
        data["markdown"] = True
    if reply.operator:
        data["operator"] = reply.operator
    if reply.file is not None:
        data["file"] = attachment_to_dict(reply.file)
    return data


def reply_from_dict(data: Mapping[str, Any]) -> Reply:
    try:
        buttons = tuple(Button(**b) for b in data.get("buttons", ()))
        fields = {k: v for k, v in data.items() if k not in ("buttons", "file")}
        file = attachment_from_dict(data["file"]) if "file" in data else None
        return Reply(buttons=buttons, file=file, **fields)
    except TypeError as exc:
        raise CodecError(f"bad reply: {exc}") from exc


# A lone surrogate (what JSON "\ud800" decodes to) has no UTF-8 form, so Redis could not take it.
_SURROGATE = re.compile("[\ud800-\udfff]")


# ``json.dumps`` with these options builds a new encoder per call (a tenth of its cost for
# the small documents of a turn): one, made once.
compact_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def dumps(data: object) -> str:
    """Compact JSON text that always encodes as UTF-8: a lone surrogate becomes U+FFFD.

    Connectors already deliver clean text; this keeps any other path from failing a write.
    """
    text = compact_json(data)
    if text.isascii():
        return text
    try:
        text.encode()  # (a fifth of the regex's scan; only a lone surrogate fails it)
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def loads(raw: str | bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise CodecError(f"bad JSON: {exc}") from exc


def encode_inbound(inbound: Inbound) -> str:
    return dumps(inbound_to_dict(inbound))


def decode_inbound(raw: str | bytes) -> Inbound:
    return inbound_from_dict(loads(raw))


def text(value: bytes | str) -> str:
    """Redis replies are bytes unless the client decodes; storage accepts either client."""
    return value.decode() if isinstance(value, bytes) else value


def stream_rows(rows: Any) -> list[tuple[str, dict[str, str]]]:
    """XRANGE/XREVRANGE replies as ``(id, {field: value})`` with text everywhere."""
    out: list[tuple[str, dict[str, str]]] = []
    for entry_id, fields in rows or ():
        out.append((text(entry_id), {text(k): text(v) for k, v in (fields or {}).items()}))
    return out


# Effects a turn's save writes with its state (``States.save(effects=...)``), to be run again
# if the process dies before it ran them: those that only write svyaz's own data or notify the
# owner. Link offers (replies) and HTTP calls (the business's endpoint) are not replayed.
DURABLE_EFFECTS: Mapping[str, type[Effect]] = {
    "remind": ScheduleReminder,
    "cancel": CancelReminder,
    "profile": SaveProfile,
    "consent": RecordConsent,
    "handoff": Handoff,
    "tags": SetTags,
}
_EFFECT_NAMES: Mapping[type[Effect], str] = {cls: n for n, cls in DURABLE_EFFECTS.items()}
_WHEN = ("at",)  # datetime fields, as ISO 8601 with the offset
# Fields added later, written only when they differ from these defaults: a plain reminder is
# stored as before, so a process of an older version still reads it.
_LEFT_OUT: Mapping[str, object] = {"critical": False, "ladder": None,
                                   "purpose": "personal_data"}
# Fields never stored with the state: a reminder's ``about`` (only for the owner's list; an
# older process could not read it, and a replayed reminder is listed without it).
_NOT_KEPT = frozenset({"about"})


def ladder_to_dict(ladder: Ladder) -> dict[str, object]:
    return {
        "rungs": list(ladder.rungs),
        "until": ladder.until,
        "within": int(ladder.within.total_seconds()),  # seconds
        "urgent": ladder.urgent,
    }


def ladder_from_dict(data: Mapping[str, Any]) -> Ladder:
    fields = dict(data)  # (not a mapping: TypeError, refused by the caller)
    rungs, until, within = fields.pop("rungs"), fields.pop("until"), fields.pop("within")
    urgent = fields.pop("urgent", False)
    if fields:
        raise TypeError(f"unknown ladder fields {sorted(fields)}")
    if not isinstance(rungs, list) or not all(isinstance(r, str) for r in rungs):
        raise TypeError(f"ladder rungs must be a list of channel names, not {rungs!r}")
    if until not in LADDER_UNTIL or type(within) is not int or type(urgent) is not bool:
        raise ValueError(f"bad ladder until={until!r} within={within!r} urgent={urgent!r}")
    return Ladder(rungs=tuple(rungs), until=until, within=timedelta(seconds=within),
                  urgent=urgent)


def _field_to_json(name: str, value: object) -> object:
    if name in _WHEN and isinstance(value, datetime):
        return value.isoformat()
    return ladder_to_dict(value) if isinstance(value, Ladder) else _plain(value)


def encode_effects(channel: Channel, effects: tuple[Effect, ...] | list[Effect]) -> str:
    """The durable ones of ``effects`` with the channel of the turn; "" when there are none."""
    found = []
    for effect in effects:
        name = _EFFECT_NAMES.get(type(effect))
        if name is None:
            continue
        data: dict[str, object] = {"t": name}
        for f in dataclasses.fields(effect):
            if f.name in _NOT_KEPT:
                continue
            value = getattr(effect, f.name)
            if f.name not in _LEFT_OUT or value != _LEFT_OUT[f.name]:
                data[f.name] = _field_to_json(f.name, value)
        found.append(data)
    return dumps({"ch": channel, "fx": found}) if found else ""


def decode_effects(raw: str | bytes) -> tuple[Channel, list[Effect]]:
    data = loads(raw)
    try:
        effects: list[Effect] = []
        for item in data["fx"]:
            fields = dict(item)
            cls = DURABLE_EFFECTS[str(fields.pop("t", ""))]
            for name in _WHEN:
                if name in fields:
                    fields[name] = datetime.fromisoformat(fields[name])
            if isinstance(fields.get("tags"), list):
                fields["tags"] = tuple(fields["tags"])
            if fields.get("ladder") is not None:
                fields["ladder"] = ladder_from_dict(fields["ladder"])
            effects.append(cls(**fields))
        return channel(data["ch"]), effects
    except (KeyError, TypeError, ValueError) as exc:
        raise CodecError(f"bad effects: {exc!r}") from exc

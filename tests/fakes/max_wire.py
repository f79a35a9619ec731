"""MAX wire rules and update builders shared by the MAX fake and the MAX tests.

Pure: what real MAX refuses in a message (PROTOCOLS.md A3/A9 limits) and updates shaped like
PROTOCOLS.md A6, with fresh ``mid``s. No I/O.
"""

from __future__ import annotations

import itertools
import re
import time
from typing import Any

SPECIAL_BUTTONS = {"link", "open_app", "request_geo_location", "request_contact"}
BUTTON_TYPES = SPECIAL_BUTTONS | {"callback", "message", "clipboard", "chat"}
SECRET_RE = re.compile(r"^[a-zA-Z0-9_-]{5,256}$")
BOT_ID = 7770001
JSONDict = dict[str, Any]
_SEQ = itertools.count(1)


def next_seq() -> int:
    return next(_SEQ)


def now_ms() -> int:
    return int(time.time() * 1000)


def keyboard_problems(attachments: object) -> list[str]:
    """What real MAX would refuse in ``attachments`` (A3/A9 limits); empty when fine."""
    if attachments is None:
        return []
    if not isinstance(attachments, list):
        return ["attachments must be a list"]
    problems: list[str] = []
    for att in attachments:
        if not isinstance(att, dict) or "type" not in att:
            problems.append("attachment needs a type")
        elif att["type"] == "inline_keyboard":
            problems += _keyboard_problems((att.get("payload") or {}).get("buttons"))
    return problems


def _keyboard_problems(rows: object) -> list[str]:
    if not isinstance(rows, list) or not all(isinstance(r, list) and r for r in rows):
        return ["inline_keyboard.payload.buttons must be a list of non-empty rows"]
    problems = [f"{len(rows)} rows > 30"] if len(rows) > 30 else []
    total = sum(len(r) for r in rows)
    if total > 210:
        problems.append(f"{total} buttons > 210")
    for i, row in enumerate(rows):
        limit = 3 if any(b.get("type") in SPECIAL_BUTTONS for b in row) else 7
        if len(row) > limit:
            problems.append(f"row {i} has {len(row)} buttons > {limit}")
        problems += [p for b in row for p in _button_problems(b)]
    return problems


def _button_problems(b: JSONDict) -> list[str]:
    kind, text = b.get("type"), b.get("text")
    if kind not in BUTTON_TYPES:
        return [f"unknown button type {kind!r}"]
    if not isinstance(text, str) or not 1 <= len(text) <= 128:
        return [f"button text must be 1-128 chars: {text!r}"]
    if kind in ("callback", "clipboard"):
        payload = b.get("payload")
        if not isinstance(payload, str) or not payload or len(payload) > 1024:
            return [f"{kind} payload must be 1-1024 chars"]
    if kind == "link":
        url = b.get("url")
        if not isinstance(url, str) or not url or len(url) > 2048:
            return ["link url must be 1-2048 chars"]
    return []


def message_problems(body: object) -> list[str]:
    if not isinstance(body, dict):
        return ["body must be a JSON object"]
    text = body.get("text")
    problems = keyboard_problems(body.get("attachments"))
    if text is not None and (not isinstance(text, str) or len(text) > 4000):
        problems.append("text must be a string of at most 4000 characters")
    if body.get("format") not in (None, "markdown", "html"):
        problems.append(f"unknown format {body.get('format')!r}")
    if not text and not body.get("attachments"):
        problems.append("message needs text or attachments")
    return problems


def mid(chat: int, seq: int) -> str:
    return f"mid.{chat & 0xFFFFFFFFFFFFFFFF:016x}{seq:016x}"


def chat_of(user_id: int) -> int:
    """The dialog chat id the fake gives a user (MAX's are opaque int64s)."""
    return 1_000_000_000 + user_id


def user(user_id: int, name: str = "Иван") -> JSONDict:
    return {"user_id": user_id, "first_name": name, "last_name": None, "is_bot": False}


def message_created(
    user_id: int, text: str | None = "привет", *, attachments: list[JSONDict] | None = None,
    reply_to: JSONDict | None = None,
) -> JSONDict:
    """``reply_to``: the body of the message this one replies to (MAX's ``link``, A7)."""
    seq, chat = next_seq(), chat_of(user_id)
    body = {"mid": mid(chat, seq), "seq": seq, "text": text, "attachments": attachments or []}
    message: JSONDict = {
        "sender": user(user_id),
        "recipient": {"chat_id": chat, "chat_type": "dialog", "user_id": BOT_ID},
        "timestamp": now_ms(),
        "body": body,
    }
    if reply_to is not None:
        message["link"] = {"type": "reply", "message": reply_to}
    return {"update_type": "message_created", "timestamp": now_ms(), "user_locale": "ru",
            "message": message}


def contact(user_id: int, phone: str, name: str = "Иван Петров") -> JSONDict:
    vcf = f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:{name}\r\nTEL;TYPE=cell:{phone}\r\nEND:VCARD\r\n"
    payload = {"vcf_info": vcf, "hash": "h", "max_info": user(user_id)}
    return message_created(user_id, None, attachments=[{"type": "contact", "payload": payload}])


# Incoming media attachments (PROTOCOLS.md A9, maxapi's ``Image``/``File``/``Audio``):
# ``payload {url, token}``, an image adds ``photo_id``, a file top-level ``filename``/``size``.


def image(url: str, *, token: str = "img-token-1", photo_id: int = 9901) -> JSONDict:
    return {"type": "image", "payload": {"photo_id": photo_id, "token": token, "url": url}}


def file(url: str, *, filename: str = "смета.pdf", size: int = 48213,
         token: str = "file-token-1") -> JSONDict:
    return {"type": "file", "payload": {"url": url, "token": token},
            "filename": filename, "size": size}


def audio(url: str, *, token: str = "audio-token-1") -> JSONDict:
    return {"type": "audio", "payload": {"url": url, "token": token}, "transcription": None}


def callback(user_id: int, payload: str, *, callback_id: str | None = None) -> JSONDict:
    return {
        "update_type": "message_callback",
        "timestamp": now_ms(),
        "callback": {
            "timestamp": now_ms(),
            "callback_id": callback_id or f"cb-{next_seq()}",
            "payload": payload,
            "user": user(user_id),
        },
        "message": None,
    }


def bot_started(user_id: int, payload: str | None = None) -> JSONDict:
    return {
        "update_type": "bot_started",
        "timestamp": now_ms(),
        "chat_id": chat_of(user_id),
        "user": user(user_id),
        "payload": payload,
        "user_locale": "ru",
    }

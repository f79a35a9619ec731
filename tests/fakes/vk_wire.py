"""Wire-shape helpers of the VK fake: keyboard validation as VK does it (-> error 911) and
builders of Callback API / Long Poll envelopes shaped as PROTOCOLS.md B4-B6 documents them.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import aiohttp
from aiohttp import web

Envelope = dict[str, Any]

ERROR_TEXT = {
    1: "Unknown error occurred",
    3: "Unknown method passed",
    5: "User authorization failed: invalid access_token (4).",
    6: "Too many requests per second",
    8: "Invalid request: v (version) is required",
    9: "Flood control",
    10: "Internal server error",
    15: "Access denied",
    29: "Rate limit reached",
    100: "One of the parameters specified was missing or invalid",
    113: "Invalid user id",
    901: "Can't send messages for users without permission",
    902: "Can't send messages to this user due to their privacy settings",
    911: "Keyboard format is invalid",
    914: "Message is too long",
}


class ApiError(Exception):
    def __init__(self, code: int, detail: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail



INLINE = {"rows": 6, "per_row": 5, "buttons": 10}
STANDARD = {"rows": 10, "per_row": 5, "buttons": 40}
MAX_LABEL = 40
MAX_PAYLOAD = 255
COLORS = {"primary", "secondary", "negative", "positive", "default"}
WIDE = {"location", "vkpay", "open_app"}  # must be alone on their row
NEEDS = {
    "text": ("label",),
    "callback": ("label",),
    "open_link": ("label", "link"),
    "location": (),
    "vkpay": ("hash",),
    "open_app": ("app_id", "label"),
}


def keyboard_problem(raw: str) -> str | None:
    """Why VK would refuse this ``keyboard`` parameter, or None when it is acceptable."""
    try:
        keyboard = json.loads(raw)
    except ValueError:
        return "keyboard is not JSON"
    if not isinstance(keyboard, dict) or not isinstance(keyboard.get("buttons"), list):
        return "keyboard needs a buttons array"
    inline = bool(keyboard.get("inline"))
    if inline and keyboard.get("one_time"):
        return "one_time is not supported by inline keyboards"
    rows = keyboard["buttons"]
    limits = INLINE if inline else STANDARD
    if len(rows) > limits["rows"]:
        return f"too many rows: {len(rows)} > {limits['rows']}"
    if not all(isinstance(row, list) for row in rows):
        return "each row must be an array"
    total = sum(len(row) for row in rows)
    if total > limits["buttons"]:
        return f"too many buttons: {total} > {limits['buttons']}"
    for row in rows:
        problem = _row_problem(row, limits["per_row"])
        if problem:
            return problem
    return None


def _row_problem(row: list[Any], per_row: int) -> str | None:
    if len(row) > per_row:
        return f"too many buttons in a row: {len(row)} > {per_row}"
    for button in row:
        problem = _button_problem(button)
        if problem:
            return problem
        if button["action"]["type"] in WIDE and len(row) > 1:
            return f"{button['action']['type']} button must be alone in its row"
    return None


def _button_problem(button: Any) -> str | None:
    if not isinstance(button, dict) or not isinstance(button.get("action"), dict):
        return "button needs an action object"
    action = button["action"]
    kind = action.get("type")
    if kind not in NEEDS:
        return f"unknown button type {kind!r}"
    missing = [name for name in NEEDS[kind] if not action.get(name)]
    if missing:
        return f"{kind} button lacks {', '.join(missing)}"
    if "color" in button and button["color"] not in COLORS:
        return f"unknown color {button['color']!r}"
    label = action.get("label")
    if isinstance(label, str) and len(label) > MAX_LABEL:
        return f"label longer than {MAX_LABEL}"
    return _payload_problem(action.get("payload"))


def _payload_problem(payload: Any) -> str | None:
    if payload is None:
        return None
    if not isinstance(payload, str):
        return "payload must be a JSON string"
    if len(payload) > MAX_PAYLOAD:
        return f"payload longer than {MAX_PAYLOAD}"
    try:
        json.loads(payload)
    except ValueError:
        return "payload is not JSON"
    return None


def envelope(group_id: int, type_: str, obj: dict[str, Any],
             event_id: str | None = None) -> Envelope:
    return {"group_id": group_id, "type": type_, "event_id": event_id or uuid.uuid4().hex,
            "v": "5.199", "object": obj}


CLIENT_INFO = {"button_actions": ["text", "vkpay", "open_app", "location", "open_link",
                                  "callback"],
               "keyboard": True, "inline_keyboard": True, "carousel": True, "lang_id": 0}


def message_new(group_id: int, from_id: int, text: str, *, payload: str | None = None,
                ref: str | None = None, peer_id: int | None = None,
                event_id: str | None = None, reply_to: int | None = None,
                attachments: list[dict[str, Any]] | None = None) -> Envelope:
    """``reply_to``: the id of a message the community sent that this one replies to."""
    message: dict[str, Any] = {
        "id": 812, "date": int(time.time()), "peer_id": peer_id or from_id, "from_id": from_id,
        "text": text, "out": 0, "conversation_message_id": 41, "random_id": 0,
        "attachments": attachments or [], "fwd_messages": [], "important": False,
        "is_hidden": False}
    if payload is not None:
        message["payload"] = payload
    if ref is not None:
        message.update(ref=ref, ref_source="site")
    if reply_to is not None:  # (B6: the replied message as VK shows it, sent by the community)
        message["reply_message"] = {"id": reply_to, "date": int(time.time()),
                                    "from_id": -group_id, "peer_id": peer_id or from_id,
                                    "text": "", "conversation_message_id": 40}
    obj = {"message": message, "client_info": dict(CLIENT_INFO)}
    return envelope(group_id, "message_new", obj, event_id)


# Media objects of a message's ``attachments``, shaped as the VK API (5.199) returns them:
# ``{"type": <kind>, <kind>: {...}}``; URLs point at a file host (``tests.fakes.media``).


def photo(owner_id: int, url: str, *, photo_id: int = 457239017,
          access_key: str = "c0ffee0123456789ab") -> dict[str, Any]:
    sizes = [{"type": t, "url": f"{url}?size={t}", "width": w, "height": h}
             for t, w, h in (("s", 75, 56), ("m", 130, 97), ("x", 604, 453))]
    body = {"album_id": -3, "date": int(time.time()), "id": photo_id, "owner_id": owner_id,
            "access_key": access_key, "sizes": sizes, "text": "", "has_tags": False,
            "orig_photo": {"type": "base", "url": url, "width": 1280, "height": 960}}
    return {"type": "photo", "photo": body}


def doc(owner_id: int, url: str, *, title: str = "договор.pdf", size: int = 48213,
        doc_id: int = 660012345, access_key: str = "d0c5ecret") -> dict[str, Any]:
    ext = title.rpartition(".")[2] if "." in title else ""
    body = {"id": doc_id, "owner_id": owner_id, "title": title, "size": size, "ext": ext,
            "date": int(time.time()), "type": 1, "url": url, "access_key": access_key}
    return {"type": "doc", "doc": body}


def audio_message(owner_id: int, mp3: str, ogg: str, *, doc_id: int = 660054321,
                  duration: int = 4) -> dict[str, Any]:
    body = {"id": doc_id, "owner_id": owner_id, "duration": duration,
            "waveform": [0, 3, 9, 17, 12, 4, 0], "link_ogg": ogg, "link_mp3": mp3,
            "access_key": "a0d10ke7"}
    return {"type": "audio_message", "audio_message": body}


def message_event(group_id: int, user_id: int, payload: Any, *, callback_id: str = "8c1f2a7d0e",
                  event_id: str | None = None) -> Envelope:
    obj = {"user_id": user_id, "peer_id": user_id, "event_id": callback_id,
           "payload": payload, "conversation_message_id": 42}
    return envelope(group_id, "message_event", obj, event_id)


def api_ok(value: Any) -> web.Response:
    return web.json_response({"response": value})


def api_error(exc: ApiError, method: str, params: dict[str, str]) -> web.Response:
    echoed = [{"key": k, "value": v} for k, v in params.items() if k != "access_token"]
    echoed += [{"key": "method", "value": method}, {"key": "oauth", "value": "1"}]
    text = ERROR_TEXT.get(exc.code, "Error")
    if exc.detail:
        text = f"{text}: {exc.detail}"
    error = {"error_code": exc.code, "error_msg": text, "request_params": echoed}
    return web.json_response({"error": error})


def parse_int(params: dict[str, str], name: str, *, required: bool = True) -> int:
    raw = params.get(name)
    if raw is None and not required:
        return 0
    try:
        return int(raw or "")
    except ValueError:
        raise ApiError(100, f"{name} is not an integer") from None


def loads(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def parse_keyboard(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    problem = keyboard_problem(raw)
    if problem is not None:
        raise ApiError(911, problem)
    value: dict[str, Any] = json.loads(raw)
    return value


async def push_callback(
    bot_url: str, envelope: Envelope, *, attempts: int = 1, secret: str | None = None
) -> list[tuple[int, str]]:
    """POST ``envelope`` to the bot as VK does; re-send with ``X-Retry-Counter`` (same
    ``event_id``) until the answer is ``ok`` or ``attempts`` run out. Returns each answer."""
    body = {**envelope, "secret": secret} if secret is not None else envelope
    results: list[tuple[int, str]] = []
    async with aiohttp.ClientSession() as session:
        for attempt in range(attempts):
            headers = {"X-Retry-Counter": str(attempt)} if attempt else {}
            async with session.post(bot_url, json=body, headers=headers) as resp:
                results.append((resp.status, await resp.text()))
            if results[-1] == (200, "ok"):
                break
    return results


def user(user_id: int, first: str, last: str, *, deactivated: str | None = None,
         closed: bool = False) -> dict[str, Any]:
    """A ``users.get`` item as VK 5.199 answers it without ``fields`` (``users_user_min`` +
    ``is_closed``/``can_access_closed``); a deleted or banned profile: ``first_name``
    "DELETED", an empty ``last_name`` and ``deactivated`` instead of the closed flags."""
    if deactivated is not None:
        return {"id": user_id, "first_name": "DELETED", "last_name": "",
                "deactivated": deactivated}
    return {"id": user_id, "first_name": first, "last_name": last, "can_access_closed": True,
            "is_closed": closed}


def users_get(people: dict[int, dict[str, Any]], params: dict[str, str]) -> list[dict[str, Any]]:
    """``users.get``: one item per known id of ``user_ids`` (comma-separated, at most 1000,
    in the order asked), unknown ids left out; error 113 when none of them is a user id."""
    raw = [part.strip() for part in params.get("user_ids", "").split(",") if part.strip()]
    if len(raw) > 1000:
        raise ApiError(100, "user_ids: at most 1000")
    ids = [int(part) for part in raw if part.lstrip("-").isdigit() and int(part) > 0]
    if not ids:
        raise ApiError(113)
    return [people[i] for i in ids if i in people]

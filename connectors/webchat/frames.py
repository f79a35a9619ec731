"""The web chat wire format: JSON frames over the WebSocket (fixed in ARCHITECTURE.md).

Client frames (``hello``, ``open``, ``text``, ``button``) are validated strictly with
pydantic: wrong types are never coerced, unknown fields are ignored (so an older server accepts
a newer widget), and anything else becomes a ``FrameError`` with a code the widget understands.
Server frames (``welcome``, ``reply``, ``typing``, ``idle``, ``error``) are built from models,
never by string formatting; ``idle`` (the README's addition) ends ``typing`` when no turn of
the session runs any more; a reply and a history item say who wrote (``from``: the bot or an
operator, with the operator's ``operator`` name) and when (``at``, epoch ms); the history's last
bot message carries ``request_phone`` while its phone question is still open; an error
answering a frame carries that frame's client ``id``. Pure functions only: no sockets, no
storage, no clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from connectors.attachments import with_file_link
from connectors.base import Capabilities
from connectors.common import layout_reply
from connectors.texts import WEBCHAT_ERRORS
from flows.types import Button, Reply

MAX_TEXT_BYTES = 4096
MAX_LABEL = 256  # characters of a pressed button's label the widget may send with it

ErrorCode = Literal[
    "bad_frame",  # not JSON, unknown type, wrong field types
    "too_long",  # text over MAX_TEXT_BYTES
    "empty",  # text with nothing but spaces
    "hello_first",  # a message before the hello frame
    "rate_limited",  # too many messages per second
    "too_many_connections",  # too many sockets from one address (socket then closes)
    "unavailable",  # the message could not be recorded; send it again
]

ERROR_MESSAGES = WEBCHAT_ERRORS  # the texts are ``connectors.texts``'s


@dataclass(frozen=True, slots=True)
class WebHistoryItem:
    """One past message of a session as the widget shows it after a reload."""

    direction: Literal["in", "out"]
    text: str
    buttons: tuple[Button, ...] = ()
    at: float = 0.0  # epoch seconds; 0: unknown
    operator: str | None = None  # the operator who wrote it (``out`` only)
    # The question of this message is open and asks for a phone: after a reload the widget's
    # input row is in phone entry (set on the last ``out`` item only, as a live reply's).
    request_phone: bool = False


@dataclass(frozen=True, slots=True)
class FrameError:
    code: ErrorCode
    id: str | None = None  # the refused frame's client id, when it had a readable one


# --------------------------------------------------------------------------- client frames

ClientId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
]
_STRICT = ConfigDict(strict=True, frozen=True, extra="ignore")


class Hello(BaseModel):
    model_config = _STRICT

    type: Literal["hello"]
    # Any string: a garbled token is not a bad frame, it just starts a fresh session.
    session: Annotated[str, StringConstraints(max_length=1024)] | None = None
    link: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,128}$")] | None = None


class Open(BaseModel):
    """The visitor opened the chat panel: the moment to greet (turn 2; an older widget never
    sends it)."""

    model_config = _STRICT

    type: Literal["open"]


class TextFrame(BaseModel):
    model_config = _STRICT

    type: Literal["text"]
    text: str
    id: ClientId

    @field_validator("text")
    @classmethod
    def _size(cls, value: str) -> str:
        if len(value.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
            raise PydanticCustomError("too_long", "text over {limit} bytes", {"limit": 4096})
        if not value.strip():
            raise PydanticCustomError("empty", "text is blank")
        return value


class ButtonFrame(BaseModel):
    model_config = _STRICT

    type: Literal["button"]
    button: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    id: ClientId
    # The label the visitor pressed, kept in the history beside the id (turn 3; optional).
    text: Annotated[str, StringConstraints(max_length=MAX_LABEL)] = ""


ClientFrame: TypeAlias = Hello | Open | TextFrame | ButtonFrame
_CLIENT = TypeAdapter[ClientFrame](
    Annotated[Hello | Open | TextFrame | ButtonFrame, Field(discriminator="type")]
)


def parse_client_frame(raw: str) -> ClientFrame | FrameError:
    """The frame in ``raw`` or the reason it is refused."""
    try:
        return _CLIENT.validate_json(raw)
    except ValidationError as exc:
        kinds = {error["type"] for error in exc.errors()}
        code: ErrorCode = (
            "too_long" if "too_long" in kinds else "empty" if "empty" in kinds else "bad_frame"
        )
        return FrameError(code, client_id(raw))


_CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def client_id(raw: str) -> str | None:
    """The client ``id`` of a frame, read leniently (so a refusal can name the frame)."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, or nested past Python's stack
        return None
    found = data.get("id") if isinstance(data, dict) else None
    return found if isinstance(found, str) and _CLIENT_ID.match(found) else None


# --------------------------------------------------------------------------- server frames


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)


class ButtonOut(_Out):
    id: str
    text: str
    url: str | None = None


Sender = Literal["bot", "operator"]


class HistoryOut(_Out):
    direction: Literal["in", "out"]
    text: str
    buttons: tuple[ButtonOut, ...] = ()
    at: int | None = None
    sender: Sender | None = Field(default=None, alias="from")
    operator: str | None = None
    request_phone: bool | None = None  # only ever true (absent otherwise)


class WelcomeOut(_Out):
    type: Literal["welcome"] = "welcome"
    session: str
    history: tuple[HistoryOut, ...]


class ReplyOut(_Out):
    type: Literal["reply"] = "reply"
    text: str
    buttons: tuple[ButtonOut, ...] = ()
    id: str
    request_phone: bool = False
    sender: Sender = Field(default="bot", alias="from")
    operator: str | None = None
    at: int | None = None


class TypingOut(_Out):
    type: Literal["typing"] = "typing"


class IdleOut(_Out):
    type: Literal["idle"] = "idle"


class ErrorOut(_Out):
    type: Literal["error"] = "error"
    code: ErrorCode
    message: str
    id: str | None = None


def _button(button: Button) -> ButtonOut:
    return ButtonOut(id=button.id, text=button.text, url=button.url)


def _dump(frame: _Out) -> str:
    # exclude_none drops the optional fields left unset (a button's url, an unknown time...)
    return frame.model_dump_json(exclude_none=True, by_alias=True)


def _ms(seconds: float) -> int | None:
    return int(round(seconds * 1000)) if seconds > 0 else None


def _history_item(item: WebHistoryItem) -> HistoryOut:
    sender: Sender | None = None
    if item.direction == "out":
        sender = "operator" if item.operator else "bot"
    return HistoryOut(
        direction=item.direction, text=item.text, buttons=tuple(_button(b) for b in item.buttons),
        at=_ms(item.at), sender=sender, operator=item.operator,
        request_phone=True if item.request_phone else None,
    )


def welcome_frame(token: str, history: Sequence[WebHistoryItem]) -> str:
    items = tuple(_history_item(item) for item in history)
    return _dump(WelcomeOut(session=token, history=items))


def typing_frame() -> str:
    return _dump(TypingOut())


def idle_frame() -> str:
    """No turn of the session's runs any more: the end of ``typing`` (older widgets ignore it
    and hide the indicator after their own 8 seconds)."""
    return _dump(IdleOut())


def reply_frames(
    reply: Reply, message_key: str, caps: Capabilities, *, at: float = 0.0
) -> list[str]:
    """``reply`` fitted to ``caps``: one frame per text part, buttons on the last one; ``at``
    (epoch seconds) is when it was sent.

    Frame ids derive from ``message_key`` so the widget drops a re-sent duplicate.
    """
    reply = with_file_link(reply, max_label=caps.max_label)  # the widget opens it as a link
    layout = layout_reply(reply, caps)
    last = len(layout.parts) - 1
    frames = []
    for index, part in enumerate(layout.parts):
        buttons = tuple(_button(b) for row in layout.rows for b in row) if index == last else ()
        frames.append(
            ReplyOut(
                text=part,
                buttons=buttons,
                id=message_key if index == 0 else f"{message_key}#{index}",
                request_phone=reply.request_phone and index == last,
                sender="operator" if reply.operator else "bot",
                operator=reply.operator or None,
                at=_ms(at),
            )
        )
    return [_dump(frame) for frame in frames]


def error_frame(code: ErrorCode, client_id: str | None = None) -> str:
    return _dump(ErrorOut(code=code, message=ERROR_MESSAGES[code], id=client_id))

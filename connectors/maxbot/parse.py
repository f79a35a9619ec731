"""Pure translation of one MAX ``Update`` (PROTOCOLS.md A6) into an ``Inbound``.

Owns: the shape of the updates svyaz understands (``message_created``, ``message_callback``,
``bot_started``, ``bot_stopped``), the stable event id each one gets (MAX updates carry none),
the phone/name of a shared contact card, and the images, files and audio a customer sent.

Must not: do I/O, log, or decide what to answer. Updates it does not understand yield ``None``;
payloads that are not a MAX update at all raise ``MaxPayloadError``.

Why our own models and not maxapi's: maxapi's update union rejects a whole update when one
attachment or ``chat_type`` is newer than the library (tested: an unknown attachment type
fails ``message_created``), which would silently drop a customer's text. These models read
only the fields svyaz uses and ignore the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from connectors.attachments import make
from connectors.base import DIALOG_PREFIX
from connectors.common import clean_inbound, load_json
from flows.errors import SvyazError
from flows.types import Attachment as File
from flows.types import (
    AttachmentEvent,
    AttachmentKind,
    ButtonEvent,
    ContactEvent,
    Event,
    Inbound,
    PermissionEvent,
    StartEvent,
    TextEvent,
)

# ``Inbound.reply_to`` of a group chat: "chat:<chat_id>"; of a dialog "dialog:<chat_id>:<user_id>"
# (sent to the user; the chat id lets a re-send look up what already arrived). A bare number
# is a user, so a chat id is never mistaken for a user id when the runtime passes reply_to to
# ``send``.
CHAT_PREFIX = "chat:"

KNOWN_TYPES = frozenset({"message_created", "message_callback", "bot_started", "bot_stopped"})


class MaxPayloadError(SvyazError):
    """The body is not a MAX update svyaz can read (bad JSON, missing required fields)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class User(_Model):
    user_id: int = Field(gt=0)  # MAX numbers users from 1; 0 is nobody (and broke the turn)
    first_name: str = ""
    last_name: str | None = None
    is_bot: bool = False

    @property
    def full_name(self) -> str | None:
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        return name or None


class Recipient(_Model):
    chat_id: int | None = None
    chat_type: str | None = None
    user_id: int | None = None


class Attachment(_Model):
    type: str
    # Contact: {vcf_info, hash, max_info}; keyboard: {buttons}; media: {url, token}.
    payload: dict[str, object] | None = None
    # A file's (read leniently: an odd value loses the name, never the customer's message).
    filename: object = None
    size: object = None


class Body(_Model):
    mid: str
    seq: int | None = None
    text: str | None = None
    attachments: list[Attachment] | None = None


class LinkedBody(_Model):
    mid: str | None = None


class Linked(_Model):
    type: str  # "reply" or "forward"
    message: LinkedBody | None = None


class Message(_Model):
    sender: User | None = None
    recipient: Recipient
    timestamp: int
    body: Body
    link: Linked | None = None

    @property
    def replied(self) -> str | None:
        """The ``mid`` of the message this one replies to (not of one it forwards)."""
        link = self.link
        return link.message.mid if link and link.type == "reply" and link.message else None


class Callback(_Model):
    timestamp: int
    callback_id: str = Field(min_length=1)
    payload: str | None = None
    user: User


class MessageCreated(_Model):
    update_type: Literal["message_created"]
    timestamp: int
    message: Message


class MessageCallback(_Model):
    update_type: Literal["message_callback"]
    timestamp: int
    callback: Callback
    message: Message | None = None


class BotStarted(_Model):
    update_type: Literal["bot_started"]
    timestamp: int
    chat_id: int
    user: User
    payload: str | None = None


class BotStopped(_Model):
    update_type: Literal["bot_stopped"]
    timestamp: int
    chat_id: int
    user: User


AnyUpdate = MessageCreated | MessageCallback | BotStarted | BotStopped
Update = Annotated[AnyUpdate, Field(discriminator="update_type")]


class _Envelope(_Model):
    update: Update


# The webhook's body validated straight from its bytes in strict mode (JSON ints for ints,
# strings for strings): a body strict accepts, lax validation of the decoded JSON turns into
# the very same update, so ``parse`` answers as before; anything else takes the full path.
_STRICT: TypeAdapter[AnyUpdate] = TypeAdapter(Update)


def parse(raw: object) -> Inbound | None:
    """Translate one update (a JSON object, or its text/bytes) into an ``Inbound``.

    Returns ``None`` for updates svyaz does not act on (other types, bot or channel posts,
    messages with neither text, a contact nor a file). Raises ``MaxPayloadError`` for
    anything that is not a well-formed update.

    A body (text or bytes) is first validated by pydantic straight from its JSON, strictly:
    ~3× cheaper than ``json.loads`` and then the models (profile: the webhook's ``parse``
    ~2 % of the bot's CPU). What that refuses goes the full way below, which explains.
    """
    if isinstance(raw, str | bytes | bytearray):
        try:
            update = _STRICT.validate_json(raw, strict=True)
        except ValidationError:
            pass
        else:
            return _finish(update)
    data = _load(raw)
    update_type = data.get("update_type")
    if not isinstance(update_type, str) or not isinstance(data.get("timestamp"), int):
        raise MaxPayloadError("not a MAX update: needs string 'update_type' and int 'timestamp'")
    if update_type not in KNOWN_TYPES:
        return None
    try:
        update = _Envelope.model_validate({"update": data}).update
    except ValidationError as exc:
        raise MaxPayloadError(f"malformed {update_type} update: {_first_error(exc)}") from exc
    return _finish(update)


def _finish(update: AnyUpdate) -> Inbound | None:
    inbound = _translate(update)
    return None if inbound is None else clean_inbound(inbound)


def _load(raw: object) -> dict[str, object]:
    if isinstance(raw, str | bytes | bytearray):
        try:
            raw = load_json(raw)
        except ValueError as exc:
            raise MaxPayloadError(f"update body is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise MaxPayloadError(f"update must be a JSON object, got {type(raw).__name__}")
    return raw


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"][2:]) or "update"  # skip 'update', the tag
    return f"{where}: {err['msg']}"


def _translate(update: AnyUpdate) -> Inbound | None:
    if isinstance(update, MessageCreated):
        return _message(update.message)
    if isinstance(update, MessageCallback):
        return _callback(update)
    if isinstance(update, BotStarted):
        return _inbound(
            update.user,
            f"start:{update.user.user_id}:{update.timestamp}",
            StartEvent(payload=update.payload or None),
            Recipient(chat_id=update.chat_id, chat_type="dialog"),
        )
    return _inbound(
        update.user,
        f"stop:{update.user.user_id}:{update.timestamp}",
        PermissionEvent(allowed=False),
    )


def _inbound(
    user: User,
    event_id: str,
    event: Event,
    recipient: Recipient | None = None,
    *,
    callback_id: str | None = None,
    replied: str | None = None,
) -> Inbound:
    return Inbound(
        channel="max",
        user_id=str(user.user_id),
        event_id=event_id,
        event=event,
        reply_to=reply_target(recipient, user.user_id),
        callback_id=callback_id,
        name=user.full_name,
        replied=replied,
    )


def reply_target(recipient: Recipient | None, user_id: int) -> str | None:
    """Where answers go: a group chat (``"chat:<id>"``), the user in a dialog whose chat id is
    known (``"dialog:<chat_id>:<user_id>"``), else None (the user, by ``Inbound.user_id``)."""
    if recipient is None or recipient.chat_id is None:
        return None
    if recipient.chat_type == "dialog":
        return f"{DIALOG_PREFIX}{recipient.chat_id}:{user_id}"
    return f"{CHAT_PREFIX}{recipient.chat_id}"


def _message(message: Message) -> Inbound | None:
    sender = message.sender
    if sender is None or sender.is_bot:  # channel posts and bots (our own echo) are not customers
        return None
    event_id = f"mid:{message.body.mid}"
    event: Event | None = _contact(message.body, sender)
    files = files_of(event_id, message.body.attachments or ())
    if event is None and files:
        event = AttachmentEvent(attachments=files, text=message.body.text or "")
    if event is None and message.body.text:
        event = TextEvent(text=message.body.text)
    if event is None:
        return None
    return _inbound(sender, event_id, event, message.recipient, replied=message.replied)


# MAX attachment types that are files a customer sent, and what svyaz calls them.
_FILE_KINDS: dict[str, AttachmentKind] = {"image": "photo", "file": "file", "audio": "voice"}


def files_of(event_id: str, attachments: Sequence[Attachment]) -> tuple[File, ...]:
    """Images, files and audio of a message body (PROTOCOLS.md A9: ``payload {url, token}``,
    an image adds ``photo_id``, a file adds top-level ``filename`` and ``size``). One without
    a token or url is skipped: there is nothing to keep."""
    found: list[File] = []
    for index, item in enumerate(attachments):
        kind = _FILE_KINDS.get(item.type)
        payload = item.payload or {}
        token, url = payload.get("token"), payload.get("url")
        if kind is None or not isinstance(url, str) or not url:
            continue
        ref = token if isinstance(token, str) and token else url
        name = item.filename if isinstance(item.filename, str) else None
        size = item.size if isinstance(item.size, int) and not isinstance(item.size, bool) \
            else None
        found.append(make("max", event_id, index, kind=kind, ref=ref, url=url, name=name,
                          size=size))
    return tuple(found)


def _callback(update: MessageCallback) -> Inbound:
    callback = update.callback
    payload = callback.payload or ""
    recipient = update.message.recipient if update.message else None
    label = _button_label(update.message, payload) if update.message else ""
    return _inbound(
        callback.user,
        f"cb:{callback.callback_id}",
        ButtonEvent(button=payload, text=label),
        recipient,
        callback_id=callback.callback_id,
    )


def _button_label(message: Message, payload: str) -> str:
    """The pressed button's text, found in the keyboard of the message that carried it."""
    for attachment in message.body.attachments or ():
        if attachment.type != "inline_keyboard":
            continue
        rows = (attachment.payload or {}).get("buttons")
        for row in rows if isinstance(rows, list) else ():
            for button in row if isinstance(row, list) else ():
                if isinstance(button, dict) and button.get("payload") == payload:
                    text = button.get("text")
                    return text if isinstance(text, str) else ""
    return ""


def _contact(body: Body, sender: User) -> ContactEvent | None:
    """A contact card the sender shared about themselves (the request_contact button's result).

    A card of somebody else (``max_info.user_id`` differs from the sender) is not the
    customer's phone and is ignored.
    """
    for attachment in body.attachments or ():
        if attachment.type != "contact" or not attachment.payload:
            continue
        info = attachment.payload.get("max_info")
        if isinstance(info, dict) and info.get("user_id") not in (None, sender.user_id):
            continue
        vcf = attachment.payload.get("vcf_info")
        phone, name = parse_vcard(vcf) if isinstance(vcf, str) else (None, None)
        if phone:
            return ContactEvent(phone=phone, name=name)
    return None


def parse_vcard(text: str) -> tuple[str | None, str | None]:
    """The first ``TEL`` and the ``FN`` of a vCard (folded lines and ``item1.`` groups allowed)."""
    unfolded = text.replace("\r\n", "\n").replace("\n ", "").replace("\n\t", "")
    phone: str | None = None
    name: str | None = None
    for line in unfolded.split("\n"):
        key, sep, value = line.partition(":")
        if not sep:
            continue
        prop = key.split(";", 1)[0].rsplit(".", 1)[-1].upper()
        if prop == "TEL" and phone is None and value.strip():
            phone = value.strip()
        elif prop == "FN" and name is None and value.strip():
            name = value.strip()
    return phone, name

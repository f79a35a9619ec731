"""What every connector does with a file a customer sent: give it svyaz's id and clean its
name, so each platform's parser only reads its own wire shape; and a file an operator sends
as a link, where a channel cannot carry the file itself.

Pure: no I/O. The id is derived from the channel, the platform's event id and the file's place
in the message, so a re-delivered update yields the same id (and the same stored copy).
"""

from __future__ import annotations

import dataclasses
import hashlib

from connectors.common import clean_text
from flows.types import Attachment, AttachmentKind, Button, Channel, Reply

ID_LENGTH = 24  # hex characters of svyaz's attachment id (96 bits)
MAX_NAME = 200  # a file name longer than this is cut (it is shown, never used as a path)


def attachment_id(channel: Channel, event_id: str, index: int) -> str:
    """svyaz's id of the ``index``-th file of the platform's event ``event_id``."""
    digest = hashlib.sha256(f"{channel}\0{event_id}\0{index}".encode(errors="surrogatepass"))
    return digest.hexdigest()[:ID_LENGTH]


def is_attachment_id(value: str) -> bool:
    """True for a string shaped as ``attachment_id`` makes them (lower-case hex, fixed length)."""
    return len(value) == ID_LENGTH and all(c in "0123456789abcdef" for c in value)


def make(  # noqa: PLR0913 - one keyword per documented property
    channel: Channel, event_id: str, index: int, *, kind: AttachmentKind, ref: str,
    url: str | None = None, name: str | None = None, size: int | None = None,
    mime: str | None = None,
) -> Attachment:
    """An ``Attachment`` with its id, a clean short name and no negative size."""
    clean = clean_text(name).strip()[:MAX_NAME] if name else None
    return Attachment(
        id=attachment_id(channel, event_id, index), kind=kind, ref=clean_text(ref),
        url=clean_text(url) if url else None, name=clean or None,
        size=size if size is not None and size >= 0 else None, mime=mime,
    )


def with_file_link(reply: Reply, *, max_label: int) -> Reply:
    """``reply`` for a channel that cannot carry its file: a link button to the file's ``url``
    (the web chat; the signed link ``bots.desk.upload`` made), the caption or the name as text."""
    file = reply.file
    if file is None or not file.url:
        return reply
    label = (file.name or ("Фото" if file.kind == "photo" else "Файл"))[: max(1, max_label - 2)]
    button = Button(id=f"file:{file.id}", text=f"📎 {label}", url=file.url)
    return dataclasses.replace(reply, text=reply.text or label, file=None,
                               buttons=(*reply.buttons, button))

"""What customers send besides text, channel-neutral: part of ``flows.types``' contract
(which re-exports every name here), kept apart for size. No imports of ours, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

AttachmentKind = Literal["photo", "file", "voice"]
"""What a customer sent besides text: a picture, a document, a voice message (one list,
read by the flow language's ``input:`` kinds and by every channel's parser)."""
ATTACHMENT_KINDS: tuple[str, ...] = get_args(AttachmentKind)


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment:
    """A file a customer sent, as the platform describes it.

    ``id`` is svyaz's own (the same for the same message on a re-delivery); ``ref`` the
    platform's reference to the file (VK ``photo<owner>_<id>_<key>``, a MAX token), which a
    platform can reuse; ``url`` where the platform serves it now (it may expire); ``name``,
    ``size`` (bytes) and ``mime`` when the platform says.
    """

    id: str
    kind: AttachmentKind
    ref: str
    url: str | None = None
    name: str | None = None
    size: int | None = None
    mime: str | None = None


@dataclass(frozen=True, slots=True)
class AttachmentEvent:
    """The customer sent files (``attachments``, never empty), with ``text`` as a caption."""

    attachments: tuple[Attachment, ...]
    text: str = ""

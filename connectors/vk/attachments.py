"""VK message ``attachments`` (photo, doc, audio_message) -> ``Attachment`` (PROTOCOLS.md B6).

Pure. Shapes as the VK API (5.199) documents its media objects: a photo carries ``sizes``
(each ``{type, url, width, height}``) and, since 5.19x, ``orig_photo``; a doc ``title``,
``size``, ``ext`` and ``url``; a voice message ``link_ogg``/``link_mp3`` and ``duration``.
Each is referred to as ``<type><owner_id>_<id>[_<access_key>]``, the form ``messages.send``
takes in ``attachment``. Other kinds (stickers, walls, links) are not files and are skipped;
so is an item that is not shaped as documented.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, ValidationError

from connectors.attachments import make
from flows.types import JSON, Attachment


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Media(_Model):
    id: int
    owner_id: int
    access_key: str | None = None

    def ref(self, kind: str) -> str:
        key = f"_{self.access_key}" if self.access_key else ""
        return f"{kind}{self.owner_id}_{self.id}{key}"


class _Size(_Model):
    url: str
    width: int = 0
    height: int = 0


class _Photo(_Media):
    sizes: list[_Size] = []
    orig_photo: _Size | None = None

    def best_url(self) -> str | None:
        if self.orig_photo is not None:
            return self.orig_photo.url
        best = max(self.sizes, key=lambda s: s.width * s.height, default=None)
        return best.url if best else None


class _Doc(_Media):
    title: str = ""
    size: int | None = None
    ext: str = ""
    url: str | None = None


class _Voice(_Media):
    duration: int = 0
    link_ogg: str | None = None
    link_mp3: str | None = None


def attachments_of(event_id: str, items: Sequence[JSON]) -> tuple[Attachment, ...]:
    """The files among a message's ``attachments``, in their order."""
    found: list[Attachment] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            continue
        try:
            attachment = _one(event_id, index, item)
        except ValidationError:
            continue  # a file VK describes differently: the text still gets through
        if attachment is not None:
            found.append(attachment)
    return tuple(found)


def _one(event_id: str, index: int, item: Mapping[str, JSON]) -> Attachment | None:
    kind, body = item.get("type"), item.get(str(item.get("type")))
    if not isinstance(body, Mapping):
        return None
    if kind == "photo":
        photo = _Photo.model_validate(body)
        return make("vk", event_id, index, kind="photo", ref=photo.ref("photo"),
                    url=photo.best_url())
    if kind == "doc":
        doc = _Doc.model_validate(body)
        return make("vk", event_id, index, kind="file", ref=doc.ref("doc"), url=doc.url,
                    name=doc.title or None, size=doc.size)
    if kind == "audio_message":
        voice = _Voice.model_validate(body)
        url, mime = (voice.link_mp3, "audio/mpeg") if voice.link_mp3 else (voice.link_ogg,
                                                                          "audio/ogg")
        return make("vk", event_id, index, kind="voice", ref=voice.ref("doc"), url=url,
                    mime=mime if url else None)
    return None

"""Sending a file to a VK customer: upload it where VK says, save it, and name it in
``messages.send``'s ``attachment`` (the VK API's documented steps for community messages).

photo: ``photos.getMessagesUploadServer(peer_id)`` -> POST the bytes as multipart field
``photo`` to its ``upload_url`` -> ``photos.saveMessagesPhoto(photo, server, hash)`` ->
``photo<owner_id>_<id>_<access_key>``; any other file: ``docs.getMessagesUploadServer(type=doc,
peer_id)`` -> field ``file`` -> ``docs.save(file, title)`` -> ``doc<owner_id>_<id>``.
A re-send after a crash uploads again; ``messages.send``'s ``random_id`` still keeps the
customer from seeing the message twice.

Must not: decide what to send or read files itself (the bytes are handed in).
"""

from __future__ import annotations

import io
import json

import aiohttp
from pydantic import BaseModel, ConfigDict, ValidationError

from connectors.base import Priority
from connectors.vk.client import VkClient, VkUnavailable
from flows.types import JSON, Attachment

UPLOAD_TIMEOUT = 120.0  # seconds for the bytes to reach VK's upload server


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Server(_Model):
    upload_url: str


class _PhotoUploaded(_Model):
    server: int
    photo: str
    hash: str


class _DocUploaded(_Model):
    file: str


class _Saved(_Model):
    id: int
    owner_id: int
    access_key: str | None = None


class _DocSaved(_Model):
    doc: _Saved


async def upload(client: VkClient, peer_id: str, file: Attachment, data: bytes, *,
                 priority: Priority = "live") -> str:
    """The ``attachment`` value naming ``data`` uploaded for ``peer_id``."""
    name = file.name or ("photo.jpg" if file.kind == "photo" else "file")
    try:
        if file.kind == "photo":
            server = _Server.model_validate(await client.call(
                "photos.getMessagesUploadServer", {"peer_id": peer_id}, priority=priority))
            up = _PhotoUploaded.model_validate(await _post(client, server.upload_url, "photo",
                                                           name, data))
            saved = await client.call("photos.saveMessagesPhoto", {
                "photo": up.photo, "server": str(up.server), "hash": up.hash}, priority=priority)
            photo = _Saved.model_validate(saved[0] if isinstance(saved, list) and saved else {})
            key = f"_{photo.access_key}" if photo.access_key else ""
            return f"photo{photo.owner_id}_{photo.id}{key}"
        server = _Server.model_validate(await client.call(
            "docs.getMessagesUploadServer", {"type": "doc", "peer_id": peer_id},
            priority=priority))
        doc_up = _DocUploaded.model_validate(await _post(client, server.upload_url, "file",
                                                         name, data))
        doc = _DocSaved.model_validate(await client.call(
            "docs.save", {"file": doc_up.file, "title": name}, priority=priority)).doc
        return f"doc{doc.owner_id}_{doc.id}"
    except ValidationError as exc:
        raise VkUnavailable(f"VK upload answered an unexpected shape: {exc.error_count()} "
                            "problems") from exc


async def _post(client: VkClient, url: str, field: str, name: str, data: bytes) -> JSON:
    form = aiohttp.FormData()
    form.add_field(field, io.BytesIO(data), filename=name,
                   content_type="application/octet-stream")
    try:
        async with client.session.post(
            url, data=form, timeout=aiohttp.ClientTimeout(total=UPLOAD_TIMEOUT)
        ) as resp:
            body: JSON = json.loads(await resp.read())
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        raise VkUnavailable(f"VK upload server failed: {type(exc).__name__}") from exc
    if not isinstance(body, dict) or "error" in body:
        raise VkUnavailable("VK upload server refused the file")
    return body

"""VK's upload flow for messages, as the VK fake serves it (the VK API's documented steps):

photo: ``photos.getMessagesUploadServer(peer_id)`` -> ``{upload_url, album_id, group_id}``;
a multipart POST of field ``photo`` to ``upload_url`` -> ``{server, photo, hash}`` (``photo`` is
a JSON text); ``photos.saveMessagesPhoto(photo, server, hash)`` -> ``[{id, owner_id,
access_key, sizes...}]``; then ``messages.send(attachment=photo<owner>_<id>_<key>)``.
doc: ``docs.getMessagesUploadServer(type=doc, peer_id)`` -> ``{upload_url}``; field ``file``
-> ``{file}``; ``docs.save(file, title)`` -> ``{type: "doc", doc: {id, owner_id, title, size,
ext, url}}``; then ``attachment=doc<owner>_<id>``.

An upload server answers a bad upload with ``{"error": ...}`` (HTTP 200), as VK's do. The
fake keeps the bytes of every saved photo and doc by the reference ``messages.send`` takes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from tests.fakes.vk_wire import ApiError

_IDS = itertools.count(457239100)


class VkUploads:
    def __init__(self, group_id: int) -> None:
        self.group_id = group_id
        self.base = ""  # the fake's URL, set when it starts
        self.saved: dict[str, tuple[bytes, str]] = {}  # attachment ref -> (bytes, name)
        self._pending: dict[str, tuple[str, bytes, str]] = {}  # token -> (kind, bytes, name)

    def methods(self) -> dict[str, Callable[[dict[str, str]], Any]]:
        return {"photos.getMessagesUploadServer": self._photo_server,
                "photos.saveMessagesPhoto": self._save_photo,
                "docs.getMessagesUploadServer": self._doc_server,
                "docs.save": self._save_doc}

    async def upload(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        form = await request.post()
        field = form.get("photo" if kind == "photo" else "file")
        if not isinstance(field, web.FileField):
            return web.json_response({"error": "no file", "error_descr": "file field missing"})
        token = uuid.uuid4().hex
        self._pending[token] = (kind, field.file.read(), unquote(field.filename))
        if kind == "photo":
            photo = json.dumps([{"photo": token, "sizes": [], "kid": "k" + token[:6]}])
            return web.json_response({"server": 621, "photo": photo, "hash": _hash(token)})
        return web.json_response({"file": token})

    def _photo_server(self, params: dict[str, str]) -> dict[str, Any]:
        _require(params, "peer_id")
        return {"upload_url": f"{self.base}/upload/photo?gid={self.group_id}",
                "album_id": -64, "group_id": self.group_id}

    def _doc_server(self, params: dict[str, str]) -> dict[str, Any]:
        _require(params, "peer_id")
        if params.get("type", "doc") not in ("doc", "audio_message", "graffiti"):
            raise ApiError(100, "type is invalid")
        return {"upload_url": f"{self.base}/upload/doc?gid={self.group_id}"}

    def _save_photo(self, params: dict[str, str]) -> list[dict[str, Any]]:
        _require(params, "photo", "server", "hash")
        try:
            token = json.loads(params["photo"])[0]["photo"]
        except (ValueError, LookupError, TypeError) as exc:
            raise ApiError(100, "photo is invalid") from exc
        if params["hash"] != _hash(token) or token not in self._pending:
            raise ApiError(100, "hash is invalid")
        _, data, name = self._pending.pop(token)
        photo_id, owner, key = next(_IDS), -self.group_id, token[:18]
        self.saved[f"photo{owner}_{photo_id}_{key}"] = (data, name)
        size = {"type": "x", "url": f"{self.base}/media/{photo_id}.jpg", "width": 1,
                "height": 1}
        return [{"id": photo_id, "owner_id": owner, "album_id": -64, "access_key": key,
                 "date": int(time.time()), "sizes": [size], "text": ""}]

    def _save_doc(self, params: dict[str, str]) -> dict[str, Any]:
        _require(params, "file")
        if params["file"] not in self._pending:
            raise ApiError(100, "file is invalid")
        _, data, name = self._pending.pop(params["file"])
        doc_id, owner = next(_IDS), -self.group_id
        title = params.get("title") or name
        self.saved[f"doc{owner}_{doc_id}"] = (data, title)
        doc = {"id": doc_id, "owner_id": owner, "title": title, "size": len(data),
               "ext": title.rpartition(".")[2], "url": f"{self.base}/media/{doc_id}",
               "date": int(time.time()), "type": 1}
        return {"type": "doc", "doc": doc}


def _require(params: dict[str, str], *names: str) -> None:
    for name in names:
        if not params.get(name):
            raise ApiError(100, f"{name} is required")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:32]

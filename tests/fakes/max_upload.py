"""MAX's uploads, as the MAX fake serves them (PROTOCOLS.md A8, maxapi's ``upload_media``):

``POST /uploads?type=image|file|audio|video`` (with the bot's token) -> ``{"url": ...}`` (audio
and video also carry ``"token"``); a multipart POST of field ``data`` to that URL (an upload
host: no token needed) -> for an image ``{"photos": {<id>: {"token": ...}}}``, for a file
``{"token": ...}``; the message then carries ``{"type": "image"|"file", "payload": {"token":
...}}``. The first message that names a fresh token is refused once with
``attachment.not.ready`` (HTTP 400), as MAX does while it processes a file.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any
from urllib.parse import unquote

from aiohttp import web

_IDS = itertools.count(880001)
UPLOAD_TYPES = ("image", "video", "audio", "file")


class MaxUploads:
    def __init__(self) -> None:
        self.base = ""
        self.files: dict[str, tuple[str, bytes, str]] = {}  # token -> (type, bytes, name)
        self._slots: dict[str, str] = {}  # upload slot -> type
        self._not_ready: set[str] = set()

    async def slot(self, request: web.Request) -> web.Response:
        kind = request.query.get("type", "")
        if kind not in UPLOAD_TYPES:
            return web.json_response({"code": "proto.payload", "message": "bad type"},
                                     status=400)
        slot = uuid.uuid4().hex
        self._slots[slot] = kind
        answer: dict[str, Any] = {"url": f"{self.base}/upload/{slot}"}
        if kind in ("audio", "video"):
            answer["token"] = f"{kind}-{slot}"
        return web.json_response(answer)

    async def receive(self, request: web.Request) -> web.Response:
        kind = self._slots.pop(request.match_info["slot"], None)
        form = await request.post()
        field = form.get("data")
        if kind is None or not isinstance(field, web.FileField):
            return web.json_response({"error": "bad upload"}, status=400)
        token = f"{kind}-{uuid.uuid4().hex}"
        self.files[token] = (kind, field.file.read(), unquote(field.filename))
        self._not_ready.add(token)
        if kind == "image":
            return web.json_response({"photos": {str(next(_IDS)): {"token": token}}})
        return web.json_response({"token": token})

    def refusal(self, body: dict[str, Any]) -> str | None:
        """Why a message naming uploaded media is refused now (None: it is accepted)."""
        for att in body.get("attachments") or []:
            if not isinstance(att, dict) or att.get("type") not in ("image", "file"):
                continue
            token = (att.get("payload") or {}).get("token")
            if token is None:
                continue
            if token not in self.files:
                return "proto.payload"
            if token in self._not_ready:
                self._not_ready.discard(token)
                return "attachment.not.ready"
        return None

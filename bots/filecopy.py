"""Copies of what customers send: download each photo, document or voice message the platform
announced, check what it is by its content, and keep it (``storage.files``) for the desk.

The download is bounded (``MAX_BYTES``, ``TIMEOUT``) and runs beside the turn, never inside
it: the customer's reply does not wait for a slow file host. Only ``http(s)`` URLs from the
platform's update are fetched; the type is what the bytes are (puremagic), not what the
platform or the file name says: a "photo" that is not an image, or a "voice message" that is
not audio, is not kept. A file that is not kept still has its platform reference in the
history. A process that dies mid-download loses that copy only.

This module must not decide what the desk shows or serve files (``bots.desk.files`` does).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

import aiohttp
import puremagic

from flows.types import Attachment, AttachmentKind
from storage.errors import StorageError
from storage.files import Files, StoredFile

log = logging.getLogger("svyaz.bots")

MAX_BYTES = 20 * 1024 * 1024  # a copy larger than this is not kept (the reference is)
TIMEOUT = 60.0  # seconds for one whole download
_CHUNK = 64 * 1024
UNKNOWN = "application/octet-stream"
IMAGES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_SOUND_EXTRA = frozenset({"application/ogg", "video/ogg", "video/mp4", "video/webm"})


class TooLarge(Exception):
    """The file is over ``MAX_BYTES``."""


def content_type(data: bytes) -> str:
    """The MIME type found in ``data`` (puremagic); ``UNKNOWN`` when nothing matches."""
    try:
        found = puremagic.from_string(data, mime=True)
    except (puremagic.PureError, ValueError):
        return UNKNOWN
    return found or UNKNOWN


def accepted(kind: AttachmentKind, mime: str) -> bool:
    """Is content of type ``mime`` what a ``kind`` claims to be?"""
    if kind == "photo":
        return mime in IMAGES
    if kind == "voice":
        return mime.startswith("audio/") or mime in _SOUND_EXTRA
    return True


async def download(http: aiohttp.ClientSession, url: str, *, limit: int = MAX_BYTES,
                   timeout: float = TIMEOUT) -> bytes:
    """The body at ``url``; ``TooLarge`` past ``limit`` bytes, ``aiohttp.ClientError`` or
    ``TimeoutError`` when the host fails."""
    if not url.startswith(("https://", "http://")):
        raise aiohttp.InvalidURL(url)
    async with asyncio.timeout(timeout), http.get(url, allow_redirects=True) as response:
        response.raise_for_status()
        if (response.content_length or 0) > limit:
            raise TooLarge(url)
        body = bytearray()
        async for chunk in response.content.iter_chunked(_CHUNK):
            body += chunk
            if len(body) > limit:
                raise TooLarge(url)
        return bytes(body)


class FileCopier:
    """Keeps copies in the background; every download task stays referenced until it ends."""

    def __init__(self, files: Files, *, http: Callable[[], aiohttp.ClientSession],
                 limit: int = MAX_BYTES, timeout: float = TIMEOUT) -> None:
        self._files = files
        self._http = http
        self._limit = limit
        self._timeout = timeout
        self._tasks: set[asyncio.Task[StoredFile | None]] = set()

    def start(self, customer: str, attachments: Iterable[Attachment]) -> None:
        for attachment in attachments:
            task = asyncio.create_task(self.copy(customer, attachment), name="file-copy")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Wait for the downloads in progress (tests; shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def copy(self, customer: str, attachment: Attachment) -> StoredFile | None:
        """Download, check and keep one file; None (logged, without the URL) when not kept."""
        why = self._refusal(attachment)
        data = b""
        if why is None:
            try:
                data = await download(self._http(), attachment.url or "", limit=self._limit,
                                      timeout=self._timeout)
            except TooLarge:
                why = "over the size limit"
            except (aiohttp.ClientError, TimeoutError) as exc:
                why = f"download failed ({type(exc).__name__})"
        mime = content_type(data) if why is None else UNKNOWN
        if why is None and not accepted(attachment.kind, mime):
            why = f"content is {mime}, not a {attachment.kind}"
        if why is not None:
            log.warning("file %s not kept: %s", attachment.id, why,
                        extra={"customer": customer})
            return None
        try:
            return await self._files.keep(customer, attachment, data, mime)
        except (StorageError, OSError) as exc:
            log.warning("file %s not kept: %s", attachment.id, type(exc).__name__,
                        extra={"customer": customer})
            return None

    def _refusal(self, attachment: Attachment) -> str | None:
        if not attachment.url:
            return "no URL"
        if attachment.size is not None and attachment.size > self._limit:
            return "over the size limit"
        return None

"""Copies of what customers send: download each photo, document or voice message the platform
announced, check what it is by its content, and keep it (``storage.files``) for the desk.

The download is bounded (``MAX_BYTES``, ``TIMEOUT``) and runs beside the turn, never inside
it: the customer's reply does not wait for a slow file host. Only ``http(s)`` URLs from the
platform's update are fetched, and only from public addresses (``bots.fileguard``); the type
is what the bytes are (puremagic), not what the platform or the file name says: a "photo"
that is not an image, or a "voice message" that is not audio, is not kept. A file that is not
kept still has its platform reference in the history.

Each copy is marked pending in Redis before it is downloaded (``storage.files``); ``sweep``
(at start-up and every minute, in every process: one claim per file) makes the copies a
process left behind. A download that fails is tried again by the next sweeps, ``MAX_TRIES``
in all (a platform URL that expired stays failing): then the copy ends as "no copy" with the
reason; one that can never succeed (too large, not what it claims, a refused address) ends so
at once. The mark is written right after the message is accepted, and again (a no-op then)
when its turn runs: a process that dies between the accept and the mark leaves the message in
the inbox, so the next process's turn marks it and its sweep makes the copy.

This module must not decide what the desk shows or serve files (``bots.desk.files`` does).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import aiohttp
import puremagic
from yarl import URL

from bots.fileguard import Network, Refused, check_url, guarded_session, refused
from flows.types import Attachment, AttachmentKind
from storage.errors import StorageError
from storage.files import Files, PendingFile, StoredFile

log = logging.getLogger("svyaz.bots")

MAX_BYTES = 20 * 1024 * 1024  # a copy larger than this is not kept (the reference is)
TIMEOUT = 60.0  # seconds for one whole download
MAX_TRIES = 5  # downloads of one copy (one per sweep) before it ends as "no copy"
SWEEP_EVERY = 60.0  # seconds between sweeps of the pending copies
_CLAIM_TTL = TIMEOUT + 30.0  # a claim outlives its download
_REDIRECTS = 5
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
                   timeout: float = TIMEOUT, allow: Sequence[Network] = ()) -> bytes:
    """The body at ``url``; ``TooLarge`` past ``limit`` bytes, ``Refused`` for an address
    that is not public, ``aiohttp.ClientError`` or ``TimeoutError`` when the host fails.
    Redirects are followed here, each address checked (``bots.fileguard``)."""
    target = URL(url)
    async with asyncio.timeout(timeout):
        for _ in range(_REDIRECTS + 1):
            check_url(target, allow)
            async with http.get(target, allow_redirects=False) as response:
                location = response.headers.get("Location")
                if response.status in (301, 302, 303, 307, 308) and location:
                    target = target.join(URL(location))
                    continue
                response.raise_for_status()
                return await _body(response, limit)
    raise aiohttp.ClientError(f"more than {_REDIRECTS} redirects")


async def _body(response: aiohttp.ClientResponse, limit: int) -> bytes:
    if (response.content_length or 0) > limit:
        raise TooLarge(str(response.url))
    body = bytearray()
    async for chunk in response.content.iter_chunked(_CHUNK):
        body += chunk
        if len(body) > limit:
            raise TooLarge(str(response.url))
    return bytes(body)


@dataclass(frozen=True, slots=True)
class NotKept:
    """Why a copy was not made; ``final`` when trying again cannot help."""

    why: str
    final: bool = True


class FileCopier:
    """Keeps copies in the background; every download task stays referenced until it ends.
    Its own HTTP session connects to public addresses only (and to ``allow``: tests)."""

    def __init__(self, files: Files, *, allow: Sequence[Network] = (), limit: int = MAX_BYTES,
                 timeout: float = TIMEOUT, tries: int = MAX_TRIES) -> None:
        self._files = files
        self._allow = tuple(allow)
        self._session: aiohttp.ClientSession | None = None
        self._limit = limit
        self._timeout = timeout
        self._tries = tries
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    async def start(self, customer: str, attachments: Iterable[Attachment]) -> None:
        """Mark the copies pending, then make them beside the turn."""
        files = tuple(attachments)
        try:
            await self._files.mark(customer, files)
        except StorageError as exc:  # the turn marks them again, a later sweep makes them
            log.warning("pending copies not marked: %s", type(exc).__name__,
                        extra={"customer": customer})
        for attachment in files:
            task = asyncio.create_task(self.make(customer, PendingFile(attachment)),
                                       name="file-copy")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def sweep(self) -> None:
        """Make the pending copies of every customer (claimed one by one: any process)."""
        for customer in await self._files.waiting():
            if self._closed:  # shutting down: the next process goes on
                return
            for pending in await self._files.pending(customer):
                await self.make(customer, pending)
            await self._files.settle(customer)

    async def idle(self) -> None:
        """Wait for the downloads in progress (tests; shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        self._closed = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def make(self, customer: str, pending: PendingFile) -> None:
        """One try at a pending copy, under this process's claim; the record says how it went
        (kept, one more try, or "no copy" with the reason)."""
        attachment = pending.attachment
        try:
            if not await self._files.claim(customer, attachment.id, ttl=_CLAIM_TTL):
                return  # another process is at it
            try:
                got = await self.fetch(attachment)
                if not isinstance(got, NotKept):
                    await self._files.keep(customer, attachment, *got, pending=True)
                else:
                    final = got.final or pending.tries + 1 >= self._tries
                    if final:
                        self._not_kept(customer, attachment, got.why)
                    await self._files.failed(customer, pending, got.why, final=final)
            finally:
                await self._files.unclaim(customer, attachment.id)
        except (StorageError, OSError) as exc:  # left pending: the next sweep tries again
            log.warning("file %s not kept yet: %s", attachment.id, type(exc).__name__,
                        extra={"customer": customer})

    async def copy(self, customer: str, attachment: Attachment) -> StoredFile | None:
        """Download, check and keep one file now, without a pending mark; None (logged,
        without the URL) when not kept."""
        got = await self.fetch(attachment)
        if isinstance(got, NotKept):
            self._not_kept(customer, attachment, got.why)
            return None
        try:
            return await self._files.keep(customer, attachment, *got)
        except (StorageError, OSError) as exc:
            self._not_kept(customer, attachment, type(exc).__name__)
            return None

    async def fetch(self, attachment: Attachment) -> tuple[bytes, str] | NotKept:
        """The file's bytes and the type found in them, or why not."""
        if (why := self._refusal(attachment)) is not None:
            return NotKept(why)
        try:
            data = await download(self._http(), attachment.url or "", limit=self._limit,
                                  timeout=self._timeout, allow=self._allow)
        except TooLarge:
            return NotKept("over the size limit")
        except aiohttp.InvalidURL:
            return NotKept("not a web address")
        except (aiohttp.ClientError, TimeoutError, Refused) as exc:
            if refused(exc):
                return NotKept("address refused")
            return NotKept(f"download failed ({type(exc).__name__})", final=False)
        mime = content_type(data)
        if not accepted(attachment.kind, mime):
            return NotKept(f"content is {mime}, not a {attachment.kind}")
        return data, mime

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = guarded_session(self._allow)
        return self._session

    @staticmethod
    def _not_kept(customer: str, attachment: Attachment, why: str) -> None:
        log.warning("file %s not kept: %s", attachment.id, why, extra={"customer": customer})

    def _refusal(self, attachment: Attachment) -> str | None:
        if not attachment.url:
            return "no URL"
        if attachment.size is not None and attachment.size > self._limit:
            return "over the size limit"
        return None

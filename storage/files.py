"""Copies of the files customers sent (photos, documents, voice), kept under the data folder.

A copy lives at ``<folder>/<first two characters of its id>/<id>``: the id is svyaz's
attachment id (hex, checked here), never a name or path from the customer. What is known of
it (kind, type found by its content, size, the customer's file name, the platform's reference)
is a field of the customer's ``{c:<id>}:files`` hash, so a copy is served only through the
customer it belongs to, erasure (``erase``) finds every copy, and a merge moves the index.

This module stores bytes it is given; it must not download, decide what is worth keeping or
check content (``bots.filecopy`` does).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from flows.types import ATTACHMENT_KINDS, Attachment, AttachmentKind
from storage.client import RedisClient
from storage.codec import dumps, text
from storage.errors import guarded, guarded_slow
from storage.keys import Keys

_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredFile:
    """A kept copy: ``mime`` is the type found in its content, ``size`` its bytes."""

    id: str
    kind: AttachmentKind
    mime: str
    size: int
    name: str | None = None
    ref: str = ""
    at: float = 0.0

    def to_record(self, customer: str) -> dict[str, object]:
        return {"customer": customer, "id": self.id, "kind": self.kind, "mime": self.mime,
                "size": self.size, "name": self.name, "ref": self.ref, "at": self.at}


def valid_id(file_id: str) -> bool:
    """Only ids svyaz made (lower-case hex, 16-64 characters) ever become a path."""
    return 16 <= len(file_id) <= 64 and set(file_id) <= _HEX


class Files:
    """The copies of one bot (``folder`` is ``<data dir>/files/<bot>``)."""

    def __init__(self, redis: RedisClient, keys: Keys, *, folder: Path) -> None:
        self._redis = redis
        self._keys = keys
        self.folder = folder

    def path(self, file_id: str) -> Path:
        if not valid_id(file_id):
            raise ValueError(f"not a file id: {file_id!r}")
        return self.folder / file_id[:2] / file_id

    @guarded_slow
    async def keep(self, customer: str, attachment: Attachment, data: bytes,
                   mime: str) -> StoredFile:
        """Write the copy (atomically: a reader never sees half a file), then index it."""
        stored = StoredFile(id=attachment.id, kind=attachment.kind, mime=mime, size=len(data),
                            name=attachment.name, ref=attachment.ref, at=time.time())
        await asyncio.to_thread(self._write, self.path(attachment.id), data)
        await self._redis.hset(self._keys.files(customer), attachment.id, dumps(
            {k: v for k, v in stored.to_record(customer).items() if k not in ("customer",)}))
        return stored

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}")
        temp.write_bytes(data)
        os.replace(temp, path)

    @guarded
    async def get(self, customer: str, file_id: str) -> StoredFile | None:
        """The customer's copy ``file_id``; None when it is not theirs or not kept."""
        if not valid_id(file_id):
            return None
        raw = await self._redis.hget(self._keys.files(customer), file_id)
        return None if raw is None else _stored(text(raw))

    @guarded
    async def listing(self, customer: str) -> list[StoredFile]:
        """Every copy of the customer, oldest first."""
        rows = await self._redis.hvals(self._keys.files(customer))
        return sorted((_stored(text(r)) for r in rows), key=lambda f: f.at)

    @guarded_slow
    async def erase(self, customer: str) -> int:
        """Delete the customer's copies from disk and the index; the number deleted."""
        ids = [text(i) for i in await self._redis.hkeys(self._keys.files(customer))]
        paths = [self.path(i) for i in ids if valid_id(i)]
        await asyncio.to_thread(_unlink_all, paths)
        await self._redis.delete(self._keys.files(customer))
        return len(paths)


def _unlink_all(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _stored(raw: str) -> StoredFile:
    data = json.loads(raw)
    kind = data.get("kind")
    return StoredFile(id=str(data["id"]), kind=kind if kind in ATTACHMENT_KINDS else "file",
                      mime=str(data.get("mime", "application/octet-stream")),
                      size=int(data.get("size", 0)), name=data.get("name"),
                      ref=str(data.get("ref", "")), at=float(data.get("at", 0.0)))

"""Copies of the files customers sent (photos, documents, voice), kept under the data folder.

A copy lives at ``<folder>/<first two characters of its id>/<id>``: the id is svyaz's
attachment id (hex, checked here), never a name or path from the customer. What is known of
it (kind, type found by its content, size, the customer's file name, the platform's reference)
is a field of the customer's ``{c:<id>}:files`` hash, so a copy is served only through the
customer it belongs to, erasure (``erase``) finds every copy, and a merge moves the index.

A copy still to make is a field of the same hash too, marked ``pending`` (``mark``, when the
message is accepted, never over a kept copy), with the customer in the global
``files:pending`` zset, so a process that dies before the download leaves the work for the
next one's sweep. A pending field becomes the copy (``keep``) or "no copy" with the reason
(``failed``) only while it is still there: a customer erased meanwhile stays erased.

This module stores bytes it is given; it must not download, decide what is worth keeping or
check content (``bots.filecopy`` does).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

from flows.types import ATTACHMENT_KINDS, Attachment, AttachmentKind
from storage.client import RedisClient
from storage.codec import attachment_from_dict, attachment_to_dict, dumps, text
from storage.errors import guarded, guarded_slow
from storage.keys import Keys
from storage.scripts import Key, Runner, Script, runner

_HEX = frozenset("0123456789abcdef")
PENDING, NO_COPY = "pending", "none"  # a record's "state"; a kept copy has none


@dataclass(slots=True)
class ReplacePending(Script):
    """Set hash field ``field`` to ``value`` only while it is a pending mark; 1 if set."""

    LUA: ClassVar[str] = """
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held and cjson.decode(held)['state'] == 'pending' then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
return 0
"""
    files: Key
    field: str
    value: str

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls(keys.files("c1"), "ab" * 8, "{}")


@dataclass(frozen=True, slots=True)
class PendingFile:
    """A copy still to make: the attachment as the platform announced it, tries so far."""

    attachment: Attachment
    tries: int = 0


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
        self._runner: Runner[ReplacePending] | None = None  # (made on first use)

    def path(self, file_id: str) -> Path:
        if not valid_id(file_id):
            raise ValueError(f"not a file id: {file_id!r}")
        return self.folder / file_id[:2] / file_id

    @guarded_slow
    async def keep(self, customer: str, attachment: Attachment, data: bytes,
                   mime: str, *, pending: bool = False) -> StoredFile | None:
        """Write the copy (atomically: a reader never sees half a file), then index it;
        ``pending``: only in place of its pending mark (None when that is gone)."""
        stored = StoredFile(id=attachment.id, kind=attachment.kind, mime=mime, size=len(data),
                            name=attachment.name, ref=attachment.ref, at=time.time())
        path = self.path(attachment.id)
        await asyncio.to_thread(_write, path, data)
        record = dumps({k: v for k, v in stored.to_record(customer).items() if k != "customer"})
        key = self._keys.files(customer)
        if not pending:
            await self._redis.hset(key, attachment.id, record)
        elif not await self._replace(ReplacePending(key, attachment.id, record)):
            if not await self._redis.hexists(key, attachment.id):  # erased meanwhile
                await asyncio.to_thread(_unlink_all, [path])
            return None  # (or made by another process: its copy stays)
        return stored

    async def _replace(self, call: ReplacePending) -> bool:
        if self._runner is None:
            self._runner = runner(self._redis, ReplacePending)
        return bool(await self._runner(call))

    @guarded
    async def mark(self, customer: str, attachments: Iterable[Attachment]) -> None:
        """Record copies to make (never over a record that is there already)."""
        pipe = self._redis.pipeline(transaction=False)
        for attachment in attachments:
            pipe.hsetnx(self._keys.files(customer), attachment.id, _pending_record(
                PendingFile(attachment)))
        await pipe.execute()
        await self._redis.zadd(self._keys.files_pending, {customer: time.time()}, nx=True)

    @guarded
    async def waiting(self, limit: int = 100) -> list[str]:
        """Customers with copies still to make, longest waiting first."""
        found: Any = await self._redis.zrange(self._keys.files_pending, 0, limit - 1)
        return [text(c) for c in found]

    @guarded
    async def pending(self, customer: str) -> list[PendingFile]:
        """The customer's copies still to make."""
        rows = [json.loads(text(r)) for r in await self._redis.hvals(self._keys.files(customer))]
        return [PendingFile(attachment_from_dict(r["a"]), int(r.get("tries", 0)))
                for r in rows if r.get("state") == PENDING]

    @guarded
    async def settle(self, customer: str) -> None:
        """Drop the customer from ``files:pending`` unless a copy is still to make (a mark
        made meanwhile adds them again after this removal, so none is left unlisted)."""
        await self._redis.zrem(self._keys.files_pending, customer)
        if await self.pending(customer):
            await self._redis.zadd(self._keys.files_pending, {customer: time.time()}, nx=True)

    @guarded
    async def claim(self, customer: str, file_id: str, *, ttl: float) -> bool:
        """This process makes the copy ``file_id`` for ``ttl`` seconds (no other does)."""
        key = self._keys.file_claim(customer, file_id)
        return bool(await self._redis.set(key, b"1", nx=True, px=int(ttl * 1000)))

    @guarded
    async def unclaim(self, customer: str, file_id: str) -> None:
        await self._redis.delete(self._keys.file_claim(customer, file_id))

    @guarded
    async def failed(self, customer: str, pending: PendingFile, why: str, *,
                     final: bool) -> None:
        """A try at a pending copy failed: one more try counted, or (``final``) no copy will
        be made, for the reason ``why`` (either only while the copy is still pending)."""
        attachment = pending.attachment
        record = _pending_record(PendingFile(attachment, pending.tries + 1)) if not final else (
            dumps({"state": NO_COPY, "id": attachment.id, "kind": attachment.kind,
                   "name": attachment.name, "size": attachment.size, "ref": attachment.ref,
                   "why": why, "at": time.time()}))
        await self._replace(ReplacePending(self._keys.files(customer), attachment.id, record))

    @guarded
    async def get(self, customer: str, file_id: str) -> StoredFile | None:
        """The customer's copy ``file_id``; None when it is not theirs or not kept."""
        if not valid_id(file_id):
            return None
        raw = await self._redis.hget(self._keys.files(customer), file_id)
        data = None if raw is None else json.loads(text(raw))
        return None if data is None or "state" in data else _stored(data)

    @guarded
    async def listing(self, customer: str) -> list[StoredFile]:
        """Every kept copy of the customer, oldest first."""
        rows = [json.loads(text(r)) for r in await self._redis.hvals(self._keys.files(customer))]
        return sorted((_stored(r) for r in rows if "state" not in r), key=lambda f: f.at)

    @guarded
    async def outcomes(self, customer: str) -> dict[str, str]:
        """Each file id of the customer -> "kept", "pending" or "no copy: <why>"."""
        rows = [json.loads(text(r)) for r in await self._redis.hvals(self._keys.files(customer))]
        return {str(r.get("id") or r.get("a", {}).get("id")): _outcome(r) for r in rows}

    @guarded_slow
    async def erase(self, customer: str) -> int:
        """Delete the customer's copies from disk and the index; the number deleted."""
        ids = [text(i) for i in await self._redis.hkeys(self._keys.files(customer))]
        paths = [self.path(i) for i in ids if valid_id(i)]
        await asyncio.to_thread(_unlink_all, paths)
        await self._redis.delete(self._keys.files(customer))
        await self._redis.zrem(self._keys.files_pending, customer)
        return len(paths)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    temp.write_bytes(data)
    os.replace(temp, path)


def _unlink_all(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _outcome(record: dict[str, Any]) -> str:
    state = record.get("state")
    if state == PENDING:
        return "pending"
    return "kept" if state is None else f"no copy: {record.get('why', '')}"


def _pending_record(pending: PendingFile) -> str:
    return dumps({"state": PENDING, "a": attachment_to_dict(pending.attachment),
                  "tries": pending.tries, "at": time.time()})


def _stored(data: dict[str, Any]) -> StoredFile:
    kind = data.get("kind")
    return StoredFile(id=str(data["id"]), kind=kind if kind in ATTACHMENT_KINDS else "file",
                      mime=str(data.get("mime", "application/octet-stream")),
                      size=int(data.get("size", 0)), name=data.get("name"),
                      ref=str(data.get("ref", "")), at=float(data.get("at", 0.0)))

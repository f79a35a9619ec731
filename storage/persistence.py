"""Redis's own files: rewritten after an erasure, snapshotted for a backup.

A deleted key is gone from memory at once, but the append-only file still holds every write
that made it (a customer's phone, name and messages) until Redis rewrites that file from
memory. ``rewrite_files`` asks for the rewrite (``BGREWRITEAOF``), waits for it, and removes the
snapshot files a backup may have left in the server's folder, so that no file there holds what
was erased. ``snapshot`` makes a consistent copy of the whole database while it serves
(``BGSAVE``: a forked point-in-time image) and moves it out of the server's folder.

Both work through the server's own commands, so they reach a running bot's Redis without
stopping it. They wait by polling ``INFO persistence`` (a rewrite of a small business's data
takes well under a second). This module must not know customers or key names.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import time
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError, ResponseError

from storage.client import RedisClient
from storage.errors import StorageError

POLL = 0.05  # seconds between looks at INFO persistence
WAIT = 600.0  # seconds a rewrite or snapshot may take before we give up waiting
_BACKUP_LOCK = "backup.lock"


class PersistenceError(StorageError):
    """Redis could not rewrite or save its files (the reason is in its log)."""


async def _info(redis: RedisClient) -> dict[str, Any]:
    info: dict[str, Any] = await redis.info("persistence")
    return info


async def _until_idle(redis: RedisClient, *fields: str) -> dict[str, Any]:
    """Poll until every ``field`` of INFO persistence is 0; the last INFO."""
    deadline = time.monotonic() + WAIT
    while True:
        info = await _info(redis)
        if not any(int(info.get(f, 0)) for f in fields):
            return info
        if time.monotonic() > deadline:
            raise PersistenceError(f"Redis is still busy with {', '.join(fields)} after "
                                   f"{WAIT:.0f} s")
        await asyncio.sleep(POLL)


async def _fresh(redis: RedisClient, command: str, busy: tuple[str, ...]) -> None:
    """Run ``command`` so that it starts after now: while one is under way (its image may
    predate what the caller just changed), wait for it and ask again."""
    while True:
        try:
            await redis.execute_command(command)
            return
        except ResponseError as exc:
            if "in progress" not in str(exc):
                raise PersistenceError(f"Redis refused {command}: {exc}") from exc
        await _until_idle(redis, *busy)


async def rewrite_aof(redis: RedisClient) -> bool:
    """Rewrite the append-only file from memory and wait until it is done; False when the
    server keeps no append-only file (nothing to rewrite)."""
    try:
        if not int((await _info(redis)).get("aof_enabled", 0)):
            return False
        busy = ("aof_rewrite_in_progress", "aof_rewrite_scheduled")
        await _fresh(redis, "BGREWRITEAOF", busy)
        info = await _until_idle(redis, *busy)
    except RedisError as exc:
        raise PersistenceError(f"cannot rewrite Redis's append-only file: {exc}") from exc
    if info.get("aof_last_bgrewrite_status") != "ok":
        raise PersistenceError("Redis failed to rewrite its append-only file; see its log")
    return True


async def _server_dir(redis: RedisClient) -> tuple[Path, str]:
    folder = (await redis.config_get("dir"))["dir"]
    name = (await redis.config_get("dbfilename"))["dbfilename"]
    return Path(str(folder)), str(name)


async def rewrite_files(redis: RedisClient) -> bool:
    """After an erasure: rewrite the append-only file and delete left-over snapshots in the
    server's folder (a backup interrupted between its ``BGSAVE`` and moving the file out).
    For a server on this machine only (the embedded one); False when it keeps no AOF."""
    rewritten = await rewrite_aof(redis)
    await _until_idle(redis, "rdb_bgsave_in_progress")
    folder, name = await _server_dir(redis)
    with _locked(folder):  # not while a backup is moving its snapshot out
        for stale in [folder / name, *folder.glob("temp-*.rdb")]:
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
    return rewritten


@contextlib.contextmanager
def _locked(folder: Path) -> Any:
    fd = os.open(folder / _BACKUP_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


async def snapshot(redis: RedisClient, dest: Path) -> int:
    """Write a consistent RDB image of the server's data to ``dest`` (replaced atomically);
    its size in bytes. The server must share this machine's file system (the embedded one)."""
    folder, name = await _server_dir(redis)
    with _locked(folder):  # one backup at a time: each moves the server's dump.rdb away
        try:
            busy = ("rdb_bgsave_in_progress", "aof_rewrite_in_progress")
            await _until_idle(redis, *busy)
            await _fresh(redis, "BGSAVE", busy)
            info = await _until_idle(redis, "rdb_bgsave_in_progress")
        except RedisError as exc:
            raise PersistenceError(f"cannot save a Redis snapshot: {exc}") from exc
        if info.get("rdb_last_bgsave_status") != "ok":
            raise PersistenceError("Redis failed to save a snapshot; see its log")
        return await asyncio.to_thread(_move, folder / name, dest)


def _move(source: Path, dest: Path) -> int:
    """Copy ``source`` to ``dest`` durably (through a temporary file beside it), then delete
    ``source``: the server's folder keeps no copy of what a later erasure removes."""
    dest = dest.resolve()
    partial = dest.with_name(f".{dest.name}.partial")
    try:
        with source.open("rb") as src, partial.open("wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        with contextlib.suppress(FileNotFoundError):
            source.unlink()
    return dest.stat().st_size

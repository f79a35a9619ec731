"""This process's name among the processes that run one bot from one data folder.

A process takes the lowest free slot of ``<data>/instances`` (``<n>.lock``, held by an flock
for its whole life, so the kernel frees it when the process dies, even by ``kill -9``) and the
name kept beside it (``<n>.id``, 12 random hex digits written once). A process started again
after a crash takes the same slot, hence the same name, as the one that died there.

The name is written into what a process leaves in Redis while it works: customer lock tokens
and outbox entry ids (``storage.locks``, ``storage.outbox``). On a Redis other processes share,
that is how a restarted process can tell, at start, which locks and unsent replies were its
predecessor's — gone for certain, since nobody else can hold the slot — and take them over at
once instead of waiting for the locks to expire (30 s) and the replies to go stale (60 s).

Must not: touch Redis (``Runtime.take_over`` does, with the name).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
from pathlib import Path

from flows.errors import SvyazError

SLOTS = 64  # processes of one bot on one data folder at once
_NAME = re.compile(r"^[0-9a-f]{12}$")


class InstanceError(SvyazError):
    """No slot could be taken (64 processes already run on the folder, or it is not writable)."""


class Instance:
    """A held slot: ``name`` until ``release``."""

    def __init__(self, name: str, slot: int, fd: int | None) -> None:
        self.name = name
        self.slot = slot
        self._fd = fd

    @classmethod
    def claim(cls, data_dir: Path | str, *, slots: int = SLOTS) -> Instance:
        folder = Path(data_dir) / "instances"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for slot in range(slots):
                fd = os.open(folder / f"{slot}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                try:
                    return cls(_name_of(folder / f"{slot}.id"), slot, fd)
                except BaseException:
                    os.close(fd)
                    raise
        except OSError as exc:
            raise InstanceError(f"cannot take a slot in {folder}: {exc}") from exc
        raise InstanceError(f"all {slots} slots of {folder} are taken by running processes")

    @classmethod
    def passing(cls) -> Instance:
        """A name for this process alone (no data folder: nothing to take over at start)."""
        return cls(secrets.token_hex(6), -1, None)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


def _name_of(path: Path) -> str:
    """The slot's name, written once (atomically: a crash mid-write leaves no half name)."""
    with contextlib.suppress(FileNotFoundError):
        name = path.read_text().strip()
        if _NAME.match(name):
            return name
    name = secrets.token_hex(6)
    aside = path.with_name(f".{path.name}.{os.getpid()}")
    aside.write_text(name + "\n")
    os.replace(aside, path)
    return name

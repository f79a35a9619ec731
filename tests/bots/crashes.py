"""A kill -9 at a named point of a process under test: the method raises ``Crash`` (before it
runs, or once it has run), and nothing of the dying process runs after it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any


class Crash(BaseException):
    """kill -9 here: the process stops at once (no handler of ours runs)."""


def crashing(target: object, name: str, *, after: bool = False) -> None:
    """Make ``target.name`` a kill -9: before it runs, or (``after``) once it has run."""
    real: Callable[..., Awaitable[Any]] = getattr(target, name)

    async def crash(*args: Any, **kwargs: Any) -> Any:
        if after:
            await real(*args, **kwargs)
        raise Crash(name)

    setattr(target, name, crash)

"""Errors of the storage layer, all under ``flows.errors.SvyazError``.

This module owns the storage exception tree and the one place where redis-py's connection
errors are mapped to ``StorageUnavailable`` (so the HTTP layer can answer 503). It must not
import connectors or bots.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from redis import exceptions as rexc

from flows.errors import SvyazError
from flows.messages import msg
from storage.deadline import within

P = ParamSpec("P")
T = TypeVar("T")

# What "Redis is down or unreachable" looks like through redis-py (after its own retries).
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    rexc.ConnectionError,
    rexc.TimeoutError,
    rexc.BusyLoadingError,
    rexc.ClusterDownError,
    rexc.MasterDownError,
    rexc.SlotNotCoveredError,
    rexc.TryAgainError,
    ConnectionError,
    TimeoutError,
)


# Redis answers but refuses to write: the command (a script: its first write, so nothing of it)
# did not run, and will once the cause is gone — unavailable too, with what to look at. The
# code starts the reply, or follows "-" inside the error of a script that called the command.
_REFUSED = re.compile(r"(?:^|\s-)(OOM|MISCONF|READONLY|BUSY|NOREPLICAS)\b")
_REFUSAL_HINTS = {
    "OOM": "Redis is full (maxmemory reached)",
    "MISCONF": "Redis cannot save to disk (is the disk full?) and refuses writes until it can",
    "READONLY": "this Redis is a read-only replica (a failover under way?)",
    "BUSY": "Redis is busy running a long script",
    "NOREPLICAS": "too few replicas acknowledge writes (min-replicas-to-write)",
}


def refusal(exc: BaseException) -> str | None:
    """``"CODE: what it means"`` when ``exc`` is Redis refusing a write, else None."""
    if isinstance(exc, rexc.OutOfMemoryError):
        code: str | None = "OOM"
    elif isinstance(exc, rexc.ReadOnlyError):
        code = "READONLY"
    elif isinstance(exc, rexc.ResponseError):
        code = match.group(1) if (match := _REFUSED.search(str(exc))) else None
    else:
        code = None
    return None if code is None else f"{code}: {_REFUSAL_HINTS[code]}"


def unanswered(exc: BaseException) -> bool:
    """True when a call failed without Redis's answer (a deadline, a cancel, a lost
    connection): what it asked for may still have happened, or happen later."""
    return not isinstance(exc, rexc.ResponseError)


class StorageError(SvyazError):
    """Base of storage errors."""


class StorageUnavailable(StorageError):
    """Redis cannot be reached (after retries); nothing was half-written by svyaz itself."""


class LockTimeout(StorageError):
    """The customer's lock was not acquired within the wait."""


class LockLost(StorageError):
    """The lock expired or was taken over (or the customer was merged away) before a save."""


class VersionConflict(StorageError):
    """The stored state changed since it was loaded; the save was refused."""


class CodecError(StorageError):
    """A stored JSON document could not be decoded into svyaz types."""


class InvalidValue(StorageError, ValueError):
    """A value refused by the storage layer (a phone not in E.164, an unknown field)."""


# Deadline of one storage operation. It replaces redis-py's ``socket_timeout``: with that set,
# redis-py sends through ``asyncio.wait_for``, which on Python 3.11 can swallow a task's
# cancellation (the task then never stops); ``asyncio.timeout`` does not, nor does
# ``storage.deadline.within``, its cheaper equivalent used here (up to ``TICK`` late).
OPERATION_TIMEOUT = 5.0


def _guard(func: Callable[P, Awaitable[T]], *, slow: bool) -> Callable[P, Awaitable[T]]:
    @functools.wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            if slow:
                return await func(*args, **kwargs)
            return await within(OPERATION_TIMEOUT, func(*args, **kwargs))
        except UNAVAILABLE_ERRORS as exc:
            raise StorageUnavailable(f"redis unavailable: {type(exc).__name__}",
                                     said=msg("storage.unavailable")) from exc
        except rexc.ResponseError as exc:
            if (why := refusal(exc)) is None:
                raise
            raise StorageUnavailable(f"redis refuses writes: {why}") from exc

    return wrapper


def guarded(func: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Map Redis failures of ``func`` to ``StorageUnavailable``; a hung Redis too, after
    ``OPERATION_TIMEOUT`` seconds."""
    return _guard(func, slow=False)


def guarded_slow(func: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Like ``guarded`` without the deadline, for operations that wait or scan on purpose
    (each Redis call inside them is ``guarded`` or has its own deadline)."""
    return _guard(func, slow=True)

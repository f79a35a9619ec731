"""Operator passwords: argon2id hashes (``argon2-cffi``'s defaults, RFC 9106's low-memory
profile), verified off the event loop.

This module must not count failures or decide who may log in (``bots.desk.login`` does).
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 8
_HASHER = PasswordHasher()
# Checked when the name is unknown, so a wrong name costs the same time as a wrong password.
_DUMMY = _HASHER.hash("svyaz: no such operator")


class WeakPassword(ValueError):
    pass


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"the password must be at least {MIN_LENGTH} characters long")
    return _HASHER.hash(password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (None: no such operator, always False)."""
    return await asyncio.to_thread(_verify, stored, password)

"""Signed web chat session tokens.

A token is ``<session id>.<issued at>.<signature>``: the session id is 128 random bits in
url-safe base64, ``issued at`` is whole Unix seconds, the signature is HMAC-SHA256 over the
first two parts with the secret key. The browser keeps the token; whoever holds it continues
that session, so it is never logged. Verification is constant-time and never raises: a forged,
expired, future-dated or garbled token is simply ``None``.

This module owns the token format only; it knows nothing of sockets or storage.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_MAX_AGE = 30 * 24 * 3600
# A clock a little ahead on another process must not make fresh tokens invalid.
CLOCK_SKEW = 300
MAX_TOKEN_LENGTH = 128

_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{22}")
_ISSUED_AT = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"[A-Za-z0-9_-]{43}")
# Domain separation: the same key also signs other things (link tokens).
_CONTEXT = b"svyaz.webchat.session.v1\x00"


@dataclass(frozen=True, slots=True)
class Session:
    """A session id and the token that proves it."""

    session_id: str
    token: str


def new_session_id() -> str:
    """128 random bits, url-safe base64 without padding (22 characters)."""
    return _b64(secrets.token_bytes(16))


class SessionTokens:
    """Issues and verifies session tokens with one secret key."""

    def __init__(
        self,
        secret_key: bytes,
        *,
        max_age: int = DEFAULT_MAX_AGE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if len(secret_key) < 16:
            raise ValueError("the web chat secret key must be at least 16 bytes")
        if max_age < 1:
            raise ValueError("max_age must be positive")
        self._key = secret_key
        self._max_age = max_age
        self._clock = clock

    def issue(self, session_id: str | None = None) -> Session:
        """A token for ``session_id`` (a new random one when None), issued now."""
        sid = new_session_id() if session_id is None else session_id
        if not _SESSION_ID.fullmatch(sid):
            raise ValueError("not a session id")
        body = f"{sid}.{int(self._clock())}"
        return Session(session_id=sid, token=f"{body}.{self._sign(body)}")

    def verify(self, token: object) -> str | None:
        """The session id ``token`` proves, or None when it is not a valid, current token."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
            return None
        parts = token.split(".")
        if len(parts) != 3:
            return None
        sid, issued, signature = parts
        if not (
            _SESSION_ID.fullmatch(sid)
            and _ISSUED_AT.fullmatch(issued)
            and _SIGNATURE.fullmatch(signature)
        ):
            return None
        expected = self._sign(f"{sid}.{issued}")
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii")):
            return None
        age = self._clock() - int(issued)
        if age > self._max_age or age < -CLOCK_SKEW:
            return None
        return sid

    def _sign(self, body: str) -> str:
        mac = hmac.new(self._key, _CONTEXT + body.encode("ascii"), hashlib.sha256)
        return _b64(mac.digest())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

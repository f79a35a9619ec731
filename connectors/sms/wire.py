"""One form POST to an SMS provider, and how far it got when it failed.

Owns: the HTTP session the adapters share the shape of, the POST itself (credentials and
text go in the form body, never in the URL, so no proxy or access log sees them), the
sorting of failures into "nothing left" (``NotSent``: the connection was never made) and
"may have left" (``NoAnswer``: a timeout or a drop after connecting, an unreadable answer),
and the bounded retry of what is safe to repeat.

Must not: read a provider's answer (``smsru``/``smsc`` do) or log anything a request carries.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import aiohttp

from connectors.sms.base import SmsRefused, SmsUnavailable
from flows.backoff import backoff_delay

T = TypeVar("T")


class NotSent(Exception):
    """The request never reached the provider: safe to repeat."""


class Busy(Exception):
    """The provider answered that it did nothing and asks to try later: safe to repeat."""


class NoAnswer(Exception):
    """The request may have reached the provider; no usable answer came back."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: object  # the parsed JSON, None when the body is not JSON
    text: str
    retry_after: float | None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Tries for what is safe to repeat (``NotSent``, ``Busy``, and reads)."""

    attempts: int = 3
    base: float = 0.5
    cap: float = 5.0


class Session:
    """An ``aiohttp.ClientSession`` opened on first use (inside the running loop)."""

    def __init__(self, *, timeout: float, connect_timeout: float) -> None:
        # ``connect`` bounds getting a connection (nothing sent yet when it fires);
        # ``sock_read`` bounds the wait for the answer (the request is out by then); ``total``
        # stops an answer that trickles in, and always fires after ``connect`` would.
        self._timeout = aiohttp.ClientTimeout(
            total=connect_timeout + timeout, connect=connect_timeout, sock_read=timeout
        )
        self._session: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


async def post_form(session: aiohttp.ClientSession, url: str, form: dict[str, str]) -> Answer:
    """POST ``form`` (urlencoded) to ``url``; raises ``NotSent`` or ``NoAnswer``."""
    try:
        async with session.post(url, data=form, allow_redirects=False) as response:
            raw = await response.read()
            status, headers = response.status, response.headers
    except (aiohttp.ConnectionTimeoutError, aiohttp.ClientConnectorError) as exc:
        raise NotSent(_describe(exc)) from exc
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise NoAnswer(_describe(exc)) from exc
    text = raw.decode("utf-8", errors="replace")
    return Answer(status, _json(text), text, _retry_after(headers.get("Retry-After")))


async def retrying(
    what: str,
    op: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    repeatable: tuple[type[Exception], ...] = (NotSent, Busy),
) -> T:
    """``op`` up to ``policy.attempts`` times while it fails with a ``repeatable`` error;
    then ``SmsUnavailable``. Anything else (``NoAnswer`` on a send) passes through at once."""
    for attempt in range(policy.attempts):
        if attempt:
            await asyncio.sleep(backoff_delay(attempt - 1, base=policy.base, cap=policy.cap))
        try:
            return await op()
        except repeatable as exc:
            last = exc
    raise SmsUnavailable(f"{what} failed {policy.attempts} times; last: {last}") from last


def http_outcome(answer: Answer, provider: str) -> SmsRefused | None:
    """What the HTTP status alone says about a send: ``None`` for 200 (read the body);
    a rate limit for 429; a refusal for another 3xx/4xx (the request was turned away before
    the provider acted: a wrong base URL, a proxy's refusal); ``NoAnswer`` for 5xx, which a
    gateway may answer after the provider acted."""
    if answer.status == 200:
        return None
    if answer.status == 429:
        return SmsRefused("rate_limit", "http 429", answer.text[:200], answer.retry_after)
    if answer.status < 500:
        return SmsRefused("other", f"http {answer.status}", answer.text[:200])
    raise NoAnswer(f"{provider}: HTTP {answer.status}")


def _describe(exc: BaseException) -> str:
    # aiohttp's messages name the host and port at most, never the form's content.
    return f"{type(exc).__name__}: {exc}"


def _json(text: str) -> object:
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return None


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (the HTTP-date form is ignored: providers send seconds)."""
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None

"""The VK API sender: form-encoded POSTs to ``<api_url>/<method>`` over aiohttp (PROTOCOLS B1-B3).

Owns the wire details of one community token: ``v``/``access_token`` on every call, the shared
request-rate limit (20 arrivals in any second per token; every retry counts), retries with
jittered back-off on VK's "try again" errors (1, 6, 9 slower, 10), HTTP 5xx and network
failures, and the mapping of VK error codes onto svyaz's exception tree (``Undeliverable``,
``ChannelUnavailable``, ``ChannelAuthError``).
After error 5 (token refused) the client marks itself failed and calls nothing more.
It must not parse updates or render replies; it never logs the token or request parameters.
vk_api is synchronous, so it is not used here (STYLE.md point 6).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import aiohttp

from connectors.base import ChannelAuthError, ChannelUnavailable, Priority, Undeliverable
from connectors.common import ArrivalLimiter
from connectors.ratelimit import RateLimiter
from flows.backoff import backoff_delay
from flows.types import JSON

log = logging.getLogger("svyaz.connectors.vk")

API_VERSION = "5.199"
DEFAULT_API_URL = "https://api.vk.ru/method"
RATE = 20  # requests per second per community token (PROTOCOLS.md B3)
# VK counts by arrival time. ArrivalLimiter keeps a slot taken until RATE_WINDOW after the
# answer, which bounds arrivals whatever the network jitter: 20 / (1 s + round trip) calls/s.
RATE_WINDOW = 1.0

Verdict = Literal["retry", "flood", "undeliverable", "auth", "refused"]

_RETRY = {1, 6, 10}  # unknown error, too many requests per second, internal server error
_FLOOD = {9}  # flood control: VK asks to slow down, so wait longer before trying again
_AUTH = {5}
# The recipient cannot get messages from the community: deleted/banned, blacklisted us, has not
# allowed messages, privacy settings, no access to the conversation, chat gone or disabled, the
# reply window closed. Delivery fails over to another channel.
_UNDELIVERABLE = {18, 900, 901, 902, 917, 932, 936, 945, 946, 950}


def verdict(code: int) -> Verdict:
    """What to do about VK error ``code``; anything unknown is refused, never retried forever."""
    if code in _RETRY:
        return "retry"
    if code in _FLOOD:
        return "flood"
    if code in _AUTH:
        return "auth"
    if code in _UNDELIVERABLE:
        return "undeliverable"
    return "refused"


class VkUndeliverable(Undeliverable):
    """VK will not deliver this message (``code`` says why)."""

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code


class VkUnavailable(ChannelUnavailable):
    """VK kept failing after every retry."""


class VkAuthError(ChannelAuthError):
    """VK refused the community token (error 5)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries: with the defaults a dead VK is given up on within about a minute
    (5 x 10 s timeouts plus ~4 s of back-off), a rate-limit hiccup costs well under a second."""

    attempts: int = 5
    base: float = 0.25  # first back-off ceiling, seconds; doubles per attempt
    cap: float = 4.0
    flood_base: float = 1.0  # error 9: start four times slower
    timeout: float = 10.0  # per request

    def delay(self, attempt: int, *, flood: bool) -> float:
        return backoff_delay(attempt, base=self.flood_base if flood else self.base, cap=self.cap)


class _TryAgain(Exception):
    def __init__(self, reason: str, *, flood: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.flood = flood


class VkClient:
    """Calls VK API methods for one community token."""

    def __init__(
        self,
        *,
        token: str,
        api_url: str = DEFAULT_API_URL,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._token = token
        self._api_url = api_url.rstrip("/")
        self.limiter: RateLimiter = limiter or ArrivalLimiter(RATE, RATE_WINDOW)
        self.retry = retry or RetryPolicy()
        self._session: aiohttp.ClientSession | None = None
        self.auth_failed = False

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(
        self, method: str, params: Mapping[str, str], *, priority: Priority = "live"
    ) -> JSON:
        """Call ``method``; returns VK's ``response`` value or raises a ``ChannelError``.

        Each attempt waits for a limiter slot in the ``priority`` queue."""
        last = ""
        for attempt in range(self.retry.attempts):
            self._check_auth()
            try:
                async with self.limiter.slot(priority):
                    return await self._once(method, params)
            except _TryAgain as exc:
                last = exc.reason
                if attempt + 1 < self.retry.attempts:
                    await asyncio.sleep(self.retry.delay(attempt, flood=exc.flood))
        raise VkUnavailable(f"VK {method} failed {self.retry.attempts} times; last: {last}")

    def _check_auth(self) -> None:
        if self.auth_failed:
            raise VkAuthError("VK refused the community token earlier; channel is stopped")

    async def _once(self, method: str, params: Mapping[str, str]) -> JSON:
        form = {**params, "v": API_VERSION, "access_token": self._token}
        timeout = aiohttp.ClientTimeout(total=self.retry.timeout)
        try:
            async with self.session.post(
                f"{self._api_url}/{method}", data=form, timeout=timeout
            ) as resp:
                if resp.status >= 500:
                    raise _TryAgain(f"HTTP {resp.status}")
                if resp.status != 200:
                    raise VkUnavailable(f"VK {method}: unexpected HTTP {resp.status}")
                body = await resp.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _TryAgain(f"{type(exc).__name__}: {exc}") from exc
        except ValueError as exc:  # not JSON: a proxy's error page, a cut answer
            raise _TryAgain("answer is not JSON") from exc
        return self._unwrap(method, body)

    def _unwrap(self, method: str, body: object) -> JSON:
        if not isinstance(body, dict):
            raise _TryAgain("answer is not a JSON object")
        error = body.get("error")
        if isinstance(error, dict):
            self._raise_error(method, error)
        if "response" not in body:
            raise _TryAgain("answer has neither response nor error")
        value: JSON = body["response"]
        return value

    def _raise_error(self, method: str, error: Mapping[str, object]) -> None:
        code = error.get("error_code")
        code = code if isinstance(code, int) else -1
        text = f"VK {method}: error {code} {error.get('error_msg', '')}".rstrip()
        kind = verdict(code)
        if kind in ("retry", "flood"):
            raise _TryAgain(text, flood=kind == "flood")
        if kind == "auth":
            if not self.auth_failed:
                log.error("VK refused the community token (%s); VK channel stops", text)
            self.auth_failed = True
            raise VkAuthError(text)
        if kind == "refused":
            log.warning("%s; not retried", text)
        raise VkUndeliverable(text, code=code)

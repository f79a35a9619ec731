"""Talking to the MAX Bot API through maxapi's ``Bot``: rate limit, retries, error mapping.

Owns: one request policy for every call svyaz makes to MAX — every request, retries and long
polls included, goes through an ``ArrivalLimiter`` so MAX never sees more than 30 arrive in
any second (bursts queue, live replies before bulk sends), 429/5xx/network failures
retried with jittered back-off a bounded number of times, and the mapping of MAX's answers
onto svyaz's errors: 401 (or ``verify.token``) -> ``ChannelAuthError``; 403/404 ->
``Undeliverable``; other 4xx -> ``MaxRefused`` (an ``Undeliverable``: the message as
rendered will never be accepted); exhausted retries -> ``ChannelUnavailable``.

maxapi's own retries are switched off (``max_retries=0``) so exactly one policy decides, and
its ``auto_requests`` are off so no hidden ``GET /chats`` calls count against the limit.
Only maxapi's client and types are used, never its Dispatcher.

Must not: parse updates, render replies, or know anything about dialogues. MAX has no
``random_id``: a retry after a timeout may show a message twice; svyaz's outbox keeps
re-sends after a crash to the same rare case.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import aiohttp
from maxapi import Bot
from maxapi.client.default import DefaultConnectionProperties
from maxapi.enums.parse_mode import TextFormat
from maxapi.exceptions.max import InvalidToken, MaxApiError, MaxConnection
from maxapi.types.attachments import Attachments
from pydantic import TypeAdapter

from connectors.base import ChannelAuthError, ChannelUnavailable, Priority, Undeliverable
from connectors.common import ArrivalLimiter, backoff_delay
from connectors.maxbot.parse import CHAT_PREFIX
from connectors.maxbot.render import AttachmentJSON, NewMessageBody

log = logging.getLogger("svyaz.connectors.max")

# MAX allows 30 requests/s per bot and counts them as they arrive. A window over send start
# times let a late-arriving burst overlap the next (55 arrivals in one second at the fake);
# ArrivalLimiter keeps a slot taken until WINDOW after the answer, which bounds arrivals
# whatever the latency, so the whole 30 is usable: 30 / (1 s + round trip) sends/s.
# A long poll holds one slot while it waits (its arrival time is unknown until it answers).
RATE = 30
WINDOW = 1.0
POLL_HOLD = 30

T = TypeVar("T")
Outcome = Literal["retry", "undeliverable", "auth", "refused"]
_ATTACHMENTS: TypeAdapter[list[Any]] = TypeAdapter(list[Attachments])
_TRANSIENT = (MaxConnection, aiohttp.ClientError, TimeoutError)


class MaxRefused(Undeliverable):
    """MAX answered 4xx to a message it will never accept as sent (likely a rendering bug)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 6
    base: float = 0.5
    cap: float = 15.0


def classify(status: int, raw: object) -> Outcome:
    """What to do about a non-2xx answer from MAX."""
    code = raw.get("code") if isinstance(raw, dict) else None
    if status == 401 or code == "verify.token":
        return "auth"
    if status == 429 or status >= 500:
        return "retry"
    if status in (403, 404):
        return "undeliverable"
    return "refused"


def recipient(target: str) -> tuple[int | None, int | None]:
    """``(chat_id, user_id)``: ``"chat:<id>"`` is a group chat, a plain number a user."""
    is_chat = target.startswith(CHAT_PREFIX)
    try:
        number = int(target[len(CHAT_PREFIX) :] if is_chat else target)
    except ValueError:
        raise Undeliverable(f"not a MAX user or chat id: {target!r}") from None
    return (number, None) if is_chat else (None, number)


def default_limiter() -> ArrivalLimiter:
    return ArrivalLimiter(RATE, WINDOW)  # RATE is read at call time (bench/launch.py lifts it)


def make_bot(token: str, api_url: str, timeout: float) -> Bot:
    connection = DefaultConnectionProperties(
        timeout=timeout, sock_connect=10, max_retries=0, retry_on_statuses=()
    )
    bot = Bot(
        token=token,
        auto_requests=False,
        auto_check_subscriptions=False,
        default_connection=connection,
    )
    bot.set_api_url(api_url)
    return bot


class MaxClient:
    """The calls svyaz makes to MAX, each through the shared limiter and retry policy."""

    def __init__(
        self,
        *,
        token: str,
        api_url: str,
        limiter: ArrivalLimiter | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 15.0,
    ) -> None:
        self.limiter = limiter or default_limiter()
        self.retry = retry or RetryPolicy()
        self.auth_error: str | None = None
        self.closed = False
        self._bot = make_bot(token, api_url, timeout)
        self._poll_bot = make_bot(token, api_url, POLL_HOLD + timeout)

    async def send(
        self, target: str, body: NewMessageBody, *, priority: Priority = "live"
    ) -> str:
        """Post one message to a user (or ``chat:<id>``); returns its ``mid``.

        ``priority`` is the limiter queue it waits in (``"bulk"`` yields to ``"live"``)."""
        chat_id, user_id = recipient(target)
        attachments = to_maxapi(body["attachments"])
        fmt = TextFormat.MARKDOWN if body.get("format") == "markdown" else None

        async def post() -> str:
            sent = await self._bot.send_message(
                chat_id=chat_id,
                user_id=user_id,
                text=body.get("text"),
                attachments=attachments or None,
                format=fmt,
            )
            message_body = sent.message.body if sent else None
            return message_body.mid if message_body else ""

        return await self._call("POST /messages", post, priority=priority)

    async def answer(self, callback_id: str) -> None:
        """Acknowledge a callback without a toast (body ``{}``) so the spinner stops."""

        async def post() -> None:
            await self._bot.send_callback(callback_id=callback_id)

        await self._call("POST /answers", post)

    async def username(self) -> str | None:
        """The bot's username from ``GET /me`` (one try: it checks the token at start-up)."""

        async def get() -> str | None:
            me = await self._bot.get_me()
            return me.username

        return await self._call("GET /me", get, attempts=1)

    async def webhook_urls(self, *, attempts: int | None = None) -> list[str]:
        """URLs of the bot's webhook subscriptions (while any exists, polling gets nothing)."""

        async def get() -> list[str]:
            found = await self._bot.get_subscriptions()
            return [sub.url for sub in found.subscriptions or ()]

        return await self._call("GET /subscriptions", get, attempts=attempts)

    async def updates(self, marker: int | None, hold: int = POLL_HOLD) -> dict[str, Any]:
        """One long-poll ``GET /updates`` (no retries here: the polling loop backs off)."""
        self._check_auth()
        try:
            async with self.limiter.slot():
                result: dict[str, Any] = await self._poll_bot.get_updates(
                    marker=marker, timeout=hold
                )
        except InvalidToken as exc:
            raise self._auth_failed("GET /updates", exc) from exc
        except MaxApiError as exc:
            if classify(exc.code, exc.raw) == "auth":
                raise self._auth_failed("GET /updates", exc) from exc
            raise ChannelUnavailable(f"MAX GET /updates: HTTP {exc.code} {_code(exc.raw)}") from exc
        except _TRANSIENT as exc:
            raise ChannelUnavailable(f"MAX GET /updates: {type(exc).__name__}: {exc}") from exc
        return result

    async def close(self) -> None:
        """Close the HTTP sessions. A send after this still works (the app flushes its outbox
        after stopping intake) and closes its session again when done, so nothing leaks."""
        self.closed = True
        await self._bot.close_session()
        await self._poll_bot.close_session()

    # ------------------------------------------------------------------ policy

    async def _call(
        self,
        what: str,
        op: Callable[[], Awaitable[T]],
        *,
        attempts: int | None = None,
        priority: Priority = "live",
    ) -> T:
        self._check_auth()
        try:
            return await self._attempts(what, op, attempts or self.retry.attempts, priority)
        finally:
            if self.closed:
                await self._bot.close_session()

    async def _attempts(
        self, what: str, op: Callable[[], Awaitable[T]], attempts: int, priority: Priority
    ) -> T:
        last = ""
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self._delay(attempt - 1))
            try:
                async with self.limiter.slot(priority):  # every retry is a request too
                    return await op()
            except InvalidToken as exc:
                raise self._auth_failed(what, exc) from exc
            except MaxApiError as exc:
                self._raise_final(what, exc)
                last = f"HTTP {exc.code} {_code(exc.raw)}"
            except _TRANSIENT as exc:
                last = f"{type(exc).__name__}: {exc}"
        raise ChannelUnavailable(f"MAX {what} failed {attempts} times; last: {last}")

    def _delay(self, attempt: int) -> float:
        return backoff_delay(attempt, base=self.retry.base, cap=self.retry.cap)

    def _raise_final(self, what: str, exc: MaxApiError) -> None:
        outcome = classify(exc.code, exc.raw)
        if outcome == "auth":
            raise self._auth_failed(what, exc) from exc
        if outcome == "undeliverable":
            raise Undeliverable(f"MAX {what}: HTTP {exc.code} {_code(exc.raw)}") from exc
        if outcome == "refused":
            log.error("MAX refused %s: HTTP %s %s", what, exc.code, _message(exc.raw))
            raise MaxRefused(f"MAX {what}: HTTP {exc.code} {_code(exc.raw)}") from exc

    def _check_auth(self) -> None:
        if self.auth_error is not None:
            raise ChannelAuthError(self.auth_error)

    def _auth_failed(self, what: str, exc: Exception) -> ChannelAuthError:
        if self.auth_error is None:
            self.auth_error = f"MAX refused the bot token ({what}); set a valid SVYAZ_MAX_TOKEN"
            log.error("%s; the MAX channel is stopped", self.auth_error)
        return ChannelAuthError(self.auth_error)


def to_maxapi(attachments: list[AttachmentJSON]) -> list[Any]:
    """Rendered attachments as maxapi's types (validates them against maxapi's models too)."""
    return _ATTACHMENTS.validate_python(attachments) if attachments else []


def _code(raw: object) -> str:
    return str(raw.get("code", "")) if isinstance(raw, dict) else ""


def _message(raw: object) -> str:
    return str(raw.get("message", raw)) if isinstance(raw, dict) else str(raw)[:200]

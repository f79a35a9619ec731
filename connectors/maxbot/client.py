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

The hot calls (``POST /messages``, ``POST /answers``) post pre-serialised JSON through the
``Bot``'s own session (``connectors.maxbot.wire``, the fast path); the others use maxapi's client.

A ``POST /messages`` that went out but got no answer (a timeout, a dropped connection) may
have been accepted: MAX has no ``random_id``. Its retry is not blind: ``send`` takes an
``arrived`` check from the connector (which reads the chat back, as an outbox re-send does)
and asks it before posting again; only a failure to connect at all is retried without asking.

Must not: parse updates, render replies, or know anything about dialogues.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import aiohttp
from maxapi import Bot
from maxapi.client.default import DefaultConnectionProperties
from maxapi.enums.api_path import ApiPath
from maxapi.enums.upload_type import UploadType
from maxapi.exceptions.max import InvalidToken, MaxApiError, MaxConnection, MaxUploadFileFailed
from maxapi.methods.types.sended_callback import SendedCallback
from maxapi.types.input_media import InputMediaBuffer

from connectors.base import (
    DIALOG_PREFIX,
    ChannelAuthError,
    ChannelUnavailable,
    Priority,
    Undeliverable,
    dialog_user,
)
from connectors.common import ArrivalLimiter
from connectors.maxbot.dialogs import Dialogs, dialog_of
from connectors.maxbot.parse import CHAT_PREFIX
from connectors.maxbot.render import NewMessageBody
from connectors.maxbot.wire import (
    Unanswered,
    mid_of,
    post_json,
    wire_message,
)
from connectors.ratelimit import RateLimiter
from flows.backoff import backoff_delay

log = logging.getLogger("svyaz.connectors.max")

# MAX allows 30 requests/s per bot and counts them as they arrive. A window over send start
# times let a late-arriving burst overlap the next (55 arrivals in one second at the fake);
# ArrivalLimiter keeps a slot taken until WINDOW after the answer, which bounds arrivals
# whatever the latency, so the whole 30 is usable: 30 / (1 s + round trip) sends/s.
# A long poll holds one slot while it waits (its arrival time is unknown until it answers).
RATE = 30
WINDOW = 1.0
POLL_HOLD = 30
# Messages a re-send reads back from the chat (``GET /messages`` allows 1-100): a reply has a
# few parts, and only the ones since its outbox entry was written count.
RECENT = 50

T = TypeVar("T")
_TRANSIENT = (MaxConnection, aiohttp.ClientError, TimeoutError)
Outcome = Literal["retry", "undeliverable", "auth", "refused"]


class MaxRefused(Undeliverable):
    """MAX answered 4xx to a message it will never accept as sent (likely a rendering bug)."""


# Asked before a retry that follows an unanswered POST: True when the message is in the chat.
Arrived = Callable[[], Awaitable[bool]]


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
    if status == 429 or status >= 500 or code == "attachment.not.ready":
        return "retry"  # (not ready: MAX still processes a file just uploaded)
    if status in (403, 404):
        return "undeliverable"
    return "refused"


@dataclass(frozen=True, slots=True)
class Posted:
    """One message of a chat as a re-send needs it: when, whether a bot sent it, its text."""

    at: int  # epoch milliseconds, MAX's clock
    seq: int  # the chat's sequence number: orders messages posted in one millisecond
    by_bot: bool
    text: str | None


def recipient(target: str) -> tuple[int | None, int | None]:
    """``(chat_id, user_id)``: ``"chat:<id>"`` is a group chat, ``"dialog:<chat>:<user>"`` and a
    plain number a user (a dialog is answered by user id, as before chat ids were kept)."""
    try:
        if target.startswith(CHAT_PREFIX):
            return int(target[len(CHAT_PREFIX):]), None
        return None, int(dialog_user(target) or target)
    except ValueError:
        raise Undeliverable(f"not a MAX user or chat id: {target!r}") from None


def chat_of(target: str) -> int | None:
    """The chat id a target names (a group chat or a dialog), None for a bare user id."""
    for prefix in (CHAT_PREFIX, DIALOG_PREFIX):
        if target.startswith(prefix):
            with contextlib.suppress(ValueError):
                return int(target[len(prefix):].partition(":")[0])
    return None


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
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 15.0,
    ) -> None:
        self.limiter: RateLimiter = limiter or default_limiter()
        self.retry = retry or RetryPolicy()
        self.auth_error: str | None = None
        self.closed = False
        self._bot = make_bot(token, api_url, timeout)
        self._poll_bot = make_bot(token, api_url, POLL_HOLD + timeout)
        self.dialogs = Dialogs()  # learned from the answers to sends by bare user id

    async def send(
        self,
        target: str,
        body: NewMessageBody,
        *,
        priority: Priority = "live",
        arrived: Arrived | None = None,
        posting: Callable[[], Awaitable[None]] | None = None,
    ) -> str:
        """Post one message to a user (or ``chat:<id>``); returns its ``mid`` (``""`` when a
        retry found it had arrived after all).

        ``priority`` is the limiter queue it waits in (``"bulk"`` yields to ``"live"``).
        ``arrived`` is asked before each retry that follows an unanswered attempt; without it
        such a retry posts again (a message shown twice rather than lost). ``posting`` is
        awaited just before each attempt goes out (the outbox marks when it was posted)."""
        chat_id, user_id = recipient(target)
        message = wire_message(body)
        params = dict(self._bot.params)
        if chat_id:  # maxapi's rule: chat_id wins, a zero id is no id
            params["chat_id"] = chat_id
        elif user_id:
            params["user_id"] = user_id

        async def post() -> str:
            if posting is not None:
                await posting()
            answer = await post_json(self._bot, ApiPath.MESSAGES.value, params, message)
            if user_id and not chat_id:
                self.dialogs.learn(user_id, dialog_of(answer))
            return mid_of(answer)

        async def settled() -> str | None:
            return "" if arrived is not None and await arrived() else None

        return await self._call("POST /messages", post, priority=priority, settled=settled)

    async def recent(
        self, chat_id: int, *, count: int = RECENT, priority: Priority = "live"
    ) -> list[Posted]:
        """The last ``count`` messages of a chat (``GET /messages``), oldest first."""

        async def get() -> list[Posted]:
            found = await self._bot.get_messages(chat_id=chat_id, count=count)
            posted = [
                Posted(m.timestamp, m.body.seq if m.body else 0,
                       bool(m.sender and m.sender.is_bot), m.body.text if m.body else None)
                for m in found.messages
            ]
            return sorted(posted, key=lambda p: (p.at, p.seq))  # parts share a millisecond

        return await self._call("GET /messages", get, priority=priority)

    async def answer(self, callback_id: str) -> None:
        """Acknowledge a callback without a toast (body ``{}``) so the spinner stops."""
        params = {**self._bot.params, "callback_id": callback_id}

        async def post() -> None:
            answered = await post_json(self._bot, ApiPath.ANSWERS.value, params, {})
            if not isinstance(answered.get("success"), bool):
                SendedCallback(**answered)  # an odd answer fails as maxapi's model fails

        await self._call("POST /answers", post)

    async def upload(self, data: bytes, name: str, *, image: bool,
                     priority: Priority = "live") -> str:
        """Upload a file through maxapi's client (``POST /uploads``, then the bytes to the
        upload host); the token a message's attachment names."""
        kind = UploadType.IMAGE if image else UploadType.FILE
        media = InputMediaBuffer(buffer=data, filename=name.rsplit(".", 1)[0] or "file",
                                 type=kind)

        async def post() -> str:
            try:
                return (await self._bot.upload_media(media)).payload.token
            except MaxUploadFileFailed as exc:  # the upload host refused or answered oddly
                raise MaxConnection(f"upload failed: {exc}") from exc

        return await self._call("POST /uploads", post, priority=priority)

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
        settled: Callable[[], Awaitable[T | None]] | None = None,
    ) -> T:
        self._check_auth()
        try:
            return await self._attempts(
                what, op, attempts or self.retry.attempts, priority, settled
            )
        finally:
            if self.closed:
                await self._bot.close_session()

    async def _attempts(
        self,
        what: str,
        op: Callable[[], Awaitable[T]],
        attempts: int,
        priority: Priority,
        settled: Callable[[], Awaitable[T | None]] | None,
    ) -> T:
        """Up to ``attempts`` tries; after an unanswered one, each retry first asks
        ``settled`` (outside the limiter slot: it makes requests of its own) for a result
        that makes posting again unnecessary."""
        last = ""
        unanswered = False
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self._delay(attempt - 1))
                if unanswered and settled is not None and (done := await settled()) is not None:
                    log.info("MAX %s: an unanswered attempt had arrived; not sent again", what)
                    return done
            try:
                async with self.limiter.slot(priority):  # every retry is a request too
                    return await op()
            except InvalidToken as exc:
                raise self._auth_failed(what, exc) from exc
            except MaxApiError as exc:
                self._raise_final(what, exc)
                last = f"HTTP {exc.code} {_code(exc.raw)}"
            except _TRANSIENT as exc:
                unanswered = unanswered or isinstance(exc, Unanswered)
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


def _code(raw: object) -> str:
    return str(raw.get("code", "")) if isinstance(raw, dict) else ""


def _message(raw: object) -> str:
    return str(raw.get("message", raw)) if isinstance(raw, dict) else str(raw)[:200]

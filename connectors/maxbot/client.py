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

The hot calls (``POST /messages``, ``POST /answers``) skip maxapi's per-call machinery (method
objects, its ``backoff`` wrapper, response models): they post the rendered JSON through the
``Bot``'s own session (its URL, ``Authorization`` header and timeouts) and read the raw answer,
raising maxapi's exceptions as its ``request`` would. The body on the wire is what maxapi sends:
each attachment validated against maxapi's models and dumped as maxapi dumps it — once per
distinct attachment (a small cache), so a malformed one is still refused before any request.

A ``POST /messages`` that went out but got no answer (a timeout, a dropped connection) may
have been accepted: MAX has no ``random_id``. Its retry is not blind: ``send`` takes an
``arrived`` check from the connector (which reads the chat back, as an outbox re-send does)
and asks it before posting again; only a failure to connect at all is retried without asking.

Must not: parse updates, render replies, or know anything about dialogues.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import aiohttp
from maxapi import Bot
from maxapi.client.default import DefaultConnectionProperties
from maxapi.enums.api_path import ApiPath
from maxapi.exceptions.max import InvalidToken, MaxApiError, MaxConnection
from maxapi.methods.types.sended_callback import SendedCallback
from maxapi.methods.types.sended_message import SendedMessage
from maxapi.types.attachments import Attachment, AttachmentButton, Attachments, AttachmentUpload
from pydantic import TypeAdapter

from connectors.base import (
    DIALOG_PREFIX,
    ChannelAuthError,
    ChannelUnavailable,
    Priority,
    Undeliverable,
    dialog_user,
)
from connectors.common import ArrivalLimiter
from connectors.maxbot.parse import CHAT_PREFIX
from connectors.maxbot.render import AttachmentJSON, NewMessageBody
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
# maxapi's wording for a failed connection, kept so the retry log reads as before.
_CONNECTION_FAILED = "Ошибка при отправке запроса"
Outcome = Literal["retry", "undeliverable", "auth", "refused"]
JSONObject = dict[str, Any]
_ATTACHMENT: TypeAdapter[Any] = TypeAdapter(Attachments)
_TRANSIENT = (MaxConnection, aiohttp.ClientError, TimeoutError)
# Distinct rendered attachments kept in their wire form (keyboards repeat from turn to turn);
# one longer than WIRE_CACHE_KEY as text is validated on every send instead (bounds memory).
WIRE_CACHE_SIZE = 512
WIRE_CACHE_KEY = 4096
_wire_cache: dict[str, JSONObject | None] = {}
# maxapi refuses ``len(text) >= 4000`` client-side (SendMessage); so do we, before any request.
_TEXT_LIMIT = 4000


class MaxRefused(Undeliverable):
    """MAX answered 4xx to a message it will never accept as sent (likely a rendering bug)."""


class Unanswered(MaxConnection):
    """The request went out but no answer came back: MAX may have acted on it."""


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
    if status == 429 or status >= 500:
        return "retry"
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
        self,
        target: str,
        body: NewMessageBody,
        *,
        priority: Priority = "live",
        arrived: Arrived | None = None,
    ) -> str:
        """Post one message to a user (or ``chat:<id>``); returns its ``mid`` (``""`` when a
        retry found it had arrived after all).

        ``priority`` is the limiter queue it waits in (``"bulk"`` yields to ``"live"``).
        ``arrived`` is asked before each retry that follows an unanswered attempt; without it
        such a retry posts again (a message shown twice rather than lost)."""
        chat_id, user_id = recipient(target)
        message = wire_message(body)
        params = dict(self._bot.params)
        if chat_id:  # maxapi's rule: chat_id wins, a zero id is no id
            params["chat_id"] = chat_id
        elif user_id:
            params["user_id"] = user_id

        async def post() -> str:
            return mid_of(await self._post(ApiPath.MESSAGES.value, params, message))

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
            answered = await self._post(ApiPath.ANSWERS.value, params, {})
            if not isinstance(answered.get("success"), bool):
                SendedCallback(**answered)  # an odd answer fails as maxapi's model fails

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

    async def _post(self, path: str, params: JSONObject, body: JSONObject) -> JSONObject:
        """One POST through the ``Bot``'s session; the answer's JSON object.

        Raises as maxapi's ``BaseConnection.request`` does with retries off: ``InvalidToken``
        on 401, ``MaxConnection`` when the connection fails, ``MaxApiError`` on any other
        non-2xx answer or a 2xx whose body is not a JSON object."""
        bot = self._bot
        session = await bot.ensure_session()
        try:
            response = await session.post(bot.api_url + path, params=params, json=body)
        except RuntimeError as exc:  # the session was closed under us: nothing was sent
            if not session.closed:
                raise
            raise MaxConnection(f"{_CONNECTION_FAILED}: {exc}") from exc
        except aiohttp.ClientConnectorError as exc:  # no connection: nothing was sent
            raise MaxConnection(f"{_CONNECTION_FAILED}: {exc}") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:  # sent, maybe acted on, no answer
            raise Unanswered(f"{_CONNECTION_FAILED}: {type(exc).__name__}: {exc}") from exc
        try:
            text = await _read_text(response)
        finally:
            response.release()  # a no-op once read; frees the connection if reading failed
        if response.status == 401:
            raise InvalidToken(f"MAX answered 401: {text[:512]}")
        parsed = _json_object(text)
        if not response.ok:
            raise MaxApiError(code=response.status, raw=text if parsed is None else parsed)
        if parsed is None:
            raise MaxApiError(code=response.status, raw=text)
        return parsed

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


def wire_message(body: NewMessageBody) -> JSONObject:
    """The ``POST /messages`` JSON exactly as maxapi's ``send_message`` builds it from ``body``.

    Raises ``ValueError`` (pydantic's ``ValidationError`` for a malformed attachment) before
    anything is sent."""
    text = body.get("text")
    if text is not None and len(text) >= _TEXT_LIMIT:
        raise ValueError(f"MAX text must be shorter than {_TEXT_LIMIT} characters")
    message: JSONObject = {"attachments": wire_attachments(body["attachments"])}
    if text is not None:
        message["text"] = text
    if body.get("format") == "markdown":
        message["format"] = "markdown"
    return message


def wire_attachments(attachments: list[AttachmentJSON]) -> list[JSONObject]:
    """Rendered attachments validated against maxapi's models and dumped as maxapi dumps them
    (defaults filled in, an empty keyboard dropped). Each distinct attachment is validated
    once while it stays in the cache: the key is its ``repr``, which only values pydantic
    accepted reach, and those (built-in JSON types, enums, models) show their whole content in
    it. The dicts returned are shared: read them, do not change them."""
    wire: list[JSONObject] = []
    for attachment in attachments:
        key = repr(attachment)
        try:
            dumped = _wire_cache[key]
        except KeyError:
            dumped = _dump(_ATTACHMENT.validate_python(attachment))
            if len(key) <= WIRE_CACHE_KEY:
                if len(_wire_cache) >= WIRE_CACHE_SIZE:
                    del _wire_cache[next(iter(_wire_cache))]  # the oldest entry
                _wire_cache[key] = dumped
        if dumped is not None:
            wire.append(dumped)
    return wire


def _dump(attachment: Any) -> JSONObject | None:
    """maxapi's ``SendMessage.fetch`` rule for one validated attachment."""
    if isinstance(attachment, AttachmentButton) and not any(attachment.payload.buttons):
        return None
    if isinstance(attachment, Attachment) and isinstance(attachment.payload, AttachmentUpload):
        return attachment.payload.model_dump()
    dumped: JSONObject = attachment.model_dump()
    return dumped


def mid_of(answer: JSONObject) -> str:
    """The ``mid`` of the message in a ``POST /messages`` answer (``""`` without a body).

    An answer not of the usual shape goes through maxapi's ``SendedMessage`` model, so it
    yields, or fails, as it did when maxapi parsed every answer."""
    message = answer.get("message")
    body = message.get("body") if isinstance(message, dict) else None
    mid = body.get("mid") if isinstance(body, dict) else None
    if isinstance(mid, str):
        return mid
    sent = SendedMessage(**answer)
    return sent.message.body.mid if sent.message.body else ""


async def _read_text(response: aiohttp.ClientResponse) -> str:
    """The answer's body as text, ``""`` if it cannot be read (as maxapi reads it)."""
    try:
        return await response.text()
    except Exception:
        log.warning("MAX: could not read an answer's body", exc_info=True)
        return ""


def _json_object(text: str) -> JSONObject | None:
    if not text.strip():
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _code(raw: object) -> str:
    return str(raw.get("code", "")) if isinstance(raw, dict) else ""


def _message(raw: object) -> str:
    return str(raw.get("message", raw)) if isinstance(raw, dict) else str(raw)[:200]

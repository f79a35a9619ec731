"""MAX's hot calls without maxapi's per-call machinery: the pre-serialised JSON fast path.

``POST /messages`` and ``POST /answers`` skip maxapi's method objects, its ``backoff`` wrapper
and its response models: ``post_json`` posts the rendered JSON through the ``Bot``'s own
session (its URL, ``Authorization`` header and timeouts) and reads the raw answer, raising
maxapi's exceptions as its ``request`` would. The body on the wire is what maxapi sends:
``wire_message`` validates each attachment against maxapi's models and dumps it as maxapi
dumps it — once per distinct attachment (a small cache), so a malformed one is still refused
before any request. ``mid_of`` reads the answer as maxapi's model would.

Must not: retry, rate-limit or map errors onto svyaz's (``connectors.maxbot.client`` does).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp
from maxapi import Bot
from maxapi.exceptions.max import InvalidToken, MaxApiError, MaxConnection
from maxapi.methods.types.sended_message import SendedMessage
from maxapi.types.attachments import Attachment, AttachmentButton, Attachments, AttachmentUpload
from pydantic import TypeAdapter
from yarl import URL

from connectors.maxbot.render import AttachmentJSON, NewMessageBody

log = logging.getLogger("svyaz.connectors.max")

# maxapi's wording for a failed connection, kept so the retry log reads as before.
_CONNECTION_FAILED = "Ошибка при отправке запроса"
JSONObject = dict[str, Any]
_ATTACHMENT: TypeAdapter[Any] = TypeAdapter(Attachments)
# Distinct rendered attachments kept in their wire form (keyboards repeat from turn to turn);
# one longer than WIRE_CACHE_KEY as text is validated on every send instead (bounds memory).
WIRE_CACHE_SIZE = 512
WIRE_CACHE_KEY = 4096
_wire_cache: dict[str, JSONObject | None] = {}
URL_CACHE_SIZE = 1024  # request URLs kept (one per recipient and path)
_urls: dict[tuple[Any, ...], URL] = {}
# maxapi refuses ``len(text) >= 4000`` client-side (SendMessage); so do we, before any request.
_TEXT_LIMIT = 4000


class Unanswered(MaxConnection):
    """The request went out but no answer came back: MAX may have acted on it."""


async def post_json(bot: Bot, path: str, params: JSONObject, body: JSONObject) -> JSONObject:
    """One POST through ``bot``'s session; the answer's JSON object.

    Raises as maxapi's ``BaseConnection.request`` does with retries off: ``InvalidToken``
    on 401, ``MaxConnection`` when the connection fails, ``MaxApiError`` on any other
    non-2xx answer or a 2xx whose body is not a JSON object."""
    session = await bot.ensure_session()
    try:
        response = await session.post(url_of(bot.api_url + path, params), json=body)
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


def url_of(base: str, params: JSONObject) -> URL:
    """``base`` with ``params`` as aiohttp builds it from both (``URL(base).extend_query``),
    kept for the recipients that come again (a dialogue's replies go to one chat): a yarl URL
    parsed and its query encoded once, its computed parts (path, host) cached in the object."""
    key = (base, *params.items())
    try:
        return _urls[key]
    except KeyError:
        pass
    url = URL(base).extend_query(params)
    if len(_urls) >= URL_CACHE_SIZE:
        del _urls[next(iter(_urls))]  # the oldest entry
    _urls[key] = url
    return url


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

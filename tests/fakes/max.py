"""A local fake of the MAX Bot API (PROTOCOLS.md Part A, checklist A14) for tests.

Speaks the real wire protocol so maxapi's own ``Bot`` and svyaz's connector both accept it:
raw-token ``Authorization`` (401 ``verify.token`` otherwise), ``GET /me``, subscriptions,
``GET /updates`` long polling with markers, ``GET/POST/PUT/DELETE /messages`` validated against
MAX's limits, ``POST /answers``, ``GET /chats/{id}``. Tests can inject failures per call
(status, error code, delay, a failure ratio), read a request-rate meter, enqueue updates for
polling and push webhooks to a bot.

Wire rules and update builders live in ``tests.fakes.max_wire``. Use the ``max_fake``
fixture (``from tests.fakes.max import max_fake_fixture``): it yields a started ``MaxFake``; point
clients at ``max_fake.url`` with token ``max_fake.token``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.fakes.max_upload import MaxUploads
from tests.fakes.max_wire import (
    BOT_ID,
    SECRET_RE,
    JSONDict,
    chat_of,
    message_problems,
    mid,
    next_seq,
    now_ms,
)


@dataclass
class Injection:
    """A scripted answer for matching calls: ``status`` with ``code``, after ``delay`` s."""

    method: str | None
    path: str
    status: int | None
    code: str
    times: int | None
    delay: float = 0.0
    ratio: float = 1.0
    until: float | None = None
    accept_first: bool = False  # do the work, then wait ``delay`` before answering


@dataclass
class Sent:
    user_id: int | None
    chat_id: int
    body: JSONDict
    message: JSONDict


@dataclass
class Request:
    at: float
    method: str
    path: str
    query: dict[str, str]
    status: int = 0


@dataclass
class MaxFake:
    token: str = "TESTTOKEN"
    bot_id: int = BOT_ID
    username: str = "svyaz_test_bot"
    seed: int = 4
    url: str = ""
    sent: list[Sent] = field(default_factory=list)
    answers: list[tuple[str, JSONDict]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    subscriptions: list[JSONDict] = field(default_factory=list)
    blocked: set[int] = field(default_factory=set)
    updates: list[JSONDict] = field(default_factory=list)
    acked: int = 0
    _injections: list[Injection] = field(default_factory=list)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.uploads = MaxUploads()
        self._rng = random.Random(self.seed)  # noqa: S311 - test failure schedule
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_get("/me", self._me)
        r.add_get("/subscriptions", self._subscriptions)
        r.add_post("/subscriptions", self._subscribe)
        r.add_delete("/subscriptions", self._unsubscribe)
        r.add_get("/updates", self._updates)
        r.add_post("/messages", self._send)
        r.add_get("/messages", self._list)
        r.add_put("/messages", self._edit)
        r.add_delete("/messages", self._delete)
        r.add_post("/answers", self._answer)
        r.add_get("/chats/{chat_id}", self._chat)
        r.add_post("/chats/{chat_id}/actions", self._ok)
        r.add_post("/uploads", self.uploads.slot)
        r.add_post("/upload/{slot}", self.uploads.receive)  # the upload host: no token
        self.app = app

    # ------------------------------------------------------------------ test controls

    def inject(
        self,
        path: str,
        status: int | None = 500,
        *,
        code: str = "internal.error",
        times: int | None = 1,
        method: str | None = None,
        delay: float = 0.0,
        ratio: float = 1.0,
        seconds: float | None = None,
        accept_first: bool = False,
    ) -> None:
        """Answer matching calls with ``status``/``code`` (``None``: answer normally after
        ``delay``; with ``accept_first`` the call takes effect at once and only its answer
        waits, as when MAX accepted a message whose answer then timed out); ``times=None``
        with ``seconds`` and ``ratio`` makes a storm."""
        until = None if seconds is None else time.monotonic() + seconds
        self._injections.append(
            Injection(method, path, status, code, times, delay, ratio, until, accept_first)
        )

    def clear_injections(self) -> None:
        self._injections.clear()

    def enqueue(self, *updates: JSONDict) -> None:
        self.updates.extend(updates)
        self._wake.set()

    def max_in_window(self, window: float = 1.0, path: str | None = None) -> int:
        """Most requests seen in any ``window`` seconds (all paths or one)."""
        stamps = [r.at for r in self.requests if path is None or r.path == path]
        best, lo = 0, 0
        for hi, t in enumerate(stamps):
            while t - stamps[lo] >= window:
                lo += 1
            best = max(best, hi - lo + 1)
        return best

    async def push(
        self, url: str, update: JSONDict, *, secret: str | None = None, raw: bytes | None = None
    ) -> tuple[int, str]:
        """POST one update to a bot's webhook as MAX does; returns (status, body text)."""
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Max-Bot-Api-Secret"] = secret
        data = raw if raw is not None else json.dumps(update, ensure_ascii=False).encode()
        timeout = aiohttp.ClientTimeout(total=30)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, data=data, headers=headers) as resp,
        ):
            return resp.status, await resp.text()

    # ------------------------------------------------------------------ server internals

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        rec = Request(time.monotonic(), request.method, request.path, dict(request.query))
        self.requests.append(rec)
        response = await self._dispatch(request, handler)
        rec.status = response.status
        return response

    async def _dispatch(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.headers.get("Authorization") != self.token and not request.path.startswith(
                "/upload/"):
            return _error(401, "verify.token", "Invalid access_token")
        injection = self._matching(request)
        if injection is not None and injection.delay:
            # MAX holds the whole request while it is slow: the call takes effect after the
            # delay even if the caller has hung up meanwhile (a kill -9, a timeout).
            await request.read()
        if injection is not None and injection.accept_first:
            answer: web.StreamResponse = await handler(request)
            await asyncio.sleep(injection.delay)
            return answer
        if injection is not None:
            await asyncio.sleep(injection.delay)
            if injection.status is not None:
                return _error(injection.status, injection.code, "injected by the test")
        response: web.StreamResponse = await handler(request)
        return response

    def _matching(self, request: web.Request) -> Injection | None:
        for inj in list(self._injections):
            if inj.path != request.path or inj.method not in (None, request.method):
                continue
            if inj.until is not None and time.monotonic() > inj.until:
                self._injections.remove(inj)
                continue
            if self._rng.random() >= inj.ratio:
                return None
            if inj.times is not None:
                inj.times -= 1
                if inj.times <= 0:
                    self._injections.remove(inj)
            return inj
        return None

    async def _me(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "user_id": self.bot_id,
                "first_name": "Svyaz Test",
                "username": self.username,
                "is_bot": True,
                "last_activity_time": now_ms(),
            }
        )

    async def _subscriptions(self, request: web.Request) -> web.Response:
        return web.json_response({"subscriptions": self.subscriptions})

    async def _subscribe(self, request: web.Request) -> web.Response:
        body = await _json(request)
        url, secret = body.get("url"), body.get("secret")
        if not isinstance(url, str) or not url.startswith("https://"):
            return _error(400, "proto.payload", "url must be an https:// address")
        if secret is not None and not SECRET_RE.match(str(secret)):
            return _error(400, "proto.payload", "secret must match ^[a-zA-Z0-9_-]{5,256}$")
        self.subscriptions = [s for s in self.subscriptions if s["url"] != url]
        self.subscriptions.append(
            {
                "url": url,
                "time": now_ms(),
                "update_types": body.get("update_types"),
            }
        )
        return web.json_response({"success": True})

    async def _unsubscribe(self, request: web.Request) -> web.Response:
        url = request.query.get("url", "")
        before = len(self.subscriptions)
        self.subscriptions = [s for s in self.subscriptions if s["url"] != url]
        return web.json_response({"success": len(self.subscriptions) < before})

    async def _updates(self, request: web.Request) -> web.Response:
        try:
            limit = int(request.query.get("limit", 100))
            timeout = int(request.query.get("timeout", 30))
            marker = int(request.query["marker"]) if "marker" in request.query else None
        except ValueError:
            return _error(400, "proto.payload", "limit, timeout and marker must be integers")
        if not (1 <= limit <= 1000 and 0 <= timeout <= 90):
            return _error(400, "proto.payload", "limit 1..1000, timeout 0..90")
        types = set(filter(None, request.query.get("types", "").split(",")))
        if marker is not None:  # passing a marker acknowledges everything before it
            self.acked = max(self.acked, marker)
        deadline = time.monotonic() + timeout
        while True:
            batch = self._pending(types, limit)
            if batch or time.monotonic() >= deadline:
                break
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), deadline - time.monotonic())
        next_marker = batch[-1][0] + 1 if batch else self.acked
        return web.json_response({"updates": [u for _, u in batch], "marker": next_marker})

    def _pending(self, types: set[str], limit: int) -> list[tuple[int, JSONDict]]:
        if self.subscriptions:  # a webhook subscription switches long polling off
            return []
        found = [
            (i, u)
            for i, u in enumerate(self.updates)
            if i >= self.acked and (not types or u["update_type"] in types)
        ]
        return found[:limit]

    async def _send(self, request: web.Request) -> web.Response:
        ids = {k: request.query.get(k) for k in ("chat_id", "user_id")}
        try:
            chat_id = int(ids["chat_id"]) if ids["chat_id"] else None
            user_id = int(ids["user_id"]) if ids["user_id"] else None
        except ValueError:
            return _error(400, "proto.payload", "chat_id/user_id must be integers")
        if chat_id is None and user_id is None:
            return _error(400, "proto.payload", "user_id or chat_id is required")
        body = await _json(request)
        if problems := message_problems(body):
            return _error(400, "proto.payload", "; ".join(problems))
        if (refused := self.uploads.refusal(body)) is not None:
            return _error(400, refused, f"{refused}: the uploaded file")
        target = user_id if user_id is not None else chat_id - 1_000_000_000  # type: ignore[operator]
        if target in self.blocked:
            return _error(403, "chat.denied", "chat.denied: bot is blocked by the user")
        chat = chat_id if chat_id is not None else chat_of(user_id)  # type: ignore[arg-type]
        message = self._message(chat, user_id, body)
        self.sent.append(Sent(user_id, chat, body, message))
        return web.json_response({"message": message})

    def _message(self, chat: int, user_id: int | None, body: JSONDict) -> JSONDict:
        seq = next_seq()
        atts = [_stored_attachment(a) for a in body.get("attachments") or []]
        return {
            "sender": {
                "user_id": self.bot_id,
                "first_name": "Svyaz Test",
                "username": self.username,
                "is_bot": True,
            },
            "recipient": {"chat_id": chat, "chat_type": "dialog", "user_id": user_id},
            "timestamp": now_ms(),
            "body": {
                "mid": mid(chat, seq),
                "seq": seq,
                "text": body.get("text"),
                "attachments": atts,
            },
        }

    async def _list(self, request: web.Request) -> web.Response:
        """``GET /messages?chat_id=…|message_ids=a,b&from&to&count``: newest first, as MAX
        walks a chat backwards (``from`` is the newest time wanted, ``to`` the oldest)."""
        query = request.query
        try:
            chat_id = int(query["chat_id"]) if query.get("chat_id") else None
            count = int(query.get("count", "50"))
            newest = int(query["from"]) if query.get("from") else None
            oldest = int(query["to"]) if query.get("to") else None
        except ValueError:
            return _error(400, "proto.payload", "chat_id, count, from and to must be integers")
        mids = {m for m in query.get("message_ids", "").split(",") if m}
        if (chat_id is None) == (not mids):
            return _error(400, "proto.payload", "exactly one of chat_id or message_ids")
        if not 1 <= count <= 100:
            return _error(400, "proto.payload", "count must be between 1 and 100")
        found = [
            s.message for s in reversed(self.sent)
            if (s.chat_id == chat_id or s.message["body"]["mid"] in mids)
            and (newest is None or s.message["timestamp"] <= newest)
            and (oldest is None or s.message["timestamp"] >= oldest)
        ]
        return web.json_response({"messages": found[:count]})

    def _find(self, mid: str) -> Sent | None:
        return next((s for s in self.sent if s.message["body"]["mid"] == mid), None)

    async def _edit(self, request: web.Request) -> web.Response:
        sent = self._find(request.query.get("message_id", ""))
        if sent is None:
            return _error(404, "not.found", "message not found")
        body = await _json(request)
        if problems := message_problems(body):
            return _error(400, "proto.payload", "; ".join(problems))
        if (refused := self.uploads.refusal(body)) is not None:
            return _error(400, refused, f"{refused}: the uploaded file")
        sent.body = body
        return web.json_response({"success": True})

    async def _delete(self, request: web.Request) -> web.Response:
        sent = self._find(request.query.get("message_id", ""))
        if sent is None:
            return _error(404, "not.found", "message not found")
        self.sent.remove(sent)
        return web.json_response({"success": True})

    async def _answer(self, request: web.Request) -> web.Response:
        callback_id = request.query.get("callback_id", "").strip()
        if not callback_id:
            return _error(400, "proto.payload", "callback_id is required")
        body = await _json(request)
        if "message" in body and (problems := message_problems(body["message"])):
            return _error(400, "proto.payload", "; ".join(problems))
        self.answers.append((callback_id, body))
        return web.json_response({"success": True})

    async def _chat(self, request: web.Request) -> web.Response:
        try:
            chat_id = int(request.match_info["chat_id"])
        except ValueError:
            return _error(404, "not.found", "chat not found")
        return web.json_response(
            {
                "chat_id": chat_id,
                "type": "dialog",
                "status": "active",
                "title": None,
                "icon": None,
                "last_event_time": now_ms(),
                "participants_count": 2,
                "is_public": False,
            }
        )

    async def _ok(self, request: web.Request) -> web.Response:
        return web.json_response({"success": True})


def _stored_attachment(att: JSONDict) -> JSONDict:
    if att.get("type") == "image":  # MAX answers with the stored photo, not the request
        return {
            "type": "image",
            "payload": {
                "photo_id": 1,
                "token": "tok",
                "url": att.get("payload", {}).get("url", ""),
            },
        }
    return att


async def _json(request: web.Request) -> JSONDict:
    try:
        body = await request.json()
    except ValueError:
        body = None
    return body if isinstance(body, dict) else {"__invalid__": True}


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


async def start_fake(**kwargs: Any) -> tuple[MaxFake, web.AppRunner]:
    fake = MaxFake(**kwargs)
    runner = web.AppRunner(fake.app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.url = fake.uploads.base = f"http://127.0.0.1:{port}"
    return fake, runner


@pytest.fixture(name="max_fake")
async def max_fake_fixture() -> AsyncIterator[MaxFake]:
    """A started fake; import ``max_fake_fixture`` into a test module to use ``max_fake``."""
    fake, runner = await start_fake()
    yield fake
    fake._wake.set()
    await runner.cleanup()

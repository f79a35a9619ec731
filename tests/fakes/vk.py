"""A local fake of the VK API for tests, speaking the wire protocol of PROTOCOLS.md B1-B12.

``POST|GET /method/<name>`` with form/query parameters; ``v`` and the token (``access_token``
or ``Authorization: Bearer``) are required; answers are ``{"response": ...}`` or VK's error
shape, always HTTP 200 (except injected HTTP failures). It records what was sent, validates
what VK validates (random_id, text length -> 914, keyboard -> 911), serves Bots Long Poll at
``/lp`` (holding up to ``wait`` s, ``failed`` 1/2/3 on demand), injects failures and measures
the request rate. It can also push Callback API notifications to a bot.

Use the ``fake_vk`` fixture (import it into a test module), or ``async with FakeVk() as fake``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from tests.fakes import vk_wire as wire
from tests.fakes.vk_upload import VkUploads
from tests.fakes.vk_wire import ApiError, Envelope, api_error, api_ok, parse_int, parse_keyboard

TOKEN = "vk-test-token"
GROUP_ID = 123456
@dataclass
class SentMessage:
    message_id: int
    peer_id: int
    random_id: int
    message: str
    keyboard: dict[str, Any] | None
    params: dict[str, str]


@dataclass
class Call:
    method: str
    params: dict[str, str]
    at: float


@dataclass
class Failure:
    code: int | None = None  # VK error code in the JSON envelope
    http_status: int | None = None  # or a bare HTTP error
    delay: float | None = None  # or answer late (a client timeout), then handle the call
    times: int | None = 1  # None: every matching call
    ratio: float | None = None  # or a share of the calls, chosen by the fake's seeded RNG


@dataclass
class LongPollState:
    key: str = "lp-key-1"
    base: int = 1000  # ts of the first update
    updates: list[dict[str, Any]] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)  # time.monotonic() of each request

    @property
    def ts(self) -> int:
        return self.base + len(self.updates)


class FakeVk:
    """The fake VK API server; ``api_url`` is what ``SVYAZ_VK_API_URL`` would be."""

    def __init__(
        self,
        *,
        token: str = TOKEN,
        group_id: int = GROUP_ID,
        max_text: int = 9000,
        seed: int = 0,
    ) -> None:
        self.token = token
        self.group_id = group_id
        self.max_text = max_text
        self.sent: list[SentMessage] = []
        self.answers: list[dict[str, str]] = []
        self.edits: list[dict[str, str]] = []
        self.calls: list[Call] = []
        self.finished = 0  # API calls answered (or whose client gave up), delays included
        self.blocked: dict[int, int] = {}  # peer -> error code for messages.send
        self.people: dict[int, dict[str, Any]] = {}  # user id -> users.get item (``person``)
        self.lp = LongPollState()
        self.lp_down: int | None = None  # an HTTP status the long-poll server answers instead
        self._failures: dict[str, list[Failure]] = {}
        self._rng = random.Random(seed)
        self._by_random_id: dict[tuple[int, int], int] = {}
        self._wake = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.uploads = VkUploads(group_id)  # the upload servers for photos and docs

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeVk:
        app = web.Application()
        app.router.add_route("*", "/method/{name}", self._method)
        app.router.add_get("/lp", self._long_poll)
        app.router.add_post("/upload/{kind}", self.uploads.upload)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = self.uploads.base = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeVk:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def api_url(self) -> str:
        return f"{self.url}/method"

    # ------------------------------------------------------------------ test controls

    def fail(
        self,
        method: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        delay: float | None = None,
        times: int | None = 1,
        ratio: float | None = None,
    ) -> None:
        """Make calls of ``method`` (``"*"``: any) fail; see ``Failure``."""
        rule = Failure(code=code, http_status=http_status, delay=delay, times=times, ratio=ratio)
        self._failures.setdefault(method, []).append(rule)

    def clear_failures(self) -> None:
        self._failures.clear()

    def block(self, peer_id: int, code: int = 901) -> None:
        """messages.send to ``peer_id`` answers ``code`` (901: has not allowed messages)."""
        self.blocked[peer_id] = code

    def person(self, user_id: int, first: str = "", last: str = "", *,
               deactivated: str | None = None, closed: bool = False) -> None:
        """``users.get`` knows ``user_id`` (see ``vk_wire.user``); others are not found."""
        self.people[user_id] = wire.user(user_id, first, last, deactivated=deactivated,
                                         closed=closed)

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def max_rate(self, window: float = 1.0) -> int:
        """Most API requests that arrived within any ``window`` seconds."""
        stamps = sorted(c.at for c in self.calls)
        best, start = 0, 0
        for end, at in enumerate(stamps):
            while at - stamps[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best

    def push_update(self, envelope: dict[str, Any]) -> None:
        """Queue a Bots Long Poll update (an envelope as built by ``message_new`` etc.)."""
        update = {k: v for k, v in envelope.items() if k != "secret"}
        self.lp.updates.append(update)
        self._wake.set()

    def lp_fail(self, failed: int) -> None:
        """The next ``a_check`` answers ``{"failed": failed, ...}``."""
        self.lp.failures.append(failed)
        self._wake.set()

    def lp_outage(self, status: int | None) -> None:
        """The long-poll server answers HTTP ``status`` (held requests too); None ends it."""
        self.lp_down = status
        self._wake.set()

    def expire_key(self) -> None:
        """The long-poll key stops working: the next ``a_check`` gets ``failed: 2``."""
        self.lp.key = f"lp-key-{uuid.uuid4().hex[:8]}"
        self._wake.set()

    # ------------------------------------------------------------------ API methods

    async def _method(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        params = dict(request.query)
        if request.method == "POST":
            params.update({k: str(v) for k, v in (await request.post()).items()})
        self.calls.append(Call(name, params, time.monotonic()))
        try:
            injected = await self._injected(name)
            if injected is not None:
                return injected
            self._authenticate(request, params)
            return api_ok(self._dispatch(name, params))
        except ApiError as exc:
            return api_error(exc, name, params)
        finally:
            self.finished += 1

    async def _injected(self, method: str) -> web.Response | None:
        rule = self._matching(method)
        if rule is None:
            return None
        if rule.delay is not None:
            await asyncio.sleep(rule.delay)
            return None
        if rule.http_status is not None:
            return web.Response(status=rule.http_status, text="Internal Server Error")
        raise ApiError(rule.code or 10)

    def _matching(self, method: str) -> Failure | None:
        for rule in self._failures.get(method, []) + self._failures.get("*", []):
            if rule.ratio is not None:
                if self._rng.random() < rule.ratio:
                    return rule
            elif rule.times is None or rule.times > 0:
                if rule.times is not None:
                    rule.times -= 1
                return rule
        return None

    def _authenticate(self, request: web.Request, params: dict[str, str]) -> None:
        if "v" not in params:
            raise ApiError(8)
        bearer = request.headers.get("Authorization", "")
        token = params.get("access_token") or bearer.removeprefix("Bearer ").strip()
        if token != self.token:
            raise ApiError(5)

    def _dispatch(self, name: str, params: dict[str, str]) -> Any:
        handler: Callable[[dict[str, str]], Any] | None = {
            "messages.send": self._send,
            "messages.sendMessageEventAnswer": self._event_answer,
            "messages.edit": self._edit,
            "groups.getLongPollServer": self._lp_server,
            "groups.getById": self._group,
            "users.get": lambda params: wire.users_get(self.people, params),
            **self.uploads.methods(),
        }.get(name)
        if handler is None:
            raise ApiError(3)
        return handler(params)

    def _send(self, params: dict[str, str]) -> Any:
        """One peer (``peer_id``/``user_id``): the message id, a refusal as the error envelope.
        ``peer_ids`` (<= 100): a list with an object per peer, each ``{peer_id, message_id,
        conversation_message_id}`` or ``{peer_id, error: {code, description}}`` (VK's 5.199
        ``messages_send_user_ids_response_item``; no ``message_id`` beside an error)."""
        many = params.get("peer_ids")
        peers = [int(p) for p in many.split(",")] if many else None
        if peers is not None and not 0 < len(peers) <= 100:
            raise ApiError(100, "peer_ids: from 1 to 100 peers")
        if peers is None:
            peers = [parse_int(params, "peer_id", required=False) or parse_int(params, "user_id")]
        if "random_id" not in params:
            raise ApiError(100, "random_id is required")
        rid = parse_int(params, "random_id")
        text = params.get("message", "")
        if not text and not params.get("attachment"):
            raise ApiError(100, "message is empty")
        if len(text) > self.max_text:
            raise ApiError(914)
        keyboard = parse_keyboard(params.get("keyboard"))
        if many is None:
            if peers[0] in self.blocked:
                raise ApiError(self.blocked[peers[0]])
            return self._deliver(peers[0], rid, text, keyboard, params)
        items: list[dict[str, Any]] = []
        for peer in peers:
            if peer in self.blocked:
                code = self.blocked[peer]
                items.append({"peer_id": peer, "error": {
                    "code": code, "description": wire.ERROR_TEXT.get(code, "error")}})
                continue
            message_id = self._deliver(peer, rid, text, keyboard, params)
            items.append({"peer_id": peer, "message_id": message_id,
                          "conversation_message_id": message_id - 1000})
        return items

    def _deliver(self, peer: int, rid: int, text: str, keyboard: Any,
                 params: dict[str, str]) -> int:
        if (peer, rid) in self._by_random_id:  # a retry: VK does not show it twice
            return self._by_random_id[(peer, rid)]
        message_id = 1000 + len(self.sent) + 1
        self._by_random_id[(peer, rid)] = message_id
        self.sent.append(SentMessage(message_id, peer, rid, text, keyboard, params))
        self.delivered(self.sent[-1])
        return message_id

    def delivered(self, message: SentMessage) -> None:
        """Called for each message shown to a peer (a subclass may stamp it)."""

    def _event_answer(self, params: dict[str, str]) -> int:
        for name in ("event_id", "user_id", "peer_id"):
            if not params.get(name):
                raise ApiError(100, f"{name} is required")
        data = params.get("event_data")
        if data is not None and (len(data) > 1000 or not isinstance(wire.loads(data), dict)):
            raise ApiError(100, "event_data is invalid")
        self.answers.append(params)
        return 1

    def _edit(self, params: dict[str, str]) -> int:
        parse_int(params, "peer_id")
        if "message_id" not in params and "conversation_message_id" not in params:
            raise ApiError(100, "message_id is required")
        parse_keyboard(params.get("keyboard"))
        self.edits.append(params)
        return 1

    def _lp_server(self, params: dict[str, str]) -> dict[str, str]:
        if parse_int(params, "group_id") != self.group_id:
            raise ApiError(100, "group_id is invalid")
        return {"key": self.lp.key, "server": f"{self.url}/lp", "ts": str(self.lp.ts)}

    def _group(self, params: dict[str, str]) -> dict[str, Any]:
        group = {"id": self.group_id, "name": "Fake community", "type": "group",
                 "screen_name": f"club{self.group_id}", "is_closed": 0}
        return {"groups": [group], "profiles": []}

    # ------------------------------------------------------------------ long poll

    async def _long_poll(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.lp.requests.append(query)
        self.lp.arrived.append(time.monotonic())
        if query.get("act") != "a_check":
            return web.json_response({"failed": 2})
        wait = min(90, int(query.get("wait", "25") or 0))
        deadline = time.monotonic() + wait
        while True:
            if self.lp_down is not None:
                return web.Response(status=self.lp_down, text="Service Unavailable")
            answer = self._lp_answer(query)
            left = deadline - time.monotonic()
            if answer is not None or left <= 0 or self._closing:
                return web.json_response(answer or {"ts": str(self.lp.ts), "updates": []})
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), left)

    def _lp_answer(self, query: dict[str, str]) -> dict[str, Any] | None:
        if self.lp.failures:
            failed = self.lp.failures.pop(0)
            return {"failed": 1, "ts": str(self.lp.ts)} if failed == 1 else {"failed": failed}
        if query.get("key") != self.lp.key:
            return {"failed": 2}
        try:
            index = int(query.get("ts", "")) - self.lp.base
        except ValueError:
            return {"failed": 1, "ts": str(self.lp.ts)}
        if not 0 <= index <= len(self.lp.updates):
            return {"failed": 1, "ts": str(self.lp.ts)}
        if index < len(self.lp.updates):
            return {"ts": str(self.lp.ts), "updates": self.lp.updates[index:]}
        return None

    # ------------------------------------------------------------------ Callback API push

    async def push_callback(self, bot_url: str, envelope: Envelope, *, attempts: int = 1,
                            secret: str | None = None) -> list[tuple[int, str]]:
        """See ``vk_wire.push_callback``."""
        return await wire.push_callback(bot_url, envelope, attempts=attempts, secret=secret)

    async def confirm(self, bot_url: str, *, secret: str | None = None) -> tuple[int, str]:
        envelope: dict[str, Any] = {"type": "confirmation", "group_id": self.group_id}
        return (await self.push_callback(bot_url, envelope, secret=secret))[0]

    # ------------------------------------------------------------------ event builders

    def envelope(self, type_: str, obj: dict[str, Any], event_id: str | None = None) -> Envelope:
        return wire.envelope(self.group_id, type_, obj, event_id)

    def message_new(self, from_id: int, text: str, **kwargs: Any) -> Envelope:
        """See ``vk_wire.message_new`` (payload, ref, peer_id, event_id, reply_to)."""
        return wire.message_new(self.group_id, from_id, text, **kwargs)

    def message_event(self, user_id: int, payload: Any, **kwargs: Any) -> Envelope:
        """See ``vk_wire.message_event`` (callback_id, event_id)."""
        return wire.message_event(self.group_id, user_id, payload, **kwargs)


FakeFactory = Callable[..., Awaitable[FakeVk]]


@pytest.fixture
async def fake_vk_factory() -> AsyncIterator[FakeFactory]:
    """``await fake_vk_factory(max_text=4096, seed=1)`` -> a started fake, closed after the test."""
    fakes: list[FakeVk] = []

    async def make(**kwargs: Any) -> FakeVk:
        fake = await FakeVk(**kwargs).start()
        fakes.append(fake)
        return fake

    yield make
    for fake in fakes:
        await fake.close()


@pytest.fixture
async def fake_vk(fake_vk_factory: FakeFactory) -> FakeVk:
    """A started fake VK with the default token (``TOKEN``) and community (``GROUP_ID``)."""
    return await fake_vk_factory()

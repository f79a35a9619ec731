"""What the SMS provider fakes share: a loopback aiohttp server that records every request
(method, path, query, form) and can be told to answer a bare HTTP status, or to take a send
and then never answer it or cut the connection (the request left, the answer is lost:
``SmsOutcomeUnknown``).

``tests.fakes.smsru`` and ``tests.fakes.smsc`` build on it; use their fixtures.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

Handler = Callable[[web.Request, dict[str, str]], Awaitable[web.Response]]


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    body: bytes


@dataclass
class FakeServer:
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    _http: list[tuple[int, float | None]] = field(default_factory=list)
    _hangs: int = 0
    _drops: int = 0
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ test controls

    def answer_http(self, status: int, *, retry_after: float | None = None, times: int = 1) -> None:
        """The next ``times`` requests get a bare HTTP ``status`` (e.g. 429, 502)."""
        self._http.extend([(status, retry_after)] * times)

    def hang(self, times: int = 1) -> None:
        """The next ``times`` sends take effect, then their answer never comes."""
        self._hangs += times

    def drop(self, times: int = 1) -> None:
        """The next ``times`` sends take effect, then the connection is cut (a reset)."""
        self._drops += times

    def sent_requests(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    # ------------------------------------------------------------------ server internals

    def build(self, routes: dict[str, Handler]) -> web.Application:
        app = web.Application()
        for path, handle in routes.items():
            app.router.add_route("*", path, self._recording(handle))
        return app

    def _recording(self, handle: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def wrapped(request: web.Request) -> web.Response:
            body = await request.read()
            form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
            self.requests.append(
                Recorded(request.method, request.path, dict(request.query), form, body)
            )
            if self._http:
                status, retry_after = self._http.pop(0)
                headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
                return web.Response(status=status, text="injected by the test", headers=headers)
            return await handle(request, {**dict(request.query), **form})

        return wrapped

    async def held(self, request: web.Request, answer: web.Response) -> web.Response:
        """``answer``; or, when a drop is pending, a cut connection; or, when a hang is
        pending, nothing until the fake stops."""
        if self._drops and request.transport is not None:
            self._drops -= 1
            request.transport.abort()
            return answer
        if self._hangs:
            self._hangs -= 1
            await self._release.wait()
        return answer

    async def start(self, app: web.Application) -> None:
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()


async def post_form(url: str, form: list[tuple[str, str]]) -> tuple[int, str]:
    """POST a urlencoded form as a provider's callback does; (status, body text)."""
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.post(url, data=form) as response,
    ):
        return response.status, await response.text()


def json_response(body: dict[str, Any]) -> web.Response:
    return web.json_response(body)

"""A local fake of the platforms' file hosts (VK's userapi.com, MAX's CDN) for tests.

Platforms do not serve a customer's photo from their API host: the update carries a URL on a
file host, which answers a plain ``GET`` without the bot's token. This fake serves bytes the
test puts there (``put``), can answer slowly (``slow``) or endlessly (``endless``, to test a
size cap), and records each download.

Use ``async with FakeMedia() as media`` and build updates with ``media.put(...)``'s URL.
"""

from __future__ import annotations

import asyncio
import uuid

from aiohttp import web

# SVYAZ_FILES_ALLOW for a test whose file host is this fake: it listens on 127.0.0.1, which
# the file copier refuses otherwise (bots.fileguard).
LOCAL = ("127.0.0.1/32",)

# Tiny valid files, so a type check by content sees what they are.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
OGG = b"OggS\x00\x02" + bytes(20) + b"\x01\x1eOpusHead" + bytes(16)
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + bytes(400)


class FakeMedia:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.types: dict[str, str] = {}
        self.slow: set[str] = set()
        self.endless: set[str] = set()
        self.downloads: list[str] = []
        self.redirects: dict[str, str] = {}  # key -> where it redirects to
        self.url = ""
        self._runner: web.AppRunner | None = None

    def put(self, data: bytes, *, name: str | None = None,
            content_type: str = "application/octet-stream") -> str:
        """Serve ``data``; returns its URL."""
        key = name or uuid.uuid4().hex
        self.files[key] = data
        self.types[key] = content_type
        return f"{self.url}/f/{key}"

    async def start(self) -> FakeMedia:
        app = web.Application()
        app.router.add_get("/f/{key}", self._get)
        self._runner = web.AppRunner(app, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeMedia:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _get(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        self.downloads.append(key)
        if key in self.redirects:
            raise web.HTTPFound(self.redirects[key])
        if key in self.endless:
            return await self._stream_forever(request)
        if key not in self.files:
            return web.Response(status=404)
        if key in self.slow:
            await asyncio.sleep(30)
        return web.Response(body=self.files[key], content_type=self.types[key])

    async def _stream_forever(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        chunk = PNG + bytes(64 * 1024)
        while True:
            await response.write(chunk)

"""The web chat's static files: the widget's script and style, and the demo page.

Read once from the package (the script with the owner's brand written into it), compressed
once with gzip and served with a short cache, a strong ``ETag`` (a repeat visit with
``If-None-Match`` gets ``304`` and no body) and, for our own page, a strict
Content-Security-Policy. No sockets, no sessions.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Literal

from aiohttp import web

from connectors.webchat.frames import MAX_TEXT_BYTES

# Our own page: scripts and styles from this host only; sockets back to this host only.
DEMO_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; "
    "img-src 'self' https: data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_BRAND_SLOT = b"/*brand*/{}/*brand*/"


@dataclass(frozen=True, slots=True)
class Brand:
    """How the widget looks on the owner's site (settings ``SVYAZ_WEBCHAT_*``); empty fields
    keep the widget's own defaults, and ``data-`` attributes of the script tag override all.
    The widget picks the text colour on ``color`` for contrast (WCAG 4.5:1) itself."""

    title: str = ""
    color: str = ""  # "#rrggbb"
    avatar: str = ""  # an image address
    greeting: str = ""  # the line under the title
    position: Literal["right", "left", ""] = ""

    def script(self) -> bytes:
        """The widget's settings as a JavaScript object literal (JSON is one; ``<`` escaped
        all the same), with the longest text the server takes (the field stops there)."""
        shown: dict[str, object] = {k: v for k, v in asdict(self).items() if v}
        shown["maxBytes"] = MAX_TEXT_BYTES
        return json.dumps(shown, ensure_ascii=True).replace("<", "\\u003c").encode()


@dataclass(frozen=True, slots=True)
class _File:
    body: bytes
    gzipped: bytes
    etag: str
    content_type: str


def _static(name: str) -> bytes:
    return resources.files("connectors.webchat").joinpath("static", name).read_bytes()


def demo_page(elsewhere: Sequence[str]) -> bytes:
    """The demo page; it offers to go on in the other channels turned on (``elsewhere``: where,
    as the customer would say it, e.g. «во ВКонтакте»), and in none when the web chat is the
    only one."""
    line = ""
    if elsewhere:
        names = " или ".join(html.escape(name) for name in elsewhere)
        line = (f"  <p>Переписку можно продолжить {names} — бот помнит, на чём вы "
                f"остановились.</p>")
    return _static("demo.html").replace(b"<!--elsewhere-->", line.encode())


def widget_script(brand: Brand) -> bytes:
    script = _static("widget.js")
    if _BRAND_SLOT not in script:
        raise RuntimeError("widget.js lost its brand slot")
    return script.replace(_BRAND_SLOT, brand.script(), 1)


def _file(body: bytes, content_type: str) -> _File:
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return _File(body, gzip.compress(body, compresslevel=9, mtime=0), etag, content_type)


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag in tags


def _accepts_gzip(header: str) -> bool:
    for part in header.lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


class WidgetFiles:
    """``GET /chat``, ``/chat/widget.js`` and ``/chat/widget.css``."""

    def __init__(self, elsewhere: Sequence[str] = (), brand: Brand | None = None) -> None:
        self._files = {
            "widget.js": _file(widget_script(brand or Brand()), "text/javascript"),
            "widget.css": _file(_static("widget.css"), "text/css"),
            "demo.html": _file(demo_page(elsewhere), "text/html"),
        }

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/chat", self._demo),
            web.get("/chat/widget.js", self._widget_js),
            web.get("/chat/widget.css", self._widget_css),
        ]

    async def _demo(self, request: web.Request) -> web.Response:
        return self._serve(request, "demo.html", {"Content-Security-Policy": DEMO_CSP})

    async def _widget_js(self, request: web.Request) -> web.Response:
        return self._serve(request, "widget.js")

    async def _widget_css(self, request: web.Request) -> web.Response:
        return self._serve(request, "widget.css")

    def _serve(
        self, request: web.Request, name: str, extra: dict[str, str] | None = None
    ) -> web.Response:
        file = self._files[name]
        # Each encoding is its own representation with its own strong tag.
        zipped = _accepts_gzip(request.headers.get("Accept-Encoding", ""))
        body, etag = (file.gzipped, file.etag[:-1] + '-gz"') if zipped else (file.body, file.etag)
        headers = {
            "Cache-Control": "public, max-age=300, must-revalidate",
            "X-Content-Type-Options": "nosniff",
            "ETag": etag,
            "Vary": "Accept-Encoding",
        } | (extra or {})
        if _matches(request.headers.get("If-None-Match"), etag):
            return web.Response(status=304, headers=headers)
        if zipped:
            headers["Content-Encoding"] = "gzip"
        return web.Response(
            body=body, content_type=file.content_type, charset="utf-8", headers=headers
        )

"""The web chat's static files: the widget's script and style, and the demo page.

Read once from the package; served with a short cache and, for our own page, a strict
Content-Security-Policy. No sockets, no sessions.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from importlib import resources

from aiohttp import web

# Our own page: scripts and styles from this host only; sockets back to this host only.
DEMO_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


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


class WidgetFiles:
    """``GET /chat``, ``/chat/widget.js`` and ``/chat/widget.css``."""

    def __init__(self, elsewhere: Sequence[str] = ()) -> None:
        self._files = {name: _static(name) for name in ("widget.js", "widget.css")}
        self._files["demo.html"] = demo_page(elsewhere)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/chat", self._demo),
            web.get("/chat/widget.js", self._widget_js),
            web.get("/chat/widget.css", self._widget_css),
        ]

    async def _demo(self, request: web.Request) -> web.Response:
        return self._file("demo.html", "text/html", {"Content-Security-Policy": DEMO_CSP})

    async def _widget_js(self, request: web.Request) -> web.Response:
        return self._file("widget.js", "text/javascript")

    async def _widget_css(self, request: web.Request) -> web.Response:
        return self._file("widget.css", "text/css")

    def _file(
        self, name: str, content_type: str, extra: dict[str, str] | None = None
    ) -> web.Response:
        headers = {"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"}
        return web.Response(
            body=self._files[name],
            content_type=content_type,
            charset="utf-8",
            headers=headers | (extra or {}),
        )

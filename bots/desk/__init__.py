"""The operator desk at ``/desk``: the business's people see every conversation across
channels, take one over from the bot, answer as themselves and hand it back.

``setup`` mounts it on the application (``bots.app``); ``bots.desk.cmd_operator`` is
``svyaz operator``. The parts: ``web`` (sessions, CSRF, login), ``pages``, ``conversations``
(pure list and thread), ``takeover``, ``passwords``, ``sessions``.
"""

from __future__ import annotations

from aiohttp import web

from bots.config import Settings, secret_key
from bots.desk import upload
from bots.desk.files import routes as file_routes
from bots.desk.files import size_text
from bots.desk.gate import DESK, PREFIX, Desk, guard
from bots.desk.pages import routes
from bots.desk.upload import FileLinks
from bots.parts import Edge


async def _to_list(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(f"{PREFIX}/")


def setup(app: web.Application, settings: Settings, edge: Edge) -> None:
    """Mount the desk under ``/desk``."""
    sub = web.Application(middlewares=[guard])
    sub[DESK] = Desk(edge, secret=secret_key(settings),
                     secure=settings.public_url.startswith("https:"), zone=settings.zone,
                     flows=settings.flows)
    sub.add_routes(routes())
    sub.add_routes(file_routes())
    sub[DESK].templates.filters["filesize"] = size_text  # (files.html)
    upload.setup(app, sub, FileLinks.make(edge, secret_key(settings), settings.public_url))
    app.add_subapp(PREFIX, sub)
    app.router.add_get(PREFIX, _to_list)

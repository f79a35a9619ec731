"""An operator sends a picture or a document from the desk: ``POST /desk/c/<customer>/file``.

The form (multipart, with the session's CSRF token like every desk form, checked by the
gate) carries the file and an optional caption. The file is refused over ``UPLOAD_MAX`` bytes
(the app lets only this path's body grow that large: ``upload_room``); its kind is found by its
content (an image is sent as a photo, anything else as a document); the name the browser gave
is kept only for showing, cut to its last part. The copy is kept with the customer's files
(``storage.files``), the message goes through the outbox like any operator message
(``bots.delivery``), and the web chat gets a signed link (``public_link``) it can open: VK and
MAX upload the bytes themselves (their connectors read them through ``Edge.read_file``).

This module must not talk to a platform or check sessions.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from pathlib import PurePosixPath, PureWindowsPath
from urllib.parse import unquote

from aiohttp import web
from itsdangerous import BadSignature, URLSafeTimedSerializer

from bots.delivery import Send
from bots.desk.files import headers_of
from bots.desk.gate import DESK, PREFIX, me
from bots.filecopy import IMAGES, content_type
from bots.parts import Edge
from flows.types import Attachment, Reply
from storage.history import OPERATOR_NOTE

UPLOAD_MAX = 10 * 1024 * 1024  # bytes of one file an operator sends
LINK_AGE = 30 * 24 * 3600  # seconds a web chat customer's link to a sent file works
LINK_SALT = "svyaz file link"


@dataclass(frozen=True, slots=True)
class FileLinks:
    """Signed links to the files operators sent, for the web chat's customers."""

    edge: Edge
    signer: URLSafeTimedSerializer
    public_url: str

    @classmethod
    def make(cls, edge: Edge, secret: bytes, public_url: str) -> FileLinks:
        return cls(edge, URLSafeTimedSerializer(secret, salt=LINK_SALT), public_url.rstrip("/"))

    def link(self, customer: str, file_id: str) -> str:
        return f"{self.public_url}/files/{self.signer.dumps([customer, file_id])}"

    def opened(self, token: str) -> tuple[str, str] | None:
        """(customer, file id) of a link still valid; None for any other text."""
        try:
            customer, file_id = self.signer.loads(token, max_age=LINK_AGE)
        except (BadSignature, ValueError, TypeError):
            return None
        return (customer, file_id) if isinstance(customer, str) and isinstance(
            file_id, str) else None


FILE_LINKS = web.AppKey("svyaz_file_links", FileLinks)


def upload_room(path: str) -> int | None:
    """The body size this path may have beyond the app's usual limit (None: the usual)."""
    return UPLOAD_MAX + 64 * 1024 if path.startswith(f"{PREFIX}/c/") and path.endswith(
        "/file") else None


def shown_name(raw: str | None) -> str | None:
    """The browser's file name, its last part only, cut; only ever shown, never a path."""
    if not raw:
        return None
    # (some clients percent-encode the name: «%D1%84.png»; browsers send it as it is)
    name = PureWindowsPath(PurePosixPath(unquote(raw)).name).name.strip().replace("\x00", "")
    return name[:200] or None


async def send_file(request: web.Request) -> web.StreamResponse:
    desk, customer = request.app[DESK], request.match_info["customer"]
    form = await request.post()
    upload = form.get("file")
    caption = str(form.get("text", "")).strip()[:4000]
    if not isinstance(upload, web.FileField):
        raise _back(customer, "no_file")
    data = upload.file.read(UPLOAD_MAX + 1)
    if not data or len(data) > UPLOAD_MAX:
        raise _back(customer, "too_big" if data else "no_file")
    operator = me(request).name
    parts = desk.edge.parts
    if await parts.store.desk.handoffs.holder(customer) != operator:
        raise _back(customer, "not_yours")
    mime = content_type(data)
    attachment = Attachment(id=secrets.token_hex(12), kind="photo" if mime in IMAGES else "file",
                            ref="", name=shown_name(upload.filename), size=len(data), mime=mime)
    await parts.store.files.keep(customer, attachment, data, mime)
    attachment = replace(attachment, url=request.app[FILE_LINKS].link(customer, attachment.id))
    sent = await parts.delivery.deliver(Send(
        customer, (Reply(caption, operator=operator, file=attachment),), "operator",
        note=f"{OPERATOR_NOTE}{operator}"))
    raise _back(customer, "" if sent.target is not None else "undelivered")


def _back(customer: str, error: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"{PREFIX}/c/{customer}" + (f"?error={error}" if error else ""))


async def public_file(request: web.Request) -> web.StreamResponse:
    """``GET /files/<link>``: a file an operator sent, for the customer who got the link."""
    links = request.app[FILE_LINKS]
    opened = links.opened(request.match_info["token"])
    store = links.edge.parts.store
    try:
        stored = None if opened is None else await store.files.get(*opened)
    except ValueError:  # not a customer id
        stored = None
    if stored is None or not (path := store.files.path(stored.id)).is_file():
        raise web.HTTPNotFound(text="Файл не найден или ссылка устарела.")
    return web.FileResponse(path, headers={**headers_of(stored), "Cache-Control": "private",
                                           "X-Content-Type-Options": "nosniff",
                                           "Content-Security-Policy": "sandbox"})


def routes() -> list[web.RouteDef]:
    return [web.post("/c/{customer}/file", send_file)]


def setup(app: web.Application, desk_app: web.Application, links: FileLinks) -> None:
    """The upload route on the desk, the public links on the app."""
    desk_app[FILE_LINKS] = app[FILE_LINKS] = links
    desk_app.add_routes(routes())
    app.router.add_get("/files/{token}", public_file)

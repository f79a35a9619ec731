"""The files customers sent, served to the desk's people: ``GET /desk/f/<customer>/<id>``.

Only through the customer a copy belongs to (``storage.files`` indexes it per customer), by
svyaz's id, never a path; the desk's guard has checked the session. A photo or a voice
message is served with the type found in its content, to be shown inline; any other file as
a download (``application/octet-stream``, with its name), so a customer's HTML or script is
never rendered in the desk's origin. Each opening is written to the audit log like a card's
(152-FZ: who saw whose data), by the internal customer id only.

This module must not download or store anything (``bots.filecopy``, ``storage.files``).
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from bots.desk.gate import AUDIT_AGAIN, DESK, PREFIX, me
from bots.filecopy import IMAGES, UNKNOWN, accepted
from storage.files import StoredFile
from storage.store import Store


async def kept_files(store: Store, customer: str) -> dict[str, StoredFile]:
    """The customer's kept copies by id, for the conversation page (``files.html``)."""
    return {f.id: f for f in await store.files.listing(customer)}


def size_text(size: int) -> str:
    """A file size in Russian, short: «820 Б», «47 КБ», «3,4 МБ»."""
    if size < 1024:
        return f"{size} Б"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} КБ"
    return f"{size / 1024 / 1024:.1f} МБ".replace(".", ",")


def file_url(customer: str, file_id: str) -> str:
    """The desk's address of a kept copy (for the conversation page)."""
    return f"{PREFIX}/f/{quote(customer, safe='')}/{quote(file_id, safe='')}"


def headers_of(stored: StoredFile) -> dict[str, str]:
    """Type and disposition: inline only for an image or a sound found by content."""
    inline = (stored.kind == "photo" and stored.mime in IMAGES) or (
        stored.kind == "voice" and accepted("voice", stored.mime))
    name = stored.name or f"{stored.kind}-{stored.id}"
    disposition = "inline" if inline else "attachment"
    return {
        "Content-Type": stored.mime if inline else UNKNOWN,
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name, safe='')}",
    }


async def serve(request: web.Request) -> web.StreamResponse:
    customer, file_id = request.match_info["customer"], request.match_info["file"]
    store = request.app[DESK].edge.parts.store
    files = store.files
    try:
        stored = await files.get(customer, file_id)
    except ValueError:  # not a customer id
        stored = None
    if stored is None:
        raise web.HTTPNotFound(text="Нет такого файла.")
    path = files.path(stored.id)
    if not path.is_file():
        raise web.HTTPNotFound(text="Файл удалён.")
    await store.desk.audit.record_once(me(request).name, "file", customer, within=AUDIT_AGAIN)
    return web.FileResponse(path, headers=headers_of(stored))


def routes() -> list[web.RouteDef]:
    return [web.get("/f/{customer}/{file}", serve)]

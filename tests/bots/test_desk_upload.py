"""An operator sends a picture or a document from the desk (issue 15): the upload form has
the CSRF token and a size limit, only the operator holding the conversation may send, the
file goes through the outbox; a web chat customer gets a signed link that opens the file
(and nothing else), and the desk shows what was sent."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from desk_client import add_operator, desk_app, login, next_reply, page_csrf, store_of
from test_desk_pages import _ask_for_a_person

from bots.desk.upload import UPLOAD_MAX, shown_name
from bots.webdialogue import replay
from flows.types import Attachment
from storage.history import OPERATOR_NOTE, HistoryEntry
from tests.fakes.media import PDF, PNG


@pytest.fixture
async def desk(redis_url: str, bot_prefix: str, tmp_path: Path
               ) -> AsyncIterator[tuple[web.Application, TestClient]]:
    async with desk_app(redis_url, bot_prefix, tmp_path) as (app, client):
        await add_operator(app, "Ольга")
        await add_operator(app, "ivan")
        yield app, client


def _form(data: bytes, name: str, csrf: str | None, text: str = "") -> aiohttp.FormData:
    form = aiohttp.FormData()
    if csrf is not None:
        form.add_field("csrf", csrf)
    form.add_field("text", text)
    form.add_field("file", io.BytesIO(data), filename=name,
                   content_type="application/octet-stream")
    return form


async def test_a_picture_reaches_the_web_chat_as_a_link_only_it_opens(
    desk: tuple[web.Application, TestClient],
) -> None:
    app, client = desk
    ws, customer = await _ask_for_a_person(app, client)
    await login(client, "Ольга")
    token = await page_csrf(client, f"/desk/c/{customer}")
    page = await (await client.get(f"/desk/c/{customer}")).text()
    assert 'enctype="multipart/form-data"' not in page  # not held yet: no upload form
    await client.post(f"/desk/c/{customer}/claim", data={"csrf": token})
    page = await (await client.get(f"/desk/c/{customer}")).text()
    assert f'action="/desk/c/{customer}/file"' in page

    sent = await client.post(f"/desk/c/{customer}/file", allow_redirects=False,
                             data=_form(PNG, "../../etc/фото.png", token, "Вот схема"))
    assert sent.status == 303
    assert sent.headers["Location"] == f"/desk/c/{customer}"
    frame = await next_reply(ws)
    assert frame["text"] == "Вот схема"
    assert frame["operator"] == "Ольга"
    (button,) = frame["buttons"]  # type: ignore[misc]
    assert button["text"] == "📎 фото.png"
    link = str(button["url"])
    assert "/files/" in link
    path = "/" + link.split("/", 3)[3]
    async with aiohttp.ClientSession() as stranger:  # the customer's browser: no desk login
        opened = await stranger.get(client.make_url(path))
        assert opened.status == 200
        assert opened.content_type == "image/png"
        assert await opened.read() == PNG
        forged = await stranger.get(client.make_url(path[:-3] + "xyz"))
        assert forged.status == 404

    (kept,) = await store_of(app).files.listing(customer)
    assert (kept.kind, kept.name, kept.mime) == ("photo", "фото.png", "image/png")
    shown = await (await client.get(f"/desk/c/{customer}")).text()
    assert f"/desk/f/{customer}/{kept.id}" in shown  # the desk shows what was sent
    await ws.close()


async def test_refused_uploads(desk: tuple[web.Application, TestClient]) -> None:
    app, client = desk
    ws, customer = await _ask_for_a_person(app, client)
    await login(client, "Ольга")
    token = await page_csrf(client, f"/desk/c/{customer}")
    url = f"/desk/c/{customer}/file"
    forged = await client.post(url, data=_form(PDF, "a.pdf", None), allow_redirects=False)
    assert forged.status == 403  # no CSRF token
    not_held = await client.post(url, data=_form(PDF, "a.pdf", token), allow_redirects=False)
    assert not_held.headers["Location"].endswith("error=not_yours")
    await client.post(f"/desk/c/{customer}/claim", data={"csrf": token})
    big = await client.post(url, data=_form(b"%PDF" + bytes(UPLOAD_MAX), "big.pdf", token),
                            allow_redirects=False)
    assert big.headers["Location"].endswith("error=too_big")
    huge = await client.post(url, data=_form(bytes(3 * UPLOAD_MAX), "huge.bin", token),
                             allow_redirects=False)
    assert huge.status == 413
    elsewhere = await client.post(
        f"/desk/c/{customer}/say", allow_redirects=False,
        data=io.BytesIO(f"csrf={token}&text={'x' * 2 * 1024 * 1024}".encode()),
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert elsewhere.status == 413  # only the upload may be that large
    broken = await client.post(url, data=io.BytesIO(b'{"not": "multipart"}'),
                               headers={"Content-Type": "multipart/form-data"})
    assert broken.status == 400  # a broken form is refused, never a server error
    assert await store_of(app).files.listing(customer) == []
    await ws.close()


def test_the_browsers_file_name_is_only_its_last_part() -> None:
    assert shown_name("C:\\Users\\a\\акт.pdf") == "акт.pdf"
    assert shown_name("../../x/y.png") == "y.png"
    assert shown_name("") is None


def test_a_web_customer_sees_a_sent_file_again_after_a_reload() -> None:
    file = Attachment(id="a" * 24, kind="photo", ref="", url="https://b.test/files/tok",
                      name="схема.png", mime="image/png", size=70)
    entries = [HistoryEntry(ts=1.0, channel="web", direction="out", text="",
                            note=f"{OPERATOR_NOTE}Ольга", attachments=(file,))]
    (item,) = replay(entries)
    assert item.text == "схема.png"
    assert item.operator == "Ольга"
    assert [(b.text, b.url) for b in item.buttons] == [("📎 схема.png",
                                                        "https://b.test/files/tok")]

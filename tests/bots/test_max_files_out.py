"""An operator's picture and document reach a MAX customer through maxapi's upload
(``POST /uploads`` -> the bytes to the upload host -> the token in the message's
attachments); MAX's first «attachment.not.ready» is waited out, not taken for a refusal.

Real parts: the app with its MAX connector polling the MAX fake (real maxapi client), real
Redis, the desk over HTTP with a logged-in operator."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from desk_client import HANDED, add_operator, desk_app, login, page_csrf, store_of

from tests.fakes import max_wire as w
from tests.fakes.max import MaxFake, max_fake_fixture  # noqa: F401 - provides max_fake
from tests.fakes.media import PDF, PNG


async def _until(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + 15
    while not (found := check()):
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)
    return found


def _media(fake: MaxFake) -> list[tuple[str, dict[str, Any]]]:
    return [(str(s.body.get("text", "")), a) for s in fake.sent
            for a in s.body.get("attachments") or [] if a.get("type") in ("image", "file")]


async def test_an_operator_sends_a_picture_and_a_document_to_max(
    redis_url: str, bot_prefix: str, tmp_path: Path, max_fake: MaxFake,
) -> None:
    async with desk_app(redis_url, bot_prefix, tmp_path, max_token=max_fake.token,
                        max_mode="polling", max_api_url=max_fake.url) as (app, client):
        await add_operator(app, "Ольга")
        max_fake.enqueue(w.bot_started(61), w.message_created(61, "Позвать администратора"))
        await _until(lambda: any(str(s.body.get("text", "")).startswith(HANDED)
                                 for s in max_fake.sent), "no hand-off")
        customer = await store_of(app).identities.customer_of("max:61")
        assert customer is not None
        await login(client, "Ольга")
        token = await page_csrf(client, f"/desk/c/{customer}")
        await client.post(f"/desk/c/{customer}/claim", data={"csrf": token})
        for data, name, caption in ((PNG, "схема.png", "Вот схема"), (PDF, "смета.pdf", "")):
            form = aiohttp.FormData()
            form.add_field("csrf", token)
            form.add_field("text", caption)
            form.add_field("file", io.BytesIO(data), filename=name)
            sent = await client.post(f"/desk/c/{customer}/file", data=form,
                                     allow_redirects=False)
            assert sent.headers["Location"] == f"/desk/c/{customer}"

        (text, image), (_, doc) = await _until(lambda: len(_media(max_fake)) >= 2 and
                                               _media(max_fake), "the files did not arrive")
        assert text == "Ольга: Вот схема"  # signed by the operator, as every operator message
        assert image["type"] == "image"
        kind, data, _name = max_fake.uploads.files[image["payload"]["token"]]
        assert (kind, data) == ("image", PNG)
        assert doc["type"] == "file"
        kind, data, name = max_fake.uploads.files[doc["payload"]["token"]]
        assert (kind, data) == ("file", PDF)
        assert name.startswith("смета")
        refused = [r for r in max_fake.requests if r.path == "/messages" and r.status == 400]
        assert len(refused) == 2  # each file's first «not ready», then delivered

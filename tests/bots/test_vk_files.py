"""Files over VK end to end (issue 15): a VK customer answers «пришлите фото повреждения»
with a photo (text first hears the step's ``unreadable``) and the copy is kept; an operator
sends a picture and a document back from the desk, and the VK fake receives them through
VK's upload servers (getMessagesUploadServer -> upload -> save -> messages.send attachment).

Real parts: the app with its VK connector in Callback mode, the VK fake, a file host fake,
real Redis, the desk over HTTP with a logged-in operator.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from desk_client import EXAMPLES, HANDED, add_operator, desk_app, login, page_csrf, store_of

from tests.fakes import vk_wire
from tests.fakes.media import LOCAL, PDF, PNG, FakeMedia
from tests.fakes.vk import FakeVk

SECRET = "vk-files-secret"
USER = 7301
DAMAGE = """
flow: damage
triggers: [{text: [повреждение]}]
steps:
  photo:
    ask: Пришлите фото повреждения.
    input: photo
    unreadable: Нужна именно фотография.
    save: damage_photo
  done:
    say: "Спасибо, фото получили."
"""


@pytest.fixture
async def vk() -> AsyncIterator[FakeVk]:
    async with FakeVk() as fake:
        yield fake


async def _until(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + 10
    while not (found := check()):
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)
    return found


async def test_photos_and_documents_both_ways_over_vk(
    redis_url: str, bot_prefix: str, tmp_path: Path, vk: FakeVk,
) -> None:
    flows = tmp_path / "flows"
    shutil.copytree(EXAMPLES, flows)
    (flows / "damage.yaml").write_text(DAMAGE, encoding="utf-8")
    async with FakeMedia() as media, desk_app(
        redis_url, bot_prefix, tmp_path, flows=flows, vk_token=vk.token,
        vk_group_id=vk.group_id, vk_mode="callback", vk_secret=SECRET,
        vk_confirmation="c0nfirm", vk_api_url=vk.api_url,
        files_allow=LOCAL,  # the file-host fake is on 127.0.0.1 (test-only setting)
    ) as (app, client):
        await add_operator(app, "Ольга")
        url = str(client.make_url("/vk/callback"))

        async def says(text: str, expect: str, **kw: Any) -> None:
            before = len(vk.sent)
            answers = await vk.push_callback(url, vk.message_new(USER, text, **kw),
                                             secret=SECRET)
            assert answers[-1] == (200, "ok")
            await _until(lambda: any(expect in m.message for m in vk.sent[before:]), expect)

        await says("повреждение", "Пришлите фото повреждения.")
        await says("вот", "Нужна именно фотография.")
        await says("", "Спасибо, фото получили.",
                   attachments=[vk_wire.photo(USER, media.put(PNG))])
        store = store_of(app)
        customer = await store.identities.customer_of(f"vk:{USER}")
        assert customer is not None
        state, _ = await store.states.load(customer)
        assert state is not None
        photo_id = state.vars["damage_photo"]
        assert isinstance(photo_id, str)

        async def copied() -> bool:
            return await store.files.get(customer, photo_id) is not None

        deadline = time.monotonic() + 10
        while not await copied():
            assert time.monotonic() < deadline, "the customer's photo was not kept"
            await asyncio.sleep(0.05)

        await says("меню", "Чем могу помочь?")
        await says("Позвать администратора", HANDED)
        await login(client, "Ольга")
        token = await page_csrf(client, f"/desk/c/{customer}")
        await client.post(f"/desk/c/{customer}/claim", data={"csrf": token})
        for data, name, caption in ((PNG, "схема.png", "Вот схема"),
                                    (PDF, "смета.pdf", "")):
            form = aiohttp.FormData()
            form.add_field("csrf", token)
            form.add_field("text", caption)
            form.add_field("file", io.BytesIO(data), filename=name)
            sent = await client.post(f"/desk/c/{customer}/file", data=form,
                                     allow_redirects=False)
            assert sent.headers["Location"] == f"/desk/c/{customer}", sent.headers["Location"]

        await _until(lambda: len([m for m in vk.sent if "attachment" in m.params]) >= 2,
                     "the document was not sent")
        photo_msg, doc_msg = [m for m in vk.sent if "attachment" in m.params]
        assert photo_msg.params["attachment"].startswith(f"photo-{vk.group_id}_")
        assert photo_msg.message == "Ольга: Вот схема"  # signed, as every operator message
        assert vk.uploads.saved[photo_msg.params["attachment"]] == (PNG, "схема.png")
        assert doc_msg.params["attachment"].startswith(f"doc-{vk.group_id}_")
        assert vk.uploads.saved[doc_msg.params["attachment"]] == (PDF, "смета.pdf")
        assert "/files/" not in doc_msg.message  # VK got the file itself, not a link
        calls = [c.method for c in vk.calls]
        for method in ("photos.getMessagesUploadServer", "photos.saveMessagesPhoto",
                       "docs.getMessagesUploadServer", "docs.save"):
            assert method in calls

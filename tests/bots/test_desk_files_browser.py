"""In a real Chromium: the desk shows what a MAX customer sent in the conversation — the
photo inline (loaded: its pixels arrived), the document as a link with its name and size,
the voice message as an <audio> player whose source plays from the desk; a "photo" whose
bytes are not an image has no copy and says so."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from desk_browser import BROWSER_MARKS, browser_fixture, serve  # noqa: F401
from desk_client import PASSWORD, add_operator, store_of
from playwright.async_api import Browser, expect

from tests.fakes import max_wire as w
from tests.fakes.max import MaxFake, max_fake_fixture  # noqa: F401 - provides max_fake
from tests.fakes.media import LOCAL, MP3, PDF, PNG, FakeMedia

pytestmark = BROWSER_MARKS


async def test_the_desk_shows_photo_document_and_voice(
    redis_url: str, bot_prefix: str, tmp_path: Path, max_fake: MaxFake, browser: Browser,
) -> None:
    async with FakeMedia() as media, serve(
        redis_url, bot_prefix, tmp_path, max_token=max_fake.token,
        max_mode="polling", max_api_url=max_fake.url,
        files_allow=LOCAL,  # the file-host fake is on 127.0.0.1 (test-only setting)
    ) as (app, _client, url):
        await add_operator(app, "Ольга")
        estimate = PDF + b" " * (48213 - len(PDF))  # 47 KB, as the desk writes it
        max_fake.enqueue(w.message_created(91, "вот повреждение", attachments=[
            w.image(media.put(PNG)), w.file(media.put(estimate), filename="смета.pdf",
                                            size=len(estimate)),
            w.audio(media.put(MP3)), w.image(media.put(PDF), token="not-an-image")]))
        store = store_of(app)
        deadline = time.monotonic() + 10
        while (customer := await store.identities.customer_of("max:91")) is None or len(
                await store.files.listing(customer)) < 3:
            assert time.monotonic() < deadline, "the copies were not kept"
            await asyncio.sleep(0.05)

        page = await (await browser.new_context(viewport={"width": 390, "height": 844})
                      ).new_page()
        await page.goto(f"{url}/desk/")
        await page.get_by_label("Имя").fill("Ольга")
        await page.get_by_label("Пароль").fill(PASSWORD)
        await page.get_by_role("button", name="Войти").click()
        await page.goto(f"{url}/desk/c/{customer}")

        thread = page.get_by_role("region", name="Переписка")
        photo = thread.get_by_role("img", name="Фото от клиента")
        await expect(photo).to_have_count(1)
        await expect(photo).to_be_visible()
        assert await photo.evaluate("img => img.complete && img.naturalWidth > 0")
        doc = thread.get_by_role("link", name="смета.pdf")
        await expect(doc).to_be_visible()
        await expect(thread.locator(".files .size")).to_have_text("47 КБ")
        voice = thread.locator("audio[controls]")
        await expect(voice).to_have_count(1)
        source = await voice.get_attribute("src")
        assert source is not None
        played = await page.evaluate(
            "async src => { const r = await fetch(src); return [r.status, "
            "r.headers.get('content-type'), (await r.arrayBuffer()).byteLength]; }", source)
        assert played == [200, "audio/mpeg", len(MP3)]
        await expect(thread.locator(".files .missing")).to_have_text("Фото: копии нет")

        outsider = await (await browser.new_context()).new_page()  # no session: no file
        response = await outsider.goto(f"{url}{source}")
        assert response is not None
        assert outsider.url.endswith("/desk/login")

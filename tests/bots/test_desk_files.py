"""Files a MAX customer sends are kept and shown only to the desk's people (issue 15,
"Pictures, documents and voice"): the copies under the data folder, by content type, within a
size cap and a timeout; served by id to a logged-in operator; listed by ``svyaz export`` and
deleted by ``svyaz forget``; every opening is in the audit log (by customer id only).

Real parts: the app with its real MAX connector polling the MAX fake, a file-host fake serving
the bytes, real Redis; the CLI runs beside the bot on the same embedded Redis.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from desk_client import add_operator, desk_app, login, store_of

from bots.cli import main
from bots.filecopy import FileCopier
from bots.remote import parse_networks
from flows.types import Attachment
from storage.files import StoredFile
from tests.fakes import max_wire as w
from tests.fakes.max import MaxFake, max_fake_fixture  # noqa: F401 - provides max_fake
from tests.fakes.media import LOCAL, MP3, PDF, PNG, FakeMedia


@pytest.fixture
async def media() -> AsyncIterator[FakeMedia]:
    async with FakeMedia() as fake:
        yield fake


async def _until(check: Callable[[], Coroutine[Any, Any, bool]], what: str) -> None:
    deadline = time.monotonic() + 10
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def _kept(app: Any, customer: str, count: int) -> list[StoredFile]:
    files = store_of(app).files

    async def enough() -> bool:
        return len(await files.listing(customer)) >= count

    await _until(enough, f"{count} copies were not kept")
    return await files.listing(customer)


async def test_max_files_are_kept_and_served_to_operators_only(
    redis_url: str, bot_prefix: str, tmp_path: Path, max_fake: MaxFake, media: FakeMedia,
) -> None:
    async with desk_app(redis_url, bot_prefix, tmp_path, max_token=max_fake.token,
                        max_mode="polling", max_api_url=max_fake.url,
                        files_allow=LOCAL) as (app, client):
        await add_operator(app, "Ольга")
        max_fake.enqueue(w.message_created(77, "вот фото", attachments=[
            w.image(media.put(PNG)), w.file(media.put(PDF), filename="смета.pdf"),
            w.audio(media.put(MP3))]))
        store = store_of(app)

        async def known() -> bool:
            return await store.identities.customer_of("max:77") is not None

        await _until(known, "the MAX customer never arrived")
        customer = await store.identities.customer_of("max:77")
        assert customer is not None
        photo, doc, voice = _by_kind(await _kept(app, customer, 3))
        assert (photo.mime, doc.mime, voice.mime) == ("image/png", "application/pdf",
                                                       "audio/mpeg")
        assert store.files.path(photo.id).read_bytes() == PNG
        assert store.files.path(photo.id).is_relative_to(tmp_path / "data" / "files")
        (entry,) = [e for e in await store.history.read(customer) if e.attachments]
        assert entry.text == "вот фото"
        assert [a.ref for a in entry.attachments] == ["img-token-1", "file-token-1",
                                                      "audio-token-1"]

        url = f"/desk/f/{customer}/{photo.id}"
        anonymous = await client.get(url, allow_redirects=False)
        assert anonymous.status == 303  # to the login page, no bytes
        await login(client, "Ольга")
        shown = await client.get(url)
        assert shown.status == 200
        assert shown.content_type == "image/png"
        assert await shown.read() == PNG
        got = await client.get(f"/desk/f/{customer}/{doc.id}")
        assert got.content_type == "application/octet-stream"  # never rendered in the desk
        assert got.headers["Content-Disposition"].startswith("attachment;")
        assert (await client.get(f"/desk/f/{customer}/{voice.id}")).content_type == "audio/mpeg"
        for bad in (f"/desk/f/nobody12345678/{photo.id}", f"/desk/f/{customer}/..%2F..%2Fx",
                    f"/desk/f/{customer}/{'0' * 24}"):
            assert (await client.get(bad)).status == 404, bad
        # Opening a customer's files is audited like their card: once per look, by id only.
        looks = [(r.operator, r.action, r.customer) for r in await store.desk.audit.latest()]
        assert looks == [("Ольга", "file", customer)]


def _by_kind(files: list[StoredFile]) -> tuple[StoredFile, StoredFile, StoredFile]:
    kinds = {f.kind: f for f in files}
    return kinds["photo"], kinds["file"], kinds["voice"]


def _attachment(url: str, kind: str = "photo", size: int | None = None) -> Attachment:
    return Attachment(id="ab" * 12, kind=kind, ref="r", url=url, size=size)  # type: ignore[arg-type]


@pytest.fixture
async def copier(redis_url: str, bot_prefix: str, tmp_path: Path,
                 ) -> AsyncIterator[tuple[FileCopier, Any]]:
    from storage.store import Store

    store = Store.from_url(redis_url, bot=bot_prefix, files_dir=tmp_path / "files")
    copier = FileCopier(store.files, allow=parse_networks(LOCAL), limit=256 * 1024, timeout=1.0)
    yield copier, store
    await copier.close()
    await store.close()


async def test_what_is_not_what_it_claims_or_too_big_or_slow_is_not_kept(
    copier: tuple[FileCopier, Any], media: FakeMedia,
) -> None:
    files, store = copier
    media.endless.add("big")
    media.slow.add("slow")
    media.files["slow"], media.types["slow"] = PNG, "image/png"
    refused = [
        _attachment(media.put(PDF)),  # a "photo" that is a PDF
        _attachment(media.put(PNG), kind="voice"),  # a "voice message" that is a picture
        _attachment(f"{media.url}/f/big"),  # never ends: cut at the cap
        _attachment(media.put(PNG), size=10**9),  # announced too big: not even fetched
        _attachment(f"{media.url}/f/slow"),  # too slow
        _attachment(f"{media.url}/f/missing"),  # 404
        _attachment("file:///etc/passwd"),  # not a web address
    ]
    for attachment in refused:
        assert await files.copy("c-refused-1234", attachment) is None, attachment
    assert await store.files.listing("c-refused-1234") == []
    kept = await files.copy("c-refused-1234", _attachment(media.put(PNG)))
    assert kept is not None
    assert kept.mime == "image/png"


async def test_export_lists_and_forget_deletes_the_copies(
    bot_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, max_fake: MaxFake,
    media: FakeMedia, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SVYAZ_REDIS_URL", raising=False)
    monkeypatch.setenv("SVYAZ_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SVYAZ_BOT", bot_prefix)
    async with desk_app(None, bot_prefix, tmp_path, max_token=max_fake.token,  # type: ignore[arg-type]
                        max_mode="polling", max_api_url=max_fake.url,
                        files_allow=LOCAL) as (app, _client):
        max_fake.enqueue(w.message_created(78, None, attachments=[
            w.image(media.put(PNG), token="t-forget")]))
        store = store_of(app)

        async def known() -> bool:
            return await store.identities.customer_of("max:78") is not None

        await _until(known, "the MAX customer never arrived")
        customer = await store.identities.customer_of("max:78")
        assert customer is not None
        (kept,) = await _kept(app, customer, 1)
        path = store.files.path(kept.id)
        assert path.is_file()
        assert await asyncio.to_thread(main, ["export", "--customer", customer]) == 0
        out = capsys.readouterr()
        assert kept.id in out.out  # the message's attachment, with its id
        assert str(path) in out.err  # and the copy, listed
        assert await asyncio.to_thread(main, ["forget", "--yes", "--", customer]) == 0
        assert not path.exists()
        assert await store.files.listing(customer) == []

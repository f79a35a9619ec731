"""Copies of customers' files survive a crash (issue 15, "Pictures, documents and voice"): each
copy is marked pending in Redis before its download, and the sweep of any process (at start-up
and every minute) makes what a stopped process left; a URL that keeps failing ends as "no
copy" with the reason after ``tries`` sweeps; ``svyaz forget`` removes the pending marks too;
``svyaz export`` (JSONL, CSV) and the desk's export list each message's files and their copies.

Real parts: the app with its MAX connector polling the MAX fake, the file-host fake, real Redis.
"""

from __future__ import annotations

import asyncio
import csv
import json
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from desk_client import add_operator, desk_app, login, store_of

from bots.app import EDGE
from bots.cli import main
from bots.events import dedupe_key
from bots.filecopy import FileCopier
from bots.remote import parse_networks
from flows.types import Attachment, AttachmentEvent, Inbound
from storage.files import PendingFile
from storage.history import HistoryEntry
from storage.keys import Keys
from storage.store import Store
from tests.fakes import max_wire as w
from tests.fakes.max import MaxFake, max_fake_fixture  # noqa: F401 - provides max_fake
from tests.fakes.media import LOCAL, PNG, FakeMedia


async def _until(check: Callable[[], Coroutine[Any, Any, bool]], what: str) -> None:
    deadline = time.monotonic() + 15
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def test_a_copy_a_stopped_process_left_is_made_by_the_next_ones_sweep(
    redis_url: str, bot_prefix: str, tmp_path: Path, max_fake: MaxFake,
) -> None:
    settings = {"max_token": max_fake.token, "max_mode": "polling",
                "max_api_url": max_fake.url, "files_allow": LOCAL}
    async with FakeMedia() as media:
        url = media.put(PNG, name="held")
        media.slow.add("held")  # the first process stops while this download hangs
        async with desk_app(redis_url, bot_prefix, tmp_path, **settings) as (app, _client):
            max_fake.enqueue(w.message_created(81, "фото", attachments=[w.image(url)]))
            store = store_of(app)

            async def started() -> bool:
                return "held" in media.downloads

            await _until(started, "the first process never started the download")
            customer = await store.identities.customer_of("max:81")
            assert customer is not None
        media.slow.discard("held")
        witness = Store.from_url(redis_url, bot=bot_prefix)
        try:
            (pending,) = await witness.files.pending(customer)  # left by the stopped process
            assert await witness.files.waiting() == [customer]
        finally:
            await witness.close()
        async with desk_app(redis_url, bot_prefix, tmp_path, **settings) as (app, _client):
            files = store_of(app).files

            async def kept() -> bool:
                return bool(await files.listing(customer))

            await _until(kept, "the next process's sweep never made the copy")
            (copy,) = await files.listing(customer)
            assert copy.id == pending.attachment.id
            assert files.path(copy.id).read_bytes() == PNG
            assert await files.pending(customer) == []


async def test_a_message_accepted_just_before_a_crash_still_gets_its_copy(
    redis_url: str, bot_prefix: str, tmp_path: Path, max_fake: MaxFake,
) -> None:
    """The process died between accepting the message and marking its copy: the message waits
    in the inbox; the next process's turn marks it, and its sweep makes it."""
    async with FakeMedia() as media:
        photo = Attachment(id="9a" * 12, kind="photo", ref="r", url=media.put(PNG))
        inbound = Inbound(channel="max", user_id="84", event_id="m-84",
                          event=AttachmentEvent(attachments=(photo,)))
        before = Store.from_url(redis_url, bot=bot_prefix)
        try:
            customer = await before.intake.accept(dedupe_key(inbound), inbound)
            assert customer is not None
            assert await before.files.waiting() == []  # not marked: "crashed" here
        finally:
            await before.close()
        async with desk_app(redis_url, bot_prefix, tmp_path, max_token=max_fake.token,
                            max_mode="polling", max_api_url=max_fake.url,
                            files_allow=LOCAL) as (app, _client):
            parts = app[EDGE].parts

            async def recorded() -> bool:
                return any(e.attachments for e in await parts.store.history.read(customer))

            await _until(recorded, "the next process never ran the message")
            await parts.copies.sweep()
            (copy,) = await parts.store.files.listing(customer)
            assert copy.id == photo.id
            assert parts.store.files.path(copy.id).read_bytes() == PNG


async def test_an_expired_url_ends_as_no_copy_after_the_tries(
    redis_url: str, bot_prefix: str, tmp_path: Path,
) -> None:
    store = Store.from_url(redis_url, bot=bot_prefix, files_dir=tmp_path / "files")
    copier = FileCopier(store.files, allow=parse_networks(LOCAL), tries=3, timeout=5.0)
    try:
        async with FakeMedia() as media:
            gone = Attachment(id="cd" * 12, kind="photo", ref="r", url=f"{media.url}/f/expired")
            await store.files.mark("c-expired-123", [gone])
            for _ in range(2):
                await copier.sweep()
                assert (await store.files.outcomes("c-expired-123"))[gone.id] == "pending"
            await copier.sweep()
            assert media.downloads == ["expired"] * 3
        outcome = (await store.files.outcomes("c-expired-123"))[gone.id]
        assert outcome == "no copy: download failed (ClientResponseError)"
        assert await store.files.waiting() == []  # settled: nothing left to do
        await copier.sweep()  # and never tried again
        assert await store.files.listing("c-expired-123") == []
    finally:
        await copier.close()
        await store.close()


async def test_forget_removes_pending_marks(
    redis_url: str, bot_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SVYAZ_REDIS_URL", redis_url)
    monkeypatch.setenv("SVYAZ_BOT", bot_prefix)
    monkeypatch.setenv("SVYAZ_DATA_DIR", str(tmp_path / "data"))
    store = Store.from_url(redis_url, bot=bot_prefix)
    try:
        customer = await store.identities.resolve("max:82", name="Ира")
        photo = Attachment(id="ef" * 12, kind="photo", ref="r", url="https://example.invalid/p")
        await store.files.mark(customer, [photo])
        assert await store.files.waiting() == [customer]
        assert await asyncio.to_thread(main, ["forget", "--yes", "--", customer]) == 0
        assert await store.files.waiting() == []
        assert await store.files.outcomes(customer) == {}
        keys = Keys(bot_prefix)
        assert not await store.redis.exists(keys.files(customer))
    finally:
        await store.close()


async def test_exports_list_each_messages_files_and_whether_a_copy_is_kept(
    redis_url: str, bot_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SVYAZ_REDIS_URL", redis_url)
    monkeypatch.setenv("SVYAZ_BOT", bot_prefix)
    monkeypatch.setenv("SVYAZ_DATA_DIR", str(tmp_path / "data"))
    async with desk_app(redis_url, bot_prefix, tmp_path) as (app, client):
        store = store_of(app)
        customer = await store.identities.resolve("max:83", name="Ира")
        kept = Attachment(id="a1" * 12, kind="photo", ref="r1", name="двор.png", size=len(PNG))
        waiting = Attachment(id="b2" * 12, kind="voice", ref="r2", url="https://example.invalid/v")
        lost = Attachment(id="c3" * 12, kind="file", ref="r3", name="смета.pdf", size=900)
        await store.files.keep(customer, kept, PNG, "image/png")
        await store.files.mark(customer, [waiting, lost])
        await store.files.failed(customer, PendingFile(lost), "download failed "
                                 "(ClientResponseError)", final=True)
        await store.history.append(customer, HistoryEntry(
            ts=time.time(), channel="max", direction="in", text="вот",
            attachments=(kept, waiting, lost)))
        expected = [(kept.id, "photo", "двор.png", len(PNG), True, "kept"),
                    (waiting.id, "voice", None, None, False, "pending"),
                    (lost.id, "file", "смета.pdf", 900, False,
                     "no copy: download failed (ClientResponseError)")]

        assert await asyncio.to_thread(main, ["export", "--customer", customer]) == 0
        (line,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
        assert _files(line) == expected

        out = tmp_path / "all.csv"
        assert await asyncio.to_thread(main, ["export", "--out", str(out)]) == 0
        rows = csv.DictReader(out.read_text(encoding="utf-8").splitlines())
        (row,) = [r for r in rows if r["customer"] == customer]
        assert row["attachments"] == (
            f"photo:{kept.id} name=двор.png bytes={len(PNG)} copy=kept | "
            f"voice:{waiting.id} name=- bytes=- copy=pending | "
            f"file:{lost.id} name=смета.pdf bytes=900 copy=no copy: download failed "
            "(ClientResponseError)")

        await add_operator(app, "Ольга", "owner")
        await login(client, "Ольга")
        desk = await (await client.get(f"/desk/c/{customer}/export")).json()
        (message,) = [m for m in desk["messages"] if m.get("attachments")]
        assert _files(message) == expected


def _files(record: dict[str, Any]) -> list[tuple[object, ...]]:
    return [(f["id"], f["kind"], f.get("name"), f.get("size"), f["kept"], f["copy"])
            for f in record["attachments"]]

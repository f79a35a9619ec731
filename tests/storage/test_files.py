"""storage.files: copies of what customers sent, on disk by svyaz's id only, indexed per
customer; erasure deletes them, a merge moves the index, a path never comes from outside."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.types import Attachment
from storage.files import Files, valid_id
from storage.merge import Merger
from storage.store import Store


def _photo(file_id: str = "0123456789abcdef01234567", name: str | None = "../../etc/x.png",
           ) -> Attachment:
    return Attachment(id=file_id, kind="photo", ref="photo1_2_k", url="http://h/p", name=name)


@pytest.fixture
def files(store: Store, tmp_path: Path) -> Files:
    store.files = Files(store.redis, store.keys, folder=tmp_path / "files")
    return store.files


async def test_keep_get_list_and_erase(store: Store, files: Files, tmp_path: Path) -> None:
    customer = await store.identities.resolve("vk:1")
    kept = await files.keep(customer, _photo(), b"\x89PNG...", "image/png")
    path = files.path(kept.id)
    assert path == tmp_path / "files" / "01" / kept.id  # the id, never the customer's name
    assert path.read_bytes() == b"\x89PNG..."
    assert await files.get(customer, kept.id) == kept
    assert kept.name == "../../etc/x.png"  # kept only as text to show
    assert await files.listing(customer) == [kept]
    other = await store.identities.resolve("vk:2")
    assert await files.get(other, kept.id) is None  # only through its customer
    assert await files.erase(customer) == 1
    assert not path.exists()
    assert await files.listing(customer) == []


async def test_forget_deletes_the_copies(store: Store, files: Files) -> None:
    customer = await store.identities.resolve("max:5")
    kept = await files.keep(customer, _photo(), b"data", "image/png")
    await store.forget(customer)
    assert not files.path(kept.id).exists()
    assert await store.redis.exists(store.keys.files(customer)) == 0


async def test_a_merge_moves_the_index(store: Store, files: Files) -> None:
    keep = await store.identities.resolve("vk:10")
    other = await store.identities.resolve("max:10")
    kept = await files.keep(other, _photo(), b"data", "image/png")
    merger = Merger(store.redis, store.keys, accounts=store.identities, history=store.history,
                    profiles=store.profiles, reminders=store.reminders, inbox=store.inbox)
    await merger.merge(keep, other)
    assert await files.get(keep, kept.id) == kept


@pytest.mark.parametrize("bad", ["../../etc/passwd", "0123", "ABCDEF0123456789ABCD",
                                 "0123456789abcdef/0123", "", "0123456789abcdeg0123"])
def test_only_svyaz_ids_become_paths(bad: str, tmp_path: Path) -> None:
    assert not valid_id(bad)
    with pytest.raises(ValueError, match="not a file id"):
        Files(None, None, folder=tmp_path).path(bad)  # type: ignore[arg-type]

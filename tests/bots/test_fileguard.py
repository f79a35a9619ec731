"""The file copier is never pointed at this host or its network (issue 15, "Pictures,
documents and voice"): a platform update's URL to a loopback, private, link-local, multicast or
reserved address — as a literal, as a name resolving there, or behind a redirect — is refused
before any connection; only ``SVYAZ_FILES_ALLOW`` (tests only) lets a network through.

Real parts: the copier's own session against the file-host fake on 127.0.0.1, real Redis.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.config import Settings
from bots.filecopy import FileCopier, NotKept
from bots.fileguard import GuardedResolver, Refused, permitted
from bots.remote import parse_networks
from flows.types import Attachment
from storage.store import Store
from tests.fakes.media import LOCAL, PNG, FakeMedia


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::",
    "fe80::1", "fc00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "not-an-address",
])
def test_addresses_that_are_not_public_are_refused(address: str) -> None:
    assert not permitted(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "87.250.250.242", "2a00:1450:4010::64"])
def test_public_addresses_are_permitted(address: str) -> None:
    assert permitted(address)


def test_the_allow_list_lets_only_its_networks_through() -> None:
    allow = parse_networks(LOCAL)
    assert permitted("127.0.0.1", allow)
    assert not permitted("127.0.0.2", allow)
    assert not permitted("10.0.0.1", allow)


def test_the_setting_reads_comma_separated_networks() -> None:
    settings = Settings(_env_file=None, files_allow="127.0.0.1/32, ::1")  # type: ignore[call-arg]
    assert [str(n) for n in settings.files_allowed] == ["127.0.0.1/32", "::1/128"]
    assert Settings(_env_file=None).files_allowed == ()  # type: ignore[call-arg]


async def test_the_resolver_refuses_a_name_that_resolves_to_loopback() -> None:
    resolver = GuardedResolver()
    try:
        with pytest.raises(Refused):
            await resolver.resolve("localhost", 80)
    finally:
        await resolver.close()
    allowed = GuardedResolver(parse_networks(("127.0.0.0/8", "::1")))
    try:
        assert {r["host"] for r in await allowed.resolve("localhost", 80)} <= {"127.0.0.1", "::1"}
    finally:
        await allowed.close()


@pytest.fixture
async def store(redis_url: str, bot_prefix: str, tmp_path: Path) -> AsyncIterator[Store]:
    store = Store.from_url(redis_url, bot=bot_prefix, files_dir=tmp_path / "files")
    yield store
    await store.close()


def _photo(url: str) -> Attachment:
    return Attachment(id="ab" * 12, kind="photo", ref="r", url=url)


async def test_the_copier_refuses_private_addresses_without_connecting(
    store: Store, tmp_path: Path,
) -> None:
    copier = FileCopier(store.files)  # as in production: no allow-list
    try:
        async with FakeMedia() as media:
            port = media.url.rsplit(":", 1)[1]
            media.put(PNG, name="p")
            for url in (f"{media.url}/f/p", f"http://localhost:{port}/f/p",
                        f"http://[::ffff:127.0.0.1]:{port}/f/p", f"http://[::1]:{port}/f/p"):
                assert await copier.fetch(_photo(url)) == NotKept("address refused"), url
            assert media.downloads == []  # no request ever reached the host
            assert await copier.copy("c-ssrf-12345", _photo(f"{media.url}/f/p")) is None
        assert await store.files.listing("c-ssrf-12345") == []
        assert not any((tmp_path / "files").rglob("*"))
    finally:
        await copier.close()


async def test_a_redirect_to_a_refused_address_is_not_followed(store: Store) -> None:
    copier = FileCopier(store.files, allow=parse_networks(LOCAL))
    try:
        async with FakeMedia() as media:
            port = media.url.rsplit(":", 1)[1]
            target = media.put(PNG, name="inside")
            media.redirects["hop"] = f"http://[::1]:{port}/f/inside"
            media.redirects["ok"] = target  # a redirect to a permitted address is followed
            assert await copier.fetch(_photo(f"{media.url}/f/hop")) == NotKept("address refused")
            assert media.downloads == ["hop"]
            assert await copier.fetch(_photo(f"{media.url}/f/ok")) == (PNG, "image/png")
            assert media.downloads == ["hop", "ok", "inside"]
    finally:
        await copier.close()

"""bots.remote: the customer's address behind a trusted reverse proxy, and only behind one."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from test_app import ORIGIN, make_settings

from bots.app import build_app
from bots.config import problems
from bots.remote import client_address, parse_networks

PROXIES = parse_networks(["127.0.0.1", "10.0.0.0/8"])


@pytest.mark.parametrize(("peer", "header", "expected"), [
    ("127.0.0.1", "203.0.113.7", "203.0.113.7"),  # nginx on the host
    ("127.0.0.1", "198.51.100.1, 203.0.113.7", "203.0.113.7"),  # the left one is the client's say
    ("127.0.0.1", "203.0.113.7, 10.1.2.3", "203.0.113.7"),  # through two proxies of ours
    ("127.0.0.1", "10.1.2.3", "127.0.0.1"),  # started at a proxy of ours
    ("127.0.0.1", "not-an-ip", "127.0.0.1"),
    ("127.0.0.1", None, "127.0.0.1"),
    ("192.0.2.9", "203.0.113.7", "192.0.2.9"),  # a direct client cannot choose its address
    (None, "203.0.113.7", None),
])
def test_client_address(peer: str | None, header: str | None, expected: str | None) -> None:
    assert client_address(peer, header, PROXIES) == expected


def test_a_bad_proxy_entry_is_named(tmp_path: Path) -> None:
    settings = make_settings(None, "b", tmp_path, trusted_proxies="127.0.0.1, nginx")
    said = [str(problem) for problem in problems(settings)]
    assert any("SVYAZ_TRUSTED_PROXIES" in p and "'nginx'" in p for p in said)


async def _sockets(client: TestClient, addresses: list[str]) -> list[str]:
    """What the web chat answers to a hello from each address (via X-Forwarded-For)."""
    answers, held = [], []
    for address in addresses:
        ws = await client.ws_connect(
            "/chat/ws", headers={"Origin": ORIGIN, "X-Forwarded-For": address})
        held.append(ws)
        await ws.send_json({"type": "hello", "session": None})
        frame = await ws.receive_json(timeout=5)
        answers.append(str(frame.get("code") or frame["type"]))
    for ws in held:
        await ws.close()
    return answers


async def test_behind_a_trusted_proxy_each_customer_has_its_own_limit(
    redis_url: str, bot_prefix: str, tmp_path: Path,
) -> None:
    settings = make_settings(redis_url, bot_prefix, tmp_path, trusted_proxies="127.0.0.1",
                             webchat_max_per_ip=2)
    async with TestClient(TestServer(build_app(settings), host="127.0.0.1")) as client:
        many = [f"203.0.113.{n}" for n in range(1, 6)]
        assert await _sockets(client, many) == ["welcome"] * 5
        same = ["198.51.100.1"] * 3
        assert await _sockets(client, same) == ["welcome", "welcome", "too_many_connections"]


async def test_behind_a_trusted_proxy_a_post_with_a_body_is_answered(
    redis_url: str, bot_prefix: str, tmp_path: Path,
) -> None:
    """The customer's address is set before the body is read (a request read can no longer be
    cloned): every POST from beyond the proxy was a 500 — webhooks, the API, the desk."""
    settings = make_settings(redis_url, bot_prefix, tmp_path, trusted_proxies="127.0.0.1",
                             api_token="t0ken")
    async with TestClient(TestServer(build_app(settings), host="127.0.0.1")) as client:
        via = {"X-Forwarded-For": "203.0.113.9"}
        login = await client.post("/desk/login", data={"name": "x"}, headers=via)
        assert login.status == 403  # no login form token: refused, not broken
        api = await client.post("/api/v1/flows/start", json={"flow": "nope"},
                                headers={**via, "Authorization": "Bearer t0ken"})
        assert api.status == 422


async def test_without_trusted_proxies_the_header_is_ignored(
    redis_url: str, bot_prefix: str, tmp_path: Path,
) -> None:
    settings = make_settings(redis_url, bot_prefix, tmp_path, webchat_max_per_ip=2)
    async with TestClient(TestServer(build_app(settings), host="127.0.0.1")) as client:
        forged = ["203.0.113.1", "203.0.113.2", "203.0.113.3"]
        assert await _sockets(client, forged) == ["welcome", "welcome", "too_many_connections"]


def test_settings_read_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    monkeypatch.setenv("SVYAZ_TRUSTED_PROXIES", "127.0.0.1, ::1")
    monkeypatch.setenv("SVYAZ_WEBCHAT_MAX_PER_IP", "50")
    settings = make_settings(None, "b", tmp_path)
    assert settings.trusted_proxies == ("127.0.0.1", "::1")
    assert settings.webchat_max_per_ip == 50
    assert len(settings.proxies) == 2

"""The desk refuses: no login, a forged or expired cookie, a post without the CSRF token, an
operator reading the audit log, a disabled operator's old session, password guessing."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiohttp.web import RouteDef
from desk_client import PASSWORD, add_operator, csrf_in, desk_app, login, page_csrf, store_of
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from bots.app import EDGE, SETTINGS
from bots.config import secret_key
from bots.desk.pages import routes
from bots.desk.sessions import COOKIE, LOGIN_COOKIE, SESSION_AGE, SESSION_SALT, Sessions
from bots.desk.upload import routes as upload_routes
from flows.broadcast import BroadcastSpec
from storage.embedded import EmbeddedRedis
from storage.keys import DESK_ACCOUNT_MAX_FAILURES, DESK_ADDRESS_MAX_FAILURES


@pytest.fixture
def redis_url(embedded_redis: EmbeddedRedis) -> str:
    """The embedded Redis only, for the desk's access rules: no behaviour of a Redis server is under
    test here (tests/storage tests each on every server), and this file is among the suite's
    slowest: once, not once per server."""
    return embedded_redis.url


@pytest.fixture
async def desk(redis_url: str, bot_prefix: str, tmp_path: Path
               ) -> AsyncIterator[tuple[web.Application, TestClient]]:
    async with desk_app(redis_url, bot_prefix, tmp_path) as (app, client):
        await add_operator(app, "olga", "owner")
        await add_operator(app, "ivan")
        yield app, client


async def _customer(app: web.Application) -> str:
    return await store_of(app).identities.resolve("web:s1")


async def test_without_login_every_page_sends_to_the_login_form(
    desk: tuple[web.Application, TestClient],
) -> None:
    app, client = desk
    customer = await _customer(app)
    for path in ("/desk/", f"/desk/c/{customer}", "/desk/audit"):
        resp = await client.get(path, allow_redirects=False)
        assert (resp.status, resp.headers["Location"]) == (303, "/desk/login"), path
    assert (await client.get("/desk/live.json")).status == 401
    resp = await client.post(f"/desk/c/{customer}/claim", data={"csrf": "x"})
    assert resp.status == 401
    assert await store_of(app).desk.handoffs.holder(customer) is None


async def _refused_with(client: TestClient, cookie: str) -> int:
    client.session.cookie_jar.clear()
    resp = await client.get("/desk/", allow_redirects=False,
                            headers={"Cookie": f"{COOKIE}={cookie}"})
    return resp.status


async def test_a_forged_tampered_or_expired_cookie_is_refused(
    desk: tuple[web.Application, TestClient],
) -> None:
    app, client = desk
    assert (await login(client, "olga")).status == 303
    good = client.session.cookie_jar.filter_cookies(client.make_url("/desk/"))[COOKIE].value
    assert (await _refused_with(client, good)) == 200  # the real one works
    secret = secret_key(app[SETTINGS])
    forged = URLSafeTimedSerializer(b"not the key" * 4, salt=SESSION_SALT).dumps(["olga", 1, "t"])
    tampered = good[:-2] + ("A" if good[-2] != "A" else "B") + good[-1]

    class Past(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - SESSION_AGE - 60

    expired = URLSafeTimedSerializer(secret, salt=SESSION_SALT, signer=Past).dumps(
        ["olga", 1, "t"])
    fresh = URLSafeTimedSerializer(secret, salt=SESSION_SALT).dumps(["olga", 1, "t"])
    assert (await _refused_with(client, fresh)) == 200  # the same, signed now, passes
    refused = [await _refused_with(client, c) for c in (forged, tampered, expired, "x", "")]
    assert refused == [303] * 5


async def test_a_post_without_the_csrf_token_is_refused(
    desk: tuple[web.Application, TestClient],
) -> None:
    app, client = desk
    customer = await _customer(app)
    await login(client, "ivan")
    token = await page_csrf(client)
    statuses = [
        (await client.post(f"/desk/c/{customer}/claim", data={})).status,
        (await client.post(f"/desk/c/{customer}/claim", data={"csrf": token + "x"})).status,
        (await client.post(f"/desk/c/{customer}/claim", data={"csrf": ""})).status,
    ]
    assert statuses == [403, 403, 403]
    assert await store_of(app).desk.handoffs.holder(customer) is None
    resp = await client.post(f"/desk/c/{customer}/claim", data={"csrf": token},
                             allow_redirects=False)
    assert resp.status == 303
    assert await store_of(app).desk.handoffs.holder(customer) == "ivan"


async def test_every_form_of_the_desk_needs_the_csrf_token(
    desk: tuple[web.Application, TestClient],
) -> None:
    """Every POST route the desk has (the login's own form token is the test below), tried by
    the owner without the token and with a wrong one: all 403, none reaches its handler."""
    app, client = desk
    customer = await _customer(app)
    await login(client, "olga")
    await page_csrf(client)
    posts = [r.path for r in [*routes(), *upload_routes()]
             if isinstance(r, RouteDef) and r.method == "POST" and r.path != "/login"]
    assert len(posts) >= 7  # claim, say, release, file, logout, a broadcast, its actions
    refused = []
    for path in posts:
        url = "/desk" + path.replace("{customer}", customer).replace("{broadcast}", "b1").replace(
            "{action:pause|cancel|start}", "start")
        for form in ({"text": "x"}, {"text": "x", "csrf": "forged"}):
            resp = await client.post(url, data=form, allow_redirects=False)
            refused.append((url, resp.status))
    assert refused == [(url, 403) for url, _ in refused]
    assert await store_of(app).desk.handoffs.holder(customer) is None
    assert (await client.get("/desk/", allow_redirects=False)).status == 200  # not logged out


async def test_a_login_post_without_the_form_token_is_refused(
    desk: tuple[web.Application, TestClient],
) -> None:
    _, client = desk
    resp = await client.post("/desk/login", data={"name": "olga", "password": PASSWORD},
                             allow_redirects=False)
    assert resp.status == 403
    assert COOKIE not in {c.key for c in client.session.cookie_jar}


async def test_only_an_owner_reads_the_audit_log(
    desk: tuple[web.Application, TestClient],
) -> None:
    app, client = desk
    customer = await _customer(app)
    await login(client, "ivan")
    assert (await client.get(f"/desk/c/{customer}")).status == 200
    assert (await client.get("/desk/audit")).status == 403
    await client.post("/desk/logout", data={"csrf": await page_csrf(client)})
    await login(client, "olga")
    resp = await client.get("/desk/audit")
    assert resp.status == 200
    html = await resp.text()
    assert "ivan" in html
    assert customer in html
    assert "открыл карточку" in html


async def test_an_operator_is_refused_every_owner_page_and_action(
    desk: tuple[web.Application, TestClient],
) -> None:
    """Only owners export, broadcast and read the audit log (erasing and managing operators
    are no desk pages: ``svyaz forget``, ``svyaz operator`` and the API's bearer token)."""
    app, client = desk
    customer = await _customer(app)
    owner = app[EDGE].parts.broadcasts
    await owner.create(BroadcastSpec(title="Декабрь", kind="service", segment="all_who_wrote",
                                     text="Салон закрыт 31 декабря."), "dec")
    await login(client, "ivan")
    token = await page_csrf(client)
    form = {"csrf": token, "title": "Моя", "kind": "service", "segment": "all_who_wrote",
            "text": "Привет", "action": "start"}
    answers = [
        (await client.get("/desk/audit")).status,
        (await client.get(f"/desk/c/{customer}/export")).status,
        (await client.get("/desk/broadcasts")).status,
        (await client.get("/desk/broadcasts/dec")).status,
        (await client.post("/desk/broadcasts", data=form, allow_redirects=False)).status,
        *[(await client.post(f"/desk/broadcasts/dec/{action}", data={"csrf": token},
                             allow_redirects=False)).status
          for action in ("start", "pause", "cancel")],
    ]
    assert answers == [403] * 8
    assert await app[EDGE].parts.store.broadcasts.ids() == ["dec"]  # none made by ivan
    assert (await app[EDGE].parts.store.broadcasts.get("dec")).status == "draft"  # untouched
    html = await (await client.get("/desk/")).text()
    assert "/desk/broadcasts" not in html
    assert "/desk/audit" not in html


async def test_cookies_are_httponly_and_lax(desk: tuple[web.Application, TestClient]) -> None:
    _, client = desk
    resp = await login(client, "olga")
    cookie = resp.cookies[COOKIE]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/desk"
    assert not cookie["secure"]  # the public address is http here


async def test_secure_cookie_when_the_public_address_is_https(
    redis_url: str, bot_prefix: str, tmp_path: Path,
) -> None:
    async with desk_app(redis_url, bot_prefix, tmp_path,
                        public_url="https://bot.example.ru") as (_, client):
        resp = await client.get("/desk/login")
        assert resp.cookies[LOGIN_COOKIE]["secure"]  # (so this http client cannot log in)


def test_the_session_cookie_is_secure_when_the_public_address_is_https() -> None:
    response = web.Response()
    Sessions(b"k" * 32, secure=True).start(response, "olga", 1)
    cookie = response.cookies[COOKIE]
    assert (cookie["secure"], cookie["httponly"], cookie["samesite"]) == (True, True, "Lax")
    response = web.Response()
    Sessions(b"k" * 32, secure=False).start(response, "olga", 1)
    assert not response.cookies[COOKIE]["secure"]


async def test_a_disabled_operator_s_session_ends(
    desk: tuple[web.Application, TestClient],
) -> None:
    app, client = desk
    await login(client, "ivan")
    assert (await client.get("/desk/", allow_redirects=False)).status == 200
    await store_of(app).desk.operators.set_disabled("ivan", True)
    assert (await client.get("/desk/", allow_redirects=False)).status == 303
    await store_of(app).desk.operators.set_disabled("ivan", False)  # a new generation:
    assert (await client.get("/desk/", allow_redirects=False)).status == 303  # still ended
    assert (await login(client, "ivan")).status == 303


async def test_password_guessing_is_refused_even_with_the_right_password_at_the_end(
    desk: tuple[web.Application, TestClient],
) -> None:
    _, client = desk
    guesses = [f"guess-{n:04d}" for n in range(30)]
    statuses = [(await login(client, "olga", guess)).status for guess in guesses]
    assert statuses.count(401) == DESK_ACCOUNT_MAX_FAILURES
    assert statuses.count(429) == len(guesses) - DESK_ACCOUNT_MAX_FAILURES
    assert (await login(client, "olga")).status == 429  # locked: the right one too
    assert COOKIE not in {c.key for c in client.session.cookie_jar}
    assert (await login(client, "ivan")).status == 303  # another name, same address


async def test_guessing_many_names_from_one_address_is_refused(
    desk: tuple[web.Application, TestClient],
) -> None:
    _, client = desk
    statuses = [(await login(client, f"user{n}", "guess")).status for n in range(25)]
    assert statuses.count(401) == DESK_ADDRESS_MAX_FAILURES
    assert statuses.count(429) == 25 - DESK_ADDRESS_MAX_FAILURES
    assert (await login(client, "ivan")).status == 429


async def _login_from(client: TestClient, address: str, name: str, password: str) -> int:
    """A login from ``address``, as a proxy in front says it (``X-Forwarded-For``)."""
    client.session.cookie_jar.clear()
    via = {"X-Forwarded-For": address}
    page = await (await client.get("/desk/login", headers=via)).text()
    resp = await client.post("/desk/login", headers=via, allow_redirects=False, data={
        "name": name, "password": password, "csrf": csrf_in(page)})
    return resp.status


@pytest.mark.parametrize("trusted", [True, False])
async def test_the_address_limit_is_the_visitor_s_behind_a_proxy_and_cannot_be_dodged(
    redis_url: str, bot_prefix: str, tmp_path: Path, trusted: bool,
) -> None:
    """Behind a trusted proxy (SVYAZ_TRUSTED_PROXIES) each visitor's address has its own
    limit, so one guesser does not lock every operator out; without one, a forged
    ``X-Forwarded-For`` does not give a guesser fresh addresses."""
    proxies = {"trusted_proxies": "127.0.0.1"} if trusted else {}
    async with desk_app(redis_url, bot_prefix, tmp_path, **proxies) as (app, client):
        await add_operator(app, "ivan")
        guesses = [await _login_from(client, f"203.0.113.{n % 3}", f"user{n}", "guess")
                   for n in range(DESK_ADDRESS_MAX_FAILURES + 5)]
        right = await _login_from(client, "198.51.100.7", "ivan", PASSWORD)
    if trusted:  # three addresses, each under its limit; another visitor logs in
        assert (guesses.count(401), right) == (DESK_ADDRESS_MAX_FAILURES + 5, 303)
    else:  # one address (the peer's) for all: past its limit, refused
        assert guesses.count(429) == 5
        assert right == 429


async def test_pages_carry_security_headers(desk: tuple[web.Application, TestClient]) -> None:
    _, client = desk
    resp = await client.get("/desk/login")
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["Cache-Control"] == "no-store"


async def test_only_an_owner_exports_and_every_export_is_audited(
    desk: tuple[web.Application, TestClient],
) -> None:
    app, client = desk
    customer = await _customer(app)
    await login(client, "ivan")
    assert (await client.get(f"/desk/c/{customer}/export")).status == 403
    assert "Выгрузить" not in await (await client.get(f"/desk/c/{customer}")).text()
    await client.post("/desk/logout", data={"csrf": await page_csrf(client)})
    await login(client, "olga")
    resp = await client.get(f"/desk/c/{customer}/export")
    assert resp.status == 200
    assert "attachment" in resp.headers["Content-Disposition"]
    assert (await resp.json())["accounts"][0]["account"] == "web:s1"
    actions = [(r.operator, r.action) for r in await store_of(app).desk.audit.latest()]
    assert actions == [("olga", "export"), ("ivan", "card")]  # newest first; ivan's 403: none


async def test_after_logout_a_copy_of_the_cookie_is_refused(
    desk: tuple[web.Application, TestClient],
) -> None:
    _, client = desk
    await login(client, "ivan")
    copy = client.session.cookie_jar.filter_cookies(client.make_url("/desk/"))[COOKIE].value
    await client.post("/desk/logout", data={"csrf": await page_csrf(client)})
    assert (await _refused_with(client, copy)) == 303


@pytest.mark.parametrize("customer", ["nobody", "a*b", "x" * 65])
async def test_actions_on_an_unknown_or_malformed_customer_are_404(
    desk: tuple[web.Application, TestClient], customer: str,
) -> None:
    _, client = desk
    await login(client, "olga")
    token = await page_csrf(client)
    for action in ("claim", "say", "release"):
        resp = await client.post(f"/desk/c/{customer}/{action}",
                                 data={"csrf": token, "text": "x"}, allow_redirects=False)
        assert resp.status == 404, action
    for path in (f"/desk/c/{customer}", f"/desk/c/{customer}/export",
                 f"/desk/live.json?customer={customer}"):
        assert (await client.get(path)).status == 404, path

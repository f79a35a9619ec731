"""Drill: password guessing at the desk's login against a real ``svyaz run`` — every guess
refused (after the per-name limit even the right password), then guesses spread over many
names from one address refused by the per-address limit. ``SVYAZ_DRILL_SCALE`` (set by
bench/drills/security.py, default 1 here) sets the count: 100 per scale step (1,000 at 10).

Counts printed as ``name: value``."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
from drill_bot import SvyazBot

from bots.desk.passwords import hash_password
from storage.keys import DESK_ACCOUNT_MAX_FAILURES, DESK_ADDRESS_MAX_FAILURES
from storage.store import Store

SCALE = int(os.environ.get("SVYAZ_DRILL_SCALE", "1"))
GUESSES = 100 * SCALE
PASSWORD = "the-right-password-1"
CSRF = re.compile(r'name="csrf" value="([^"]*)"')

pytestmark = pytest.mark.slow


@pytest.fixture
async def store(svyaz_bot: SvyazBot) -> AsyncIterator[Store]:
    store = Store.from_url(svyaz_bot.redis_url)
    yield store
    await store.close()


async def _try(url: str, name: str, password: str) -> int:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(f"{url}/desk/login") as page:
            found = CSRF.search(await page.text())
        assert found is not None
        async with http.post(f"{url}/desk/login", allow_redirects=False, data={
                "name": name, "password": password, "csrf": found.group(1)}) as resp:
            return resp.status


async def test_password_guessing_at_the_desk(svyaz_bot: SvyazBot, store: Store) -> None:
    await store.desk.operators.add("olga", await asyncio.to_thread(hash_password, PASSWORD),
                                   "owner")
    statuses = [await _try(svyaz_bot.url, "olga", f"guess-{n}") for n in range(GUESSES)]
    right = await _try(svyaz_bot.url, "olga", PASSWORD)
    print(f"desk_guesses_refused: {GUESSES - statuses.count(303)}/{GUESSES}; "
          f"desk_guesses_checked: {statuses.count(401)}; "
          f"desk_right_password_while_locked: {right}")
    assert statuses.count(303) == 0
    assert statuses.count(401) == DESK_ACCOUNT_MAX_FAILURES  # argon2 ran 5 times, no more
    assert right == 429
    spread = [await _try(svyaz_bot.url, f"user{n}", "guess") for n in range(GUESSES)]
    print(f"desk_spread_guesses_refused: {GUESSES - spread.count(303)}/{GUESSES}; "
          f"desk_spread_guesses_checked: {spread.count(401)}")
    assert spread.count(303) == 0
    assert spread.count(401) <= DESK_ADDRESS_MAX_FAILURES

"""Helpers of the browser tests: Debian's Chromium through Playwright (``executable_path``), and
the desk app served on a free port of 127.0.0.1 (``desk_client.desk_app``) for it to open.

A test module marks itself with ``BROWSER_MARKS`` and imports the fixtures it uses, as the
fakes' fixtures are imported (the name before ``_fixture`` is the fixture's name)::

    from desk_browser import BROWSER_MARKS, browser_fixture, served_fixture  # noqa: F401

``served`` is the desk with the operator «Ольга» (password ``desk_client.PASSWORD``); a test
that needs other operators, data or settings builds its own with ``serve``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from desk_client import add_operator, desk_app
from playwright.async_api import Browser, async_playwright
from test_processes import free_port

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--autoplay-policy=no-user-gesture-required"]  # (the desk's voice player)
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium"),
]
Served = tuple[web.Application, TestClient, str]  # the app, a client of it, its address


@pytest.fixture(name="browser")
async def browser_fixture() -> AsyncIterator[Browser]:
    """A headless Chromium (Debian's), closed after the test."""
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        await chromium.close()


@asynccontextmanager
async def serve(redis_url: str, bot_prefix: str, tmp_path: Path,
                **settings: object) -> AsyncIterator[Served]:
    """The desk app on a free port, its public address that port (``settings``: more of
    ``test_app.make_settings``'s)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with desk_app(redis_url, bot_prefix, tmp_path, port=port, public_url=url,
                        **settings) as (app, client):
        yield app, client, url


@pytest.fixture(name="served")
async def served_fixture(redis_url: str, bot_prefix: str, tmp_path: Path
                         ) -> AsyncIterator[Served]:
    """The desk with one operator, «Ольга»."""
    async with serve(redis_url, bot_prefix, tmp_path) as (app, client, url):
        await add_operator(app, "Ольга")
        yield app, client, url

"""The widget's files as served: gzip, a strong ETag per encoding, 304 on a match, the size
budget, and the owner's brand written into the script."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDictProxy

from connectors.webchat.files import Brand, WidgetFiles

BUDGET = 20 * 1024  # the widget's script and style together, compressed
GZIP = {"Accept-Encoding": "gzip, deflate, br"}


async def client_for(files: WidgetFiles) -> TestClient[web.Request, web.Application]:
    app = web.Application()
    app.add_routes(files.routes())
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    c = await client_for(WidgetFiles())
    yield c
    await c.close()


async def raw_get(
    client: TestClient[web.Request, web.Application], path: str, **headers: str
) -> tuple[int, CIMultiDictProxy[str], bytes]:
    """Status, headers and the body as it crossed the wire (not decompressed)."""
    resp = await client.get(path, headers=headers, auto_decompress=False)
    return resp.status, resp.headers, await resp.read()


@pytest.mark.parametrize(("path", "kind"), [("/chat/widget.js", "text/javascript"),
                                            ("/chat/widget.css", "text/css"),
                                            ("/chat", "text/html")])
async def test_served_gzipped_with_an_etag_and_304_on_a_match(
    client: TestClient[web.Request, web.Application], path: str, kind: str
) -> None:
    status, headers, body = await raw_get(client, path, **GZIP)
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Content-Type"].startswith(kind)
    assert "Accept-Encoding" in headers["Vary"]
    plain_status, plain_headers, plain = await raw_get(client, path, **{"Accept-Encoding": ""})
    assert plain_status == 200
    assert "Content-Encoding" not in plain_headers
    assert gzip.decompress(body) == plain
    assert len(body) < len(plain)
    assert re.fullmatch(r'"[0-9a-f]{32}-gz"', headers["ETag"])
    assert plain_headers["ETag"] != headers["ETag"]  # one tag per representation
    again, again_headers, nothing = await raw_get(
        client, path, **GZIP, **{"If-None-Match": headers["ETag"]})
    assert (again, nothing) == (304, b"")
    assert again_headers["ETag"] == headers["ETag"]
    other, _, full = await raw_get(client, path, **GZIP, **{"If-None-Match": '"stale"'})
    assert (other, full) == (200, body)


async def test_the_widget_stays_under_20_kb_compressed(
    client: TestClient[web.Request, web.Application]
) -> None:
    sizes = [len((await raw_get(client, f"/chat/{name}", **GZIP))[2])
             for name in ("widget.js", "widget.css")]
    assert sum(sizes) < BUDGET, sizes


def brand_of(script: str) -> dict[str, object]:
    found = re.search(r"var CONFIG = (\{.*?\});", script)
    assert found is not None
    data = json.loads(found.group(1))
    assert isinstance(data, dict)
    return data


async def test_the_brand_is_written_into_the_script_as_data() -> None:
    brand = Brand(title="Клиника </script><b>", color="#0f766e", avatar="/logo.png",
                  greeting="Ответим за пару минут", position="left")
    client = await client_for(WidgetFiles(brand=brand))
    try:
        status, _, body = await raw_get(client, "/chat/widget.js", **{"Accept-Encoding": ""})
    finally:
        await client.close()
    assert status == 200
    script = body.decode()
    assert "Клиника </script>" not in script  # "<" escaped: safe even inlined in a page
    assert brand_of(script) == {
        "title": "Клиника </script><b>", "color": "#0f766e", "avatar": "/logo.png",
        "greeting": "Ответим за пару минут", "position": "left", "maxBytes": 4096,
    }


async def test_without_a_brand_the_widget_keeps_its_own(
    client: TestClient[web.Request, web.Application]
) -> None:
    _, _, body = await raw_get(client, "/chat/widget.js", **{"Accept-Encoding": ""})
    assert brand_of(body.decode()) == {"maxBytes": 4096}

"""An imported customer's web chat invitation (``/chat#link=T``) through ``svyaz run``'s app
and a real WebSocket: the hello with the link joins the session to the imported customer,
whose first message lands there; the same link in a second browser joins nothing."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestClient, TestServer
from test_app import ORIGIN, make_settings, next_reply

from bots import importer
from bots.app import EDGE, build_app
from bots.texts import INVITE_JOINED, LINK_EXPIRED
from storage.store import Store

CSV = """name;phone;email;consent_personal_data;consent_ads;source;tags
Анна;+7 916 123-45-67;;2024-05-01;;анкета;vip
"""


async def _hello(client: TestClient, link: str) -> aiohttp.ClientWebSocketResponse:
    ws = await client.ws_connect("/chat/ws", headers={"Origin": ORIGIN})
    await ws.send_json({"type": "hello", "session": None, "link": link})
    assert (await ws.receive_json(timeout=5))["type"] == "welcome"
    return ws


async def test_a_web_invitation_joins_on_first_contact(redis_url: str, bot_prefix: str,
                                                       tmp_path: Path) -> None:
    app = build_app(make_settings(redis_url, bot_prefix, tmp_path))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        store: Store | None = client.app[EDGE].parts.store
        assert store is not None
        [customer] = await importer.apply(store, importer.read_rows(CSV))
        token = await store.identities.invitations.issue(customer)
        ws = await _hello(client, token)
        assert await next_reply(ws) == INVITE_JOINED
        await ws.send_json({"type": "text", "text": "Добрый день", "id": "c1"})
        await next_reply(ws)
        [account] = await store.identities.accounts(customer)
        assert account.account.startswith("web:")
        history = await store.history.read(customer, count=50)
        assert any(e.direction == "in" and e.text == "Добрый день" for e in history)
        profile = await store.profiles.get(customer)
        assert (profile.name, profile.phone, profile.tags) == ("Анна", "+79161234567", ("vip",))
        second = await _hello(client, token)  # the link forwarded to another browser
        assert await next_reply(second) == LINK_EXPIRED
        assert len(await store.identities.accounts(customer)) == 1
        await ws.close()
        await second.close()

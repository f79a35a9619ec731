"""``POST /api/v1/broadcasts`` and ``GET /api/v1/broadcasts/{id}`` on a live app."""

from __future__ import annotations

from pathlib import Path

from desk_client import desk_app, store_of

TOKEN = "t0ken-for-broadcasts"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_create_start_and_watch_a_broadcast(redis_url: str, bot_prefix: str,
                                                  tmp_path: Path) -> None:
    async with desk_app(redis_url, bot_prefix, tmp_path, api_token=TOKEN) as (app, client):
        store = store_of(app)
        await store.identities.resolve("vk:5")
        await store.identities.resolve("max:6")
        body = {"id": "closed-31", "title": "31-го закрыты", "kind": "service",
                "segment": "all_who_wrote", "text": "31 декабря мы не работаем.",
                "at": "2030-12-30T10:00:00+03:00", "start": True}
        created = await client.post("/api/v1/broadcasts", json=body, headers=AUTH)
        assert created.status == 201
        assert await created.json() == {"id": "closed-31", "status": "scheduled", "queued": 2}
        again = await client.post("/api/v1/broadcasts", json=body, headers=AUTH)
        assert again.status == 409
        nowhere = await client.post("/api/v1/broadcasts", headers=AUTH,
                                    json={**body, "id": "x", "segment": "nobody"})
        assert nowhere.status == 404
        no_step = await client.post("/api/v1/broadcasts", headers=AUTH, json={
            **body, "id": "y", "converts_at": "booking.bookd"})
        assert no_step.status == 422
        assert "в сценарии 'booking' нет шага 'bookd'" in (await no_step.json())["error"]["message"]
        assert (await store.broadcasts.get("y")) is None
        no_kind = {k: v for k, v in body.items() if k != "kind"}
        assert (await client.post("/api/v1/broadcasts", json=no_kind, headers=AUTH)).status == 422
        shown = await client.get("/api/v1/broadcasts/closed-31", headers=AUTH)
        data = await shown.json()
        assert (data["status"], data["kind"], data["queued"]) == ("scheduled", "service", 2)
        assert data["numbers"] == {"vk": {"queued": 1}, "max": {"queued": 1}}
        assert (await client.get("/api/v1/broadcasts/nope", headers=AUTH)).status == 404

"""The HTTP ceiling: a MAX "bot" that keeps nothing and answers every message at once.

Not a bot anyone would ship: no Redis, no state, no checks beyond the secret header. Each
webhook delivery is parsed, answered with one ``POST /messages`` through a kept-alive aiohttp
session (the token in ``Authorization``, as maxapi sends it) and acknowledged ``{"ok": true}``.
Its reply carries every phrase the load generator waits for, so ``bench/load.py`` can drive it
through the same dialogue. What it measures is the bare cost of one message's two HTTP
exchanges on one core: no bot built on aiohttp can answer faster here, whatever its storage.

With ``--redis-url`` it is **the no-logic bot**: before answering, each message also does the
floor's Redis work (``bench/floor.py``'s turn: lock, load, save-and-unlock, one round trip
each) — the most a bot that keeps a state per customer can reach, whatever its logic.

Run: ``python bench/peers/http_ceiling.py --port P [--redis-url URL]`` with ``MAX_TOKEN``,
``MAX_API_URL`` and ``MAX_WEBHOOK_SECRET`` in the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

import aiohttp
import uvloop
from aiohttp import web
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from bench.floor import SAVE, turn  # noqa: E402

ANSWER = " / ".join([
    "Какую услугу", "К какому мастеру", "На какой день", "Свободное время",
    "персональных данных", "Как вас зовут", "номер телефона", "Проверьте", "Готово",
])
SECRET_HEADER = "X-Max-Bot-Api-Secret"


def build(token: str, api_url: str, secret: str, redis_url: str | None = None
          ) -> web.Application:
    app = web.Application()
    state: dict[str, aiohttp.ClientSession] = {}
    redis = Redis.from_url(redis_url) if redis_url else None
    save = redis.register_script(SAVE) if redis is not None else None

    async def session_ctx(_: web.Application):  # type: ignore[no-untyped-def]
        state["session"] = aiohttp.ClientSession(headers={"Authorization": token})
        yield
        await state["session"].close()
        if redis is not None:
            await redis.aclose()

    async def webhook(request: web.Request) -> web.Response:
        if request.headers.get(SECRET_HEADER) != secret:
            return web.json_response({"ok": False}, status=403)
        update = json.loads(await request.read())
        user_id = update["message"]["sender"]["user_id"]
        if redis is not None and save is not None:
            while not await turn(redis, save, user_id):
                await asyncio.sleep(0)
        async with state["session"].post(f"{api_url}/messages", params={"user_id": user_id},
                                         json={"text": ANSWER}) as resp:
            await resp.read()
        return web.Response(body=b'{"ok": true}', content_type="application/json")

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.cleanup_ctx.append(session_ctx)
    app.router.add_post("/max/webhook", webhook)
    app.router.add_get("/healthz", health)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--redis-url", help="do the floor's Redis work per message too")
    args = parser.parse_args()
    app = build(os.environ["MAX_TOKEN"], os.environ["MAX_API_URL"].rstrip("/"),
                os.environ["MAX_WEBHOOK_SECRET"], args.redis_url)
    loop = uvloop.new_event_loop() if args.loop == "uvloop" else asyncio.new_event_loop()
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None, loop=loop)


if __name__ == "__main__":
    main()

"""The HTTP ceiling: a MAX "bot" that keeps nothing and answers every message at once.

Not a bot anyone would ship: no Redis, no state, no checks beyond the secret header. Each
webhook delivery is parsed, answered with one ``POST /messages`` through a kept-alive aiohttp
session (the token in ``Authorization``, as maxapi sends it) and acknowledged ``{"ok": true}``.
Its reply carries every phrase the load generator waits for, so ``bench/load.py`` can drive it
through the same dialogue. What it measures is the bare cost of one message's two HTTP
exchanges on one core: no bot built on aiohttp can answer faster here, whatever its storage.

Run: ``python bench/peers/http_ceiling.py --port P`` with ``MAX_TOKEN``, ``MAX_API_URL`` and
``MAX_WEBHOOK_SECRET`` in the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os

import aiohttp
import uvloop
from aiohttp import web

ANSWER = " / ".join([
    "Какую услугу", "К какому мастеру", "На какой день", "Свободное время",
    "персональных данных", "Как вас зовут", "номер телефона", "Проверьте", "Готово",
])
SECRET_HEADER = "X-Max-Bot-Api-Secret"


def build(token: str, api_url: str, secret: str) -> web.Application:
    app = web.Application()
    state: dict[str, aiohttp.ClientSession] = {}

    async def session_ctx(_: web.Application):  # type: ignore[no-untyped-def]
        state["session"] = aiohttp.ClientSession(headers={"Authorization": token})
        yield
        await state["session"].close()

    async def webhook(request: web.Request) -> web.Response:
        if request.headers.get(SECRET_HEADER) != secret:
            return web.json_response({"ok": False}, status=403)
        update = json.loads(await request.read())
        user_id = update["message"]["sender"]["user_id"]
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
    args = parser.parse_args()
    app = build(os.environ["MAX_TOKEN"], os.environ["MAX_API_URL"].rstrip("/"),
                os.environ["MAX_WEBHOOK_SECRET"])
    loop = uvloop.new_event_loop() if args.loop == "uvloop" else asyncio.new_event_loop()
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None, loop=loop)


if __name__ == "__main__":
    main()

"""The desk's broadcasts (owners only): compose one (kind, segment with its dry-run counts per
channel, text, a link button, when), preview it per channel, create and start it, and watch
its numbers; pause, resume, cancel.

It must not decide who gets a broadcast nor send it (``bots.broadcasts``,
``bots.broadcast_send``); the message shown is ``flows.broadcast.reply_of``'s, as each
channel's connector renders it (``ChannelInfo.preview``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from bots.broadcasts import Broadcaster, BroadcastError
from bots.desk.gate import DESK, PREFIX, owner_only
from connectors.channel import ChannelInfo, Shown
from connectors.registry import INSTALLED
from flows.broadcast import BroadcastSpec, reply_of


def _spec(form: Mapping[str, Any], zone: Any) -> BroadcastSpec:
    """The form as a broadcast; ``ValidationError`` says what is wrong."""
    buttons = []
    if form.get("link_text") or form.get("link_url"):
        buttons.append({"text": form.get("link_text", ""), "url": form.get("link_url", "")})
    at: datetime | str | None = None
    if form.get("at"):
        try:
            at = datetime.fromisoformat(str(form["at"])).replace(tzinfo=zone)
        except ValueError:
            at = str(form["at"])  # (refused by the model, in its words)
    return BroadcastSpec.model_validate({
        "title": form.get("title", ""), "kind": form.get("kind", ""),
        "segment": form.get("segment", ""), "text": form.get("text") or None,
        "buttons": buttons, "at": at, "converts_at": form.get("converts_at") or None})


async def _page(request: web.Request, form: Mapping[str, Any], **extra: Any) -> web.Response:
    desk = request.app[DESK]
    parts = desk.edge.parts
    owner = parts.broadcasts
    listed = []
    for name in (await parts.store.broadcasts.ids())[:50]:
        record = await parts.store.broadcasts.get(name)
        if record is not None:
            listed.append((record, BroadcastSpec.model_validate_json(record.spec)))
    segments = dict(owner.segments())
    return desk.render(request, "broadcasts.html", form=form, listed=listed,
                       segments=segments, steps=owner.steps(), **extra)


def previews(owner: Broadcaster, spec: BroadcastSpec, counts: Mapping[str, int] | None
             ) -> list[tuple[ChannelInfo, int | None, tuple[Shown, ...]]]:
    """How the message looks in each channel its segment may take (the connectors' own
    rendering, ``ChannelInfo.preview``), with how many get it there (``counts``)."""
    if spec.text is None:
        return []
    reply = reply_of(spec)
    segment = owner.segments().get(spec.segment)
    allowed = segment.channels() if segment is not None else frozenset()
    return [(info, None if counts is None else counts.get(info.name, 0), info.preview(reply))
            for info in INSTALLED
            if info.preview is not None and (not allowed or info.name in allowed)]


async def broadcasts(request: web.Request) -> web.StreamResponse:
    owner_only(request)
    return await _page(request, {"kind": "ads"})


async def compose(request: web.Request) -> web.StreamResponse:
    """"Предпросмотр": the counts and the message per channel; "Запустить": create and
    start, then its page."""
    owner_only(request)
    desk = request.app[DESK]
    form = dict(await request.post())
    try:
        spec = _spec(form, desk.zone)
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc'])) or 'форма'}: {e['msg']}" for e in exc.errors()]
        return await _page(request, form, problems=problems, status=422)
    owner = desk.edge.parts.broadcasts
    try:
        owner.check(spec)
        counts = await owner.dry_run(spec)
        if form.get("action") != "start":
            return await _page(request, form, previews=previews(owner, spec, counts),
                               counts=counts, spec=spec)
        name = await owner.create(spec)
        await owner.start(name)
    except BroadcastError as exc:
        return await _page(request, form, problems=[str(exc)], status=422)
    raise web.HTTPSeeOther(f"{PREFIX}/broadcasts/{name}")


async def watch(request: web.Request) -> web.StreamResponse:
    owner_only(request)
    desk, name = request.app[DESK], request.match_info["broadcast"]
    parts = desk.edge.parts
    try:
        record = await parts.store.broadcasts.get(name)
    except ValueError:
        record = None
    if record is None:
        raise web.HTTPNotFound(text="Нет такой рассылки.")
    spec = BroadcastSpec.model_validate_json(record.spec)
    numbers = await parts.broadcasts.numbers(name)
    counters = sorted({c for per in numbers.values() for c in per})
    return desk.render(request, "broadcast.html", record=record, spec=spec, numbers=numbers,
                       counters=counters, waiting=parts.sender.waiting_until(spec),
                       segment=parts.broadcasts.segments().get(spec.segment),
                       previews=previews(parts.broadcasts, spec, None))


async def change(request: web.Request) -> web.StreamResponse:
    owner_only(request)
    desk, name = request.app[DESK], request.match_info["broadcast"]
    owner = desk.edge.parts.broadcasts
    action = request.match_info["action"]
    with contextlib.suppress(BroadcastError, ValueError):  # (the page shows where it stands)
        await {"pause": owner.pause, "cancel": owner.cancel, "start": owner.start}[action](name)
    raise web.HTTPSeeOther(f"{PREFIX}/broadcasts/{name}")


def routes() -> list[web.RouteDef]:
    return [web.get("/broadcasts", broadcasts), web.post("/broadcasts", compose),
            web.get("/broadcasts/{broadcast}", watch),
            web.post("/broadcasts/{broadcast}/{action:pause|cancel|start}", change)]

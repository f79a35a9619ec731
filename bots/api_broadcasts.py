"""``POST /api/v1/broadcasts`` and ``GET /api/v1/broadcasts/{broadcast}``: the business's
systems create (and start) a broadcast and watch its numbers. Part of ``bots.api``'s contract
(its errors, its bearer check); the work is ``bots.broadcasts``'s.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import Field, ValidationError

from bots.broadcasts import BroadcastError, UnknownStep
from flows.broadcast import BroadcastSpec

if TYPE_CHECKING:
    from bots.api import Api

BROADCAST_ID = r"^[a-z0-9][a-z0-9_-]{0,39}$"  # storage.keyparts.check_broadcast_id

CREATE_NOTE = ("`kind` must say whether it is advertising (`ads`: only customers with a live "
               "advertising consent, always with «Отписаться», not 21:00-09:00 business time "
               "unless `quiet` says otherwise) or a service notice. `converts_at` "
               "(`booking.booked`) names the step that counts a recipient as converted. 404 "
               "when the segment is not in _segments.yaml, 422 when `converts_at` names no "
               "flow or step, 409 when the id is taken.")


class NewBroadcast(BroadcastSpec):
    """A broadcast to create; ``start``: queue its segment and send (at ``at``, or now)."""

    id: str | None = Field(default=None, pattern=BROADCAST_ID,
                           description="its id (default: generated)")
    start: bool = False


async def create(api: Api, request: web.Request) -> web.Response:
    from bots.api import _explain, error  # (bots.api imports this module)
    try:
        body = NewBroadcast.model_validate_json(await request.read())
    except ValidationError as exc:
        return error(422, "invalid_request", _explain(exc))
    broadcasts = api.edge.parts.broadcasts
    spec = BroadcastSpec.model_validate(body.model_dump(exclude={"id", "start"}))
    try:
        name = await broadcasts.create(spec, body.id)
        queued = await broadcasts.start(name) if body.start else None
    except UnknownStep as exc:  # (converts_at names no step of the flows)
        return error(422, "invalid_request", str(exc))
    except BroadcastError as exc:  # (the segment is not the document's to check: a 404)
        unknown = "segment" in str(exc)
        return error(404 if unknown else 409, "segment_not_found" if unknown else "conflict",
                     str(exc))
    record = await api.edge.parts.store.broadcasts.get(name)
    return web.json_response({"id": name, "status": record.status if record else "draft",
                              "queued": queued}, status=201)


async def show(api: Api, request: web.Request) -> web.Response:
    from bots.api import error
    parts, name = api.edge.parts, request.match_info["broadcast"]
    try:
        record = await parts.store.broadcasts.get(name)
    except ValueError:
        record = None
    if record is None:
        return error(404, "broadcast_not_found", "no such broadcast")
    spec = BroadcastSpec.model_validate_json(record.spec)
    waiting = parts.sender.waiting_until(spec)
    return web.json_response({
        "id": name, "title": spec.title, "kind": spec.kind, "segment": spec.segment,
        "status": record.status, "created": record.created, "started": record.started,
        "finished": record.finished, "queued": record.queued,
        "waiting_until": _iso(waiting) if record.status == "running" else None,
        "numbers": await parts.broadcasts.numbers(name)})


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


_NUMBERS = {"type": "object", "description": "channel -> counter -> n: queued, sent, "
            "'refused <error>', 'skipped <why>' (channel '-'), replied, unsubscribed, converted",
            "additionalProperties": {"type": "object",
                                     "additionalProperties": {"type": "integer"}}}
SCHEMAS: dict[str, Any] = {
    "BroadcastCreated": {"type": "object", "required": ["id", "status"], "properties": {
        "id": {"type": "string"}, "status": {"type": "string"},
        "queued": {"type": ["integer", "null"]}}},
    "Broadcast": {"type": "object", "required": ["id", "status", "numbers"], "properties": {
        "id": {"type": "string"}, "title": {"type": "string"},
        "kind": {"enum": ["ads", "service"]}, "segment": {"type": "string"},
        "status": {"enum": ["draft", "scheduled", "running", "paused", "cancelled", "done"]},
        "created": {"type": "number"}, "started": {"type": ["number", "null"]},
        "finished": {"type": ["number", "null"]}, "queued": {"type": "integer"},
        "waiting_until": {"type": ["string", "null"],
                          "description": "quiet hours hold it until then"},
        "numbers": _NUMBERS}},
}

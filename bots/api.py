"""``/api/v1``: the business's own systems talking to the bot (bearer ``SVYAZ_API_TOKEN``).

This module owns the HTTP contract of the API: pydantic request models, JSON errors
``{"error": {"code", "message"}}``, the bearer check and a small OpenAPI description. It is off
when no token is set. Requests are turned into calls on the runtime, storage and scheduler;
it must not run flows or send messages itself (a started flow goes through the inbox like
any other event).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bots import api_broadcasts, api_doc, stats
from bots.access import erase
from bots.api_doc import PREFIX, document, model_schemas
from bots.config import Settings
from bots.desk.gate import AUDIT_AGAIN
from bots.desk.queries import customer_export, waiting_rows
from bots.desk.takeover import Takeover
from bots.parts import Edge, NotStarted
from connectors.common import same_secret
from flows.types import JSON, StartFlowEvent
from storage.errors import InvalidValue, StorageError
from storage.profile import normalise_phone
from storage.store import Store

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


_ONE_WAY_TO_FIND: dict[str, Any] = {"oneOf": [  # what _one_way_to_find checks, for the document
    {"required": ["account"], "properties": {"account": {"type": "string"},
                                             "phone": {"type": "null"}}},
    {"required": ["phone"], "properties": {"phone": {"type": "string"},
                                           "account": {"type": "null"}}},
]}


class StartFlow(BaseModel):
    """Start ``flow`` for a customer found by channel account (``vk:123``) or phone."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_ONE_WAY_TO_FIND)

    flow: str = Field(min_length=1, max_length=64)
    vars: dict[str, JSON] = Field(default_factory=dict)
    account: str | None = Field(default=None, pattern=r"^(vk|max|web):[A-Za-z0-9_.-]{1,128}$")
    phone: str | None = Field(default=None, max_length=32)
    request_id: str | None = Field(default=None, max_length=128,
                                   description="idempotency key: a repeat is not started twice")

    @model_validator(mode="after")
    def _one_way_to_find(self) -> StartFlow:
        if (self.account is None) == (self.phone is None):
            raise ValueError("give exactly one of 'account' or 'phone'")
        return self


OPERATOR_NAME = r"^\w[\w.-]{0,39}$"  # storage.keys.check_operator


class OperatorMessage(BaseModel):
    """A person's message to the customer, sent as from ``operator`` (who takes the
    conversation over first when nobody holds it)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=4000)
    operator: str = Field(pattern=OPERATOR_NAME)


class TakeOver(BaseModel):
    """Take the conversation over from the bot for ``operator``."""

    model_config = ConfigDict(extra="forbid")

    operator: str = Field(pattern=OPERATOR_NAME)


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


class Api:
    """Handlers bound to the running bot (its parts, through the edge: ``NotStarted`` is 503)."""

    def __init__(self, token: str, edge: Edge) -> None:
        self._token = token
        self._edge = edge
        self._takeover = Takeover(edge)

    @property
    def edge(self) -> Edge:
        return self._edge

    def authorised(self, request: web.Request) -> bool:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and same_secret(given, self._token)

    async def start_flow(self, request: web.Request) -> web.Response:
        try:
            body = StartFlow.model_validate_json(await request.read())
        except ValidationError as exc:
            return error(422, "invalid_request", _explain(exc))
        parts = self._edge.parts
        if body.flow not in parts.flows.current().flows:
            known = ", ".join(sorted(parts.flows.current().flows))
            return error(422, "unknown_flow", f"no flow {body.flow!r}; flows are: {known}")
        customer = await _find(parts.store, body)
        if customer is None:
            return error(404, "customer_not_found", "no customer with that account or phone")
        event = StartFlowEvent(flow=body.flow, vars=body.vars)
        event_id = f"api:{body.request_id or uuid.uuid4().hex}"
        if not await self._edge.inject(customer, event, event_id=event_id):
            return error(409, "no_channel", "the customer has no linked channel to write to")
        return web.json_response({"customer": customer, "flow": body.flow, "queued": True},
                                 status=202)

    async def customer(self, request: web.Request) -> web.Response:
        parts = self._edge.parts
        store, customer = parts.store, request.match_info["customer"]
        try:
            accounts = await store.identities.accounts(customer)
        except ValueError:
            return error(404, "customer_not_found", "no such customer")
        if not accounts:
            return error(404, "customer_not_found", "no such customer")
        count = _int(request.query.get("history", "50"), 1, 1000)
        if count is None:
            return error(422, "invalid_request", "history: a whole number from 1 to 1000")
        await store.desk.audit.record_once("api", "card", customer, within=AUDIT_AGAIN)
        state, _version = await store.states.load(customer)
        entries = await store.history.read(customer, count=count)
        reminders = await parts.reminders.of_customer(customer)
        return web.json_response({
            "customer": customer,
            "accounts": [{"account": a.account, "last_active": a.last_active} for a in accounts],
            "position": ({"flow": state.stack[-1].flow, "step": state.stack[-1].step}
                         if state and state.stack else None),
            "handoff": bool(state and state.handoff),
            "reminders": [{"key": r.key, "flow": r.flow, "at": r.at.isoformat()}
                          for r in reminders],
            "history": [e.to_record(customer) for e in entries],
        })

    async def cancel_reminders(self, request: web.Request) -> web.Response:
        reminders = self._edge.parts.reminders
        try:
            cancelled = await reminders.cancel_all(request.match_info["customer"])
        except ValueError:
            return error(404, "customer_not_found", "no such customer")
        return web.json_response({"cancelled": cancelled})

    async def release(self, request: web.Request) -> web.Response:
        customer = request.match_info["customer"]
        if not await _known(self._edge.parts.store, customer):
            return error(404, "customer_not_found", "no such customer")
        released = await self._takeover.release(customer, "api")
        return web.json_response({"released": released})

    async def handoffs(self, request: web.Request) -> web.Response:
        """Customers waiting for a person, the longest waiting first."""
        waiting = await waiting_rows(self._edge.parts.store)
        return web.json_response({"handoffs": [
            {"customer": r.customer, "channel": r.channels[0] if r.channels else None,
             "since": r.since, "last_message": r.last_text, "operator": r.holder}
            for r in waiting]})

    async def take_over(self, request: web.Request) -> web.Response:
        try:
            body = TakeOver.model_validate_json(await request.read())
        except ValidationError as exc:
            return error(422, "invalid_request", _explain(exc))
        customer = request.match_info["customer"]
        if not await _known(self._edge.parts.store, customer):
            return error(404, "customer_not_found", "no such customer")
        holder = await self._takeover.claim(customer, body.operator)
        if holder != body.operator:
            return error(409, "taken", f"the conversation is held by {holder}")
        return web.json_response({"customer": customer, "operator": holder})

    async def message(self, request: web.Request) -> web.Response:
        try:
            body = OperatorMessage.model_validate_json(await request.read())
        except ValidationError as exc:
            return error(422, "invalid_request", _explain(exc))
        customer = request.match_info["customer"]
        if not await _known(self._edge.parts.store, customer):
            return error(404, "customer_not_found", "no such customer")
        if await self._takeover.claim(customer, body.operator) != body.operator:
            return error(409, "taken", "another operator holds the conversation")
        sent = await self._takeover.say(customer, body.operator, body.text)
        if sent.target is None:
            return error(409, "no_channel", "no channel of the customer took the message")
        return web.json_response({"customer": customer, "channel": sent.target.channel,
                                  "operator": body.operator}, status=202)

    async def export(self, request: web.Request) -> web.Response:
        """Everything kept about a customer (152-FZ access request): accounts, profile with
        consents, and every message as the rows of ``svyaz export``'s JSONL."""
        store, customer = self._edge.parts.store, request.match_info["customer"]
        try:
            known = await store.redis.exists(*store.keys.customer_keys(customer))
        except ValueError:
            known = 0
        if not known:
            return error(404, "customer_not_found", "no such customer")
        await store.desk.audit.record("api", "export", customer)  # (152-FZ: who saw it)
        return web.json_response(await customer_export(store, customer))

    async def erase(self, request: web.Request) -> web.Response:
        """Erase a customer everywhere (``bots.access.erase``); a repeat erases again (so a
        rewrite of the files that failed the first time is made) and says nothing was left."""
        parts, customer = self._edge.parts, request.match_info["customer"]
        try:
            existed = await parts.store.redis.exists(*parts.store.keys.customer_keys(customer))
        except ValueError:
            return error(404, "customer_not_found", "no such customer")
        done = await erase(parts.store, customer, reminders=parts.reminders,
                           local=parts.embedded is not None)
        return web.json_response({"customer": customer, "erased": bool(existed),
                                  "reminders": done.reminders, "files": done.files})

    async def stats(self, request: web.Request) -> web.Response:
        """A flow's funnel over a period (``bots.stats``)."""
        parts = self._edge.parts
        flows = parts.flows.current()
        try:
            days = stats.query_days(request.query, stats.today(flows, datetime.now(UTC)))
            found = await stats.read(parts.store.funnel, flows, request.query.get("flow", ""),
                                     days, request.query.get("channel"))
        except (stats.BadQuery, stats.UnknownFlow) as exc:
            return error(422, "invalid_request", str(exc))
        return web.json_response(stats.as_json(found))

    async def openapi(self, request: web.Request) -> web.Response:
        parts = self._edge.started
        flows = sorted(parts.flows.current().flows) if parts is not None else None
        return web.json_response(openapi_document(flows))


async def _known(store: Store, customer: str) -> bool:
    try:
        return bool(await store.identities.accounts(customer))
    except ValueError:
        return False


async def _find(store: Store, body: StartFlow) -> str | None:
    """The customer named by the request's account or phone (the model wants exactly one)."""
    if body.account is not None:
        return await store.identities.customer_of(body.account)
    if body.phone is None:
        return None
    try:
        phone = normalise_phone(body.phone)
    except InvalidValue:
        return None
    return await store.profiles.find_by_phone(phone)


API = web.AppKey("svyaz_api", Api)


def _int(raw: str, low: int, high: int) -> int | None:
    """``raw`` as a whole number within [low, high]; None otherwise (a 422, as documented)."""
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if low <= value <= high else None


def _explain(exc: ValidationError) -> str:
    parts = []
    for item in exc.errors():
        where = ".".join(str(p) for p in item["loc"]) or "body"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bearer check and JSON errors for everything under ``/api/v1``."""
    api: Api = request.app[API]
    if request.path != f"{PREFIX}/openapi.json" and not api.authorised(request):
        return error(401, "unauthorized", "send 'Authorization: Bearer <SVYAZ_API_TOKEN>'")
    try:
        return await handler(request)
    except web.HTTPException as exc:
        answer = error(exc.status, "http_error", exc.reason)
        if "Allow" in exc.headers:  # a 405 says which methods the path takes
            answer.headers["Allow"] = exc.headers["Allow"]
        return answer
    except NotStarted:
        return error(503, "unavailable", "the bot is starting; try again shortly")
    except StorageError:
        return error(503, "unavailable", "storage is unavailable; try again shortly")


def setup(app: web.Application, settings: Settings, edge: Edge) -> None:
    """Mount ``/api/v1`` when ``SVYAZ_API_TOKEN`` is set; otherwise do nothing."""
    if settings.api_token is None:
        return
    sub = web.Application(middlewares=[_guard])
    api = Api(settings.api_token.get_secret_value(), edge)
    sub[API] = api
    add = {"get": sub.router.add_get, "post": sub.router.add_post,  # (a GET answers HEAD too)
           "delete": sub.router.add_delete}
    for op in OPERATIONS:  # the routes are the ones the document describes
        add[op.method](op.path, partial(op.handler, api))
    sub.router.add_get("/openapi.json", api.openapi)
    app.add_subapp(PREFIX, sub)


@dataclass(frozen=True, slots=True)
class Operation:
    """One route of the API: its handler and what the OpenAPI document says of it."""

    path: str
    method: Literal["get", "post", "delete"]
    handler: Callable[[Any, web.Request], Awaitable[web.Response]]
    summary: str
    answer: str  # what the success response is
    status: str = "200"
    schema: str | None = None  # the success body's schema in components
    errors: tuple[int, ...] = ()
    description: str | None = None
    body: str | None = None  # the request body's schema in components
    query: tuple[dict[str, Any], ...] = ()


OPERATIONS = (
    Operation("/flows/start", "post", Api.start_flow,
              "Run a flow for a customer on their best channel", "queued", status="202",
              errors=(404, 409), body="StartFlow"),
    Operation("/customers/{customer}", "get", Api.customer,
              "A customer's linked channels, position, reminders and history", "the customer",
              query=({"name": "history", "in": "query",
                      "schema": {"type": "integer", "default": 50, "minimum": 1,
                                 "maximum": 1000}},)),
    Operation("/customers/{customer}", "delete", Api.erase,
              "Erase a customer and everything about them (152-FZ)", "erased",
              schema="Erased", description=api_doc.ERASE_NOTE),
    Operation("/customers/{customer}/export", "get", Api.export,
              "Everything kept about a customer (a 152-FZ access request)",
              "the customer's data", schema="Export",
              description="`messages` are the rows `svyaz export` writes as JSONL, oldest "
                          "first."),
    Operation("/customers/{customer}/reminders", "delete", Api.cancel_reminders,
              "Cancel every reminder of a customer", "how many were cancelled"),
    Operation("/customers/{customer}/release", "post", Api.release,
              "Hand a conversation back from the operator to the bot",
              "whether it was handed off or held"),
    Operation("/handoffs", "get", Api.handoffs,
              "Customers waiting for a person, the longest waiting first", "the hand-offs",
              schema="Handoffs"),
    Operation("/customers/{customer}/takeover", "post", Api.take_over,
              "Take a conversation over from the bot (the bot stays quiet until released)",
              "taken", schema="Taken", errors=(409,), body="TakeOver",
              description="409 when another operator holds it."),
    Operation("/broadcasts", "post", api_broadcasts.create,
              "Create a broadcast to a segment of _segments.yaml (and start it)", "created",
              status="201", schema="BroadcastCreated", errors=(404, 409), body="NewBroadcast",
              description=api_broadcasts.CREATE_NOTE),
    Operation("/broadcasts/{broadcast}", "get", api_broadcasts.show,
              "A broadcast's state and its numbers per channel", "the broadcast",
              schema="Broadcast"),
    Operation("/customers/{customer}/messages", "post", Api.message,
              "Send the customer a person's message (taking the conversation over first)",
              "sent through the outbox to the channel the customer last wrote from",
              status="202", schema="Sent", errors=(409,), body="OperatorMessage",
              description="Delivered like the bot's own messages (outbox, failover to the "
                          "customer's other channels); the web chat shows it as from the "
                          "operator. 409 when another operator holds the conversation or no "
                          "channel took it."),
    Operation("/stats", "get", Api.stats, "A flow's funnel over a period", "the figures",
              schema="Stats", query=api_doc.STATS_QUERY, description=api_doc.STATS_NOTE),
)


def openapi_document(flows: list[str] | None = None) -> dict[str, Any]:
    """The document; with ``flows`` (the running bot's), ``flow`` names one of them."""
    schemas = model_schemas(StartFlow, OperatorMessage, TakeOver, api_broadcasts.NewBroadcast)
    schemas.update(api_broadcasts.SCHEMAS)
    if flows:
        schemas["StartFlow"]["properties"]["flow"]["enum"] = flows
    found = document(OPERATIONS, schemas)
    if flows:  # (the query's first parameter: api_doc.STATS_QUERY)
        found["paths"]["/stats"]["get"]["parameters"][0]["schema"]["enum"] = flows
    return found

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
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bots.access import erase
from bots.config import Settings
from connectors.common import same_secret
from flows.types import JSON, StartFlowEvent
from storage.errors import InvalidValue, StorageError
from storage.profile import normalise_phone

if TYPE_CHECKING:
    from bots.app import Services

PREFIX = "/api/v1"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class StartFlow(BaseModel):
    """Start ``flow`` for a customer found by channel account (``vk:123``) or phone."""

    model_config = ConfigDict(extra="forbid")

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


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


class Api:
    """Handlers bound to the running bot's services."""

    def __init__(self, settings: Settings, services: Services) -> None:
        assert settings.api_token is not None
        self._token = settings.api_token.get_secret_value()
        self._services = services

    def authorised(self, request: web.Request) -> bool:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and same_secret(given, self._token)

    async def start_flow(self, request: web.Request) -> web.Response:
        try:
            body = StartFlow.model_validate_json(await request.read())
        except ValidationError as exc:
            return error(422, "invalid_request", _explain(exc))
        services = self._services
        if services.flows is None or services.store is None:
            return error(503, "unavailable", "the bot is starting; try again shortly")
        if body.flow not in services.flows.current().flows:
            known = ", ".join(sorted(services.flows.current().flows))
            return error(422, "unknown_flow", f"no flow {body.flow!r}; flows are: {known}")
        customer = await self._find(body)
        if customer is None:
            return error(404, "customer_not_found", "no customer with that account or phone")
        event = StartFlowEvent(flow=body.flow, vars=body.vars)
        event_id = f"api:{body.request_id or uuid.uuid4().hex}"
        if not await services.inject(customer, event, event_id=event_id):
            return error(409, "no_channel", "the customer has no linked channel to write to")
        return web.json_response({"customer": customer, "flow": body.flow, "queued": True},
                                 status=202)

    async def _find(self, body: StartFlow) -> str | None:
        store = self._services.store
        assert store is not None
        if body.account is not None:
            return await store.identities.customer_of(body.account)
        assert body.phone is not None
        try:
            phone = normalise_phone(body.phone)
        except InvalidValue:
            return None
        return await store.profiles.find_by_phone(phone)

    async def customer(self, request: web.Request) -> web.Response:
        store = self._services.store
        if store is None:
            return error(503, "unavailable", "the bot is starting; try again shortly")
        customer = request.match_info["customer"]
        try:
            accounts = await store.identities.accounts(customer)
        except ValueError:
            return error(404, "customer_not_found", "no such customer")
        if not accounts:
            return error(404, "customer_not_found", "no such customer")
        count = _int(request.query.get("history", "50"), 1, 1000)
        state, _version = await store.states.load(customer)
        entries = await store.history.read(customer, count=count)
        reminders = (await self._services.reminders.of_customer(customer)
                     if self._services.reminders else [])
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
        reminders = self._services.reminders
        if reminders is None:
            return error(503, "unavailable", "the bot is starting; try again shortly")
        try:
            cancelled = await reminders.cancel_all(request.match_info["customer"])
        except ValueError:
            return error(404, "customer_not_found", "no such customer")
        return web.json_response({"cancelled": cancelled})

    async def release(self, request: web.Request) -> web.Response:
        runtime = self._services.runtime
        if runtime is None:
            return error(503, "unavailable", "the bot is starting; try again shortly")
        try:
            released = await runtime.release(request.match_info["customer"])
        except ValueError:
            return error(404, "customer_not_found", "no such customer")
        return web.json_response({"released": released})

    async def export(self, request: web.Request) -> web.Response:
        """Everything kept about a customer (152-FZ access request): accounts, profile with
        consents, and every message as the rows of ``svyaz export``'s JSONL."""
        store = self._services.store
        if store is None:
            return error(503, "unavailable", "the bot is starting; try again shortly")
        customer = request.match_info["customer"]
        try:
            known = await store.redis.exists(*store.keys.customer_keys(customer))
        except ValueError:
            known = 0
        if not known:
            return error(404, "customer_not_found", "no such customer")
        accounts = await store.identities.accounts(customer)
        profile = await store.profiles.get(customer)
        messages = [e.to_record(customer) async for e in store.history.entries(customer)]
        return web.json_response({
            "customer": customer,
            "accounts": [{"account": a.account, "last_active": a.last_active} for a in accounts],
            "profile": profile.model_dump(mode="json"),
            "messages": messages,
        })

    async def erase(self, request: web.Request) -> web.Response:
        """Erase a customer everywhere (``bots.access.erase``); a repeat erases again (so a
        rewrite of the files that failed the first time is made) and says nothing was left."""
        services = self._services
        if services.store is None:
            return error(503, "unavailable", "the bot is starting; try again shortly")
        customer = request.match_info["customer"]
        try:
            existed = await services.store.redis.exists(
                *services.store.keys.customer_keys(customer))
        except ValueError:
            return error(404, "customer_not_found", "no such customer")
        done = await erase(services.store, customer, reminders=services.reminders,
                           local=services.embedded is not None)
        return web.json_response({"customer": customer, "erased": bool(existed),
                                  "reminders": done.reminders, "files": done.files})

    async def openapi(self, request: web.Request) -> web.Response:
        return web.json_response(openapi_document())


API = web.AppKey("svyaz_api", Api)


def _int(raw: str, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(raw)))
    except ValueError:
        return high if raw else low


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
        return error(exc.status, "http_error", exc.reason)
    except StorageError:
        return error(503, "unavailable", "storage is unavailable; try again shortly")


def setup(app: web.Application, settings: Settings, services: Services) -> None:
    """Mount ``/api/v1`` when ``SVYAZ_API_TOKEN`` is set; otherwise do nothing."""
    if not settings.api_enabled:
        return
    sub = web.Application(middlewares=[_guard])
    api = Api(settings, services)
    sub[API] = api
    sub.router.add_post("/flows/start", api.start_flow)
    sub.router.add_get("/customers/{customer}", api.customer)
    sub.router.add_delete("/customers/{customer}", api.erase)
    sub.router.add_get("/customers/{customer}/export", api.export)
    sub.router.add_delete("/customers/{customer}/reminders", api.cancel_reminders)
    sub.router.add_post("/customers/{customer}/release", api.release)
    sub.router.add_get("/openapi.json", api.openapi)
    app.add_subapp(PREFIX, sub)


def openapi_document() -> dict[str, Any]:
    err = {"$ref": "#/components/schemas/Error"}
    json_err = {"description": "error", "content": {"application/json": {"schema": err}}}
    customer = {"name": "customer", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "svyaz API", "version": "1"},
        "servers": [{"url": PREFIX}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "StartFlow": StartFlow.model_json_schema(),
                "Export": _EXPORT,
                "Erased": _ERASED,
                "Error": {"type": "object", "properties": {"error": {
                    "type": "object", "properties": {"code": {"type": "string"},
                                                     "message": {"type": "string"}}}}},
            },
        },
        "paths": {
            "/flows/start": {"post": {
                "summary": "Run a flow for a customer on their best channel",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/StartFlow"}}}},
                "responses": {"202": {"description": "queued"}, "401": json_err,
                              "404": json_err, "409": json_err, "422": json_err},
            }},
            "/customers/{customer}": {"get": {
                "summary": "A customer's linked channels, position, reminders and history",
                "parameters": [{"name": "customer", "in": "path", "required": True,
                                "schema": {"type": "string"}},
                               {"name": "history", "in": "query",
                                "schema": {"type": "integer", "default": 50}}],
                "responses": {"200": {"description": "the customer"}, "404": json_err},
            }, "delete": {
                "summary": "Erase a customer and everything about them (152-FZ)",
                "description": "State, history, profile, consents, accounts, links, pending "
                               "messages and reminders; with the embedded Redis its files are "
                               "rewritten before the answer (`files`: `rewritten`). With "
                               "SVYAZ_REDIS_URL (`files`: `external`) that server's operator "
                               "must rewrite its AOF/RDB. Idempotent: a repeat answers 200 "
                               "with `erased` false.",
                "parameters": [customer],
                "responses": {"200": {"description": "erased", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Erased"}}}},
                    "401": json_err, "404": json_err, "503": json_err},
            }},
            "/customers/{customer}/export": {"get": {
                "summary": "Everything kept about a customer (a 152-FZ access request)",
                "description": "`messages` are the rows `svyaz export` writes as JSONL, "
                               "oldest first.",
                "parameters": [customer],
                "responses": {"200": {"description": "the customer's data", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Export"}}}},
                    "401": json_err, "404": json_err},
            }},
            "/customers/{customer}/reminders": {"delete": {
                "summary": "Cancel every reminder of a customer",
                "parameters": [{"name": "customer", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {"200": {"description": "how many were cancelled"}},
            }},
            "/customers/{customer}/release": {"post": {
                "summary": "Hand a conversation back from the operator to the bot",
                "parameters": [{"name": "customer", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {"200": {"description": "whether it was handed off"}},
            }},
        },
    }


_STR = {"type": "string"}
_EXPORT: dict[str, Any] = {"type": "object", "properties": {
    "customer": _STR,
    "accounts": {"type": "array", "items": {"type": "object", "properties": {
        "account": _STR, "last_active": {"type": "number"}}}},
    "profile": {"type": "object", "properties": {
        "name": {"type": ["string", "null"]}, "phone": {"type": ["string", "null"]},
        "email": {"type": ["string", "null"]}, "consents": {"type": "array"}}},
    "messages": {"type": "array", "items": {"type": "object", "properties": {
        "customer": _STR, "ts": {"type": "number"}, "time": _STR, "channel": _STR,
        "direction": {"enum": ["in", "out"]}, "text": _STR,
        "buttons": {"type": "array", "items": _STR}, "note": _STR}}},
}}
_ERASED: dict[str, Any] = {"type": "object", "properties": {
    "customer": _STR,
    "erased": {"type": "boolean", "description": "false when nothing was left to erase"},
    "reminders": {"type": "integer"},
    "files": {"enum": ["rewritten", "no-aof", "external"]},
}}

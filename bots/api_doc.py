"""The OpenAPI 3.1 document of ``/api/v1`` (``bots.api``): built from its list of operations.

Every operation answers 401 without the bearer token and 503 while the bot starts or storage
is down; one with a customer in its path answers 404 for an unknown customer; one with a
body or query answers 422 for a bad one. Request models' own ``$defs`` are lifted into
``components`` so no ``$ref`` dangles. This module must not serve or handle requests.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from pydantic import BaseModel

from flows.types import ATTACHMENT_KINDS

PREFIX = "/api/v1"
CUSTOMER_ID = r"^[A-Za-z0-9_-]{1,64}$"  # storage.keys.check_customer_id
# The ids in paths: each answers 404 when unknown.
PATH_IDS = {"customer": CUSTOMER_ID, "broadcast": r"^[a-z0-9][a-z0-9_-]{0,39}$"}

ERASE_NOTE = ("State, history, profile, consents, accounts, links, pending messages and "
              "reminders; with the embedded Redis its files are rewritten before the answer "
              "(`files`: `rewritten`). With SVYAZ_REDIS_URL (`files`: `external`) that "
              "server's operator must rewrite its AOF/RDB. Idempotent: a repeat answers 200 "
              "with `erased` false.")


class Described(Protocol):
    """What the document needs of an operation (``bots.api.Operation``)."""

    @property
    def path(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def answer(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def schema(self) -> str | None: ...
    @property
    def errors(self) -> tuple[int, ...]: ...
    @property
    def description(self) -> str | None: ...
    @property
    def body(self) -> str | None: ...
    @property
    def query(self) -> tuple[dict[str, Any], ...]: ...


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def statuses(op: Described) -> list[int]:
    """Every error status ``op`` can answer."""
    found = {401, 503, *op.errors}
    if any(f"{{{name}}}" in op.path for name in PATH_IDS):
        found.add(404)
    if op.body is not None or op.query:
        found.add(422)
    return sorted(found)


def _operation(op: Described) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": op.answer}
    if op.schema is not None:
        ok["content"] = _json(op.schema)
    found: dict[str, Any] = {"summary": op.summary}
    if op.description is not None:
        found["description"] = op.description
    if op.body is not None:
        found["requestBody"] = {"required": True, "content": _json(op.body)}
    parameters = list(op.query)
    for name, pattern in PATH_IDS.items():
        if f"{{{name}}}" in op.path:
            parameters.insert(0, {"name": name, "in": "path", "required": True,
                                  "schema": {"type": "string", "pattern": pattern}})
    if parameters:
        found["parameters"] = parameters
    error_body = {"description": "error", "content": _json("Error")}
    found["responses"] = {op.status: ok, **{str(code): error_body for code in statuses(op)}}
    return found


def model_schemas(*models: type[BaseModel]) -> dict[str, Any]:
    """The models' JSON Schemas as components, their ``$defs`` lifted beside them."""
    found: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        found.update(schema.pop("$defs", {}))
        found[model.__name__] = schema
    return found


def document(operations: Iterable[Described], schemas: dict[str, Any]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "svyaz API", "version": "1"},
        "servers": [{"url": PREFIX}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {**schemas, "Export": _EXPORT, "Erased": _ERASED, "Error": _ERROR,
                        "Handoffs": _HANDOFFS, "Sent": _SENT, "Taken": _TAKEN,
                        "Stats": _STATS},
        },
        "paths": paths,
    }


_STR = {"type": "string"}
_EXPORT: dict[str, Any] = {"type": "object", "properties": {
    "customer": _STR,
    "accounts": {"type": "array", "items": {"type": "object", "properties": {
        "account": _STR, "last_active": {"type": "number"}}}},
    "profile": {"type": "object", "properties": {
        "name": {"type": ["string", "null"]}, "phone": {"type": ["string", "null"]},
        "email": {"type": ["string", "null"]}, "consents": {"type": "array"},
        "tags": {"type": "array", "items": _STR}}},
    "broadcasts": {"type": "object", "additionalProperties": _STR,
                   "description": "broadcast id -> what became of its copy"},
    "reached": {"type": "object", "additionalProperties": {"type": "number"},
                "description": "flow or flow.step reached -> when last (epoch seconds)"},
    "invitations": {"type": "object", "description": "sms / email (sms:<links> / "
                    "email:<links>: new links sent again, svyaz invite send --again) -> the "
                    "invitation sent there (svyaz invite send): state claimed|sent|unknown, at, "
                    "to, sms_id, parts, links (a digest of its links' tokens)",
                    "additionalProperties": {"type": "object", "properties": {
                        "state": {"enum": ["claimed", "sent", "unknown"]},
                        "at": {"type": "number"}, "to": _STR, "sms_id": _STR,
                        "parts": {"type": "integer"}, "links": _STR}}},
    "messages": {"type": "array", "items": {"type": "object", "properties": {
        "customer": _STR, "ts": {"type": "number"}, "time": _STR, "channel": _STR,
        "direction": {"enum": ["in", "out", "event"]}, "text": _STR,
        "buttons": {"type": "array", "items": _STR}, "note": _STR,
        "attachments": {"type": "array", "items": {"type": "object", "properties": {
            "id": _STR, "kind": {"enum": list(ATTACHMENT_KINDS)}, "ref": _STR,
            "name": _STR, "size": {"type": "integer"}, "mime": _STR,
            "kept": {"type": "boolean", "description": "a copy is kept for the desk"},
            "copy": {"type": "string", "description":
                     'kept, pending, or "no copy: <reason>"'}}}}}}},
    "files": {"type": "array", "items": {"type": "object"}, "description": "kept copies"},
}}
_ERASED: dict[str, Any] = {"type": "object", "properties": {
    "customer": _STR,
    "erased": {"type": "boolean", "description": "false when nothing was left to erase"},
    "reminders": {"type": "integer"},
    "files": {"enum": ["rewritten", "no-aof", "external"]},
}}
_ERROR: dict[str, Any] = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message"],
    "properties": {"code": _STR, "message": _STR}}}}
_HANDOFFS: dict[str, Any] = {"type": "object", "required": ["handoffs"], "properties": {
    "handoffs": {"type": "array", "items": {"type": "object", "properties": {
        "customer": _STR,
        "channel": {"type": ["string", "null"], "description": "where they last wrote from"},
        "since": {"type": ["number", "null"], "description": "epoch seconds"},
        "last_message": _STR, "operator": {"type": ["string", "null"]}}}}}}
_SENT: dict[str, Any] = {"type": "object", "required": ["customer", "channel"], "properties": {
    "customer": _STR, "channel": _STR, "operator": _STR}}
_TAKEN: dict[str, Any] = {"type": "object", "required": ["customer", "operator"], "properties": {
    "customer": _STR, "operator": _STR}}


STATS_NOTE = ("Exact counts of the business's calendar days (its time zone): the last `days` "
              "ending today, or `from`..`to`. `dropped`: entered a question step and neither "
              "answered nor gave up (`failed`) there. `median_seconds`: the bucket of answer "
              "times holding the middle answer (an estimate, `to` null: longer than a day).")
STATS_QUERY: tuple[dict[str, Any], ...] = (
    {"name": "flow", "in": "query", "required": True, "schema": {"type": "string"}},
    {"name": "days", "in": "query", "schema": {"type": "integer", "default": 7, "minimum": 1,
                                               "maximum": 400}},
    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
    {"name": "channel", "in": "query", "schema": {"type": "string"}},
)


_INT = {"type": "integer"}
_STATS: dict[str, Any] = {"type": "object", "required": ["flow", "steps"], "properties": {
    "flow": _STR, "from": _STR, "to": _STR, "channel": {"type": ["string", "null"]},
    "channels": {"type": "array", "items": _STR}, "started": _INT, "finished": _INT,
    "conversion": {"type": ["number", "null"]}, "handed_off": _INT,
    "steps": {"type": "array", "items": {"type": "object", "properties": {
        "step": _STR, "question": {"type": "boolean"}, "entered": _INT, "answered": _INT,
        "dropped": _INT, "retried": _INT, "failed": _INT, "handed_off": _INT,
        "median_seconds": {"type": ["object", "null"], "properties": {
            "from": _INT, "to": {"type": ["integer", "null"]}}},
        "choices": {"type": "array", "items": {"type": "object", "properties": {
            "id": _STR, "count": _INT}}}}}}}}

"""The desk's web application at ``/desk``: sessions, CSRF, roles, security headers, login.

Every page but the login form and the static files needs a session naming an operator who
exists, is not disabled and whose session generation matches (``bots.desk.sessions``); a page
request without one is sent to the login form, anything else gets 401. Every POST must carry
the session's CSRF token (form field or header). Logins are limited per operator name and per
address (``storage.desk.LoginFailures``): past the limit even the right password is refused
until the window passes. The pages themselves are ``bots.desk.pages``. This module must not
read conversations or send messages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bots.desk.conversations import CHANNEL_NAMES, STATE_NAMES, waited
from bots.desk.passwords import verify
from bots.desk.sessions import CSRF_FIELD, CSRF_HEADER, Session, Sessions, csrf_ok
from bots.desk.takeover import Takeover
from bots.parts import Edge, NotStarted
from storage.desk import Operator
from storage.errors import StorageError
from storage.keys import DESK_ACCOUNT_MAX_FAILURES, DESK_ADDRESS_MAX_FAILURES

PREFIX = "/desk"
STATIC = Path(__file__).parent / "static"
OPEN_PATHS = (f"{PREFIX}/login", f"{PREFIX}/static/")
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "Cache-Control": "no-store",  # personal data: never kept by a shared browser's cache
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Desk:
    """What every desk handler needs: the running bot, sessions, templates, take-over."""

    def __init__(self, edge: Edge, *, secret: bytes, secure: bool, zone: ZoneInfo,
                 flows: Path) -> None:
        self.edge = edge
        self.flows = flows  # the flows folder, where the owner's _desk.yaml lives
        self.sessions = Sessions(secret, secure=secure, path=PREFIX)
        self.takeover = Takeover(edge)
        self.zone = zone
        env = Environment(loader=PackageLoader("bots.desk"), undefined=StrictUndefined,
                          autoescape=select_autoescape(default=True))
        env.filters.update(when=self.when, moment=self.moment, waited=waited,
                           channel=lambda c: CHANNEL_NAMES.get(c, c))
        env.globals.update(state_names=STATE_NAMES, channel_names=CHANNEL_NAMES)
        self.templates = env

    def when(self, ts: float) -> str:
        return datetime.fromtimestamp(ts, self.zone).strftime("%d.%m %H:%M") if ts else ""

    def moment(self, at: datetime | None) -> str:
        """A stored moment (consents, reminders: kept in UTC) in the business's time zone."""
        return at.astimezone(self.zone).strftime("%d.%m.%Y %H:%M") if at else ""

    def render(self, request: web.Request, template: str, *, status: int = 200,
               **context: Any) -> web.Response:
        session = request.get(SESSION_KEY)
        operator = request.get(OPERATOR_KEY)
        html = self.templates.get_template(template).render(
            me=operator, csrf=session.csrf if session else "",
            alerts=request.get(ALERTS_KEY, []), **context)
        return web.Response(text=html, content_type="text/html", status=status)

    async def alerts(self) -> list[str]:
        """What is broken now, for the banner on every page: the open incidents
        (``bots.incidents``: in the owner's words) and any channel whose health is bad this
        moment that no incident names yet (a refused token before its second look)."""
        parts = self.edge.parts
        incidents = await parts.store.incidents.current()
        found = [i.detail for i in incidents]
        named = {i.kind for i in incidents}
        for channel, connector in sorted(parts.connectors.items()):
            health = connector.health()
            if not health.get("ok") and f"channel:{channel}" not in named:
                name = CHANNEL_NAMES.get(channel, channel)
                found.append(f"Канал «{name}» не работает: {health.get('detail', '')}")
        return found

    async def operator(self, session: Session | None) -> Operator | None:
        if session is None:
            return None
        found = await self.edge.parts.store.desk.operators.get(session.operator)
        if found is None or found.disabled or found.generation != session.generation:
            return None
        return found


DESK = web.AppKey("svyaz_desk", Desk)
AUDIT_AGAIN = 600  # seconds: the same operator's look at the same customer's card (or files)
# is one audit record (a page that refreshes itself, a page showing several pictures)
SESSION_KEY = web.RequestKey("svyaz_desk_session", Session)
OPERATOR_KEY = web.RequestKey("svyaz_desk_operator", Operator)
ALERTS_KEY = web.RequestKey("svyaz_desk_alerts", list[str])


def me(request: web.Request) -> Operator:
    return request[OPERATOR_KEY]


def owner_only(request: web.Request) -> Operator:
    operator = me(request)
    if operator.role != "owner":
        raise web.HTTPForbidden(text="Только для владельца.")
    return operator


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await _checked(request, handler)
    except web.HTTPException as exc:
        exc.headers.update(HEADERS)
        raise
    except (NotStarted, StorageError):
        response = web.Response(status=503, text="Сервис запускается или недоступен; "
                                                  "попробуйте через минуту.")
    response.headers.update(HEADERS)
    return response


async def _checked(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(OPEN_PATHS):
        return await handler(request)
    desk = request.app[DESK]
    session = desk.sessions.read(request)
    operator = await desk.operator(session)
    if operator is None or session is None:
        if request.method == "GET" and not request.path.endswith(".json"):
            raise web.HTTPSeeOther(f"{PREFIX}/login")
        raise web.HTTPUnauthorized(text="Войдите заново.")
    if request.method == "POST":
        given = request.headers.get(CSRF_HEADER) or (await request.post()).get(CSRF_FIELD)
        if not csrf_ok(session, given if isinstance(given, str) else None):
            raise web.HTTPForbidden(text="Форма устарела: обновите страницу.")
    request[SESSION_KEY], request[OPERATOR_KEY] = session, operator
    if request.method == "GET" and not request.path.endswith(".json"):
        request[ALERTS_KEY] = await desk.alerts()
    return await handler(request)


# ---------------------------------------------------------------------- login


async def login_form(request: web.Request) -> web.StreamResponse:
    return await _login_page(request, "", "", 200)


async def login(request: web.Request) -> web.StreamResponse:
    desk = request.app[DESK]
    form = await request.post()
    name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
    if not desk.sessions.login_form_ok(request, str(form.get(CSRF_FIELD, ""))):
        return await _login_page(request, name, "Форма устарела: попробуйте ещё раз.", 403)
    failures = desk.edge.parts.store.desk.logins
    address = request.remote or "-"
    by_name, by_address = await failures.counts(name, address)
    if by_name >= DESK_ACCOUNT_MAX_FAILURES or by_address >= DESK_ADDRESS_MAX_FAILURES:
        return await _login_page(request, name, "Слишком много неудачных попыток. "
                                             "Подождите 15 минут.", 429)
    operator = await desk.edge.parts.store.desk.operators.get(name)
    right = await verify(operator.password_hash if operator else None, password)
    if operator is None or not right or operator.disabled:
        await failures.failed(name, address)
        return await _login_page(request, name, "Неверное имя или пароль.", 401)
    await failures.succeeded(name)
    response = web.HTTPSeeOther(f"{PREFIX}/")
    desk.sessions.start(response, operator.name, operator.generation)
    raise response


async def _login_page(request: web.Request, name: str, error: str,
                   status: int) -> web.StreamResponse:
    desk = request.app[DESK]
    response = web.Response(content_type="text/html", status=status)
    token = desk.sessions.login_form(response)
    response.text = desk.templates.get_template("login.html").render(
        me=None, csrf=token, error=error, name=name)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    """Log out everywhere: the operator's session generation moves on, so a copy of the
    cookie (another device, a stolen one) stops working too."""
    await request.app[DESK].edge.parts.store.desk.operators.end_sessions(me(request).name)
    response = web.HTTPSeeOther(f"{PREFIX}/login")
    request.app[DESK].sessions.end(response)
    raise response


async def static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in {"desk.js", "desk.css"}:
        raise web.HTTPNotFound()
    return web.FileResponse(STATIC / name)

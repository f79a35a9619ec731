"""Desk sessions: signed cookies (``itsdangerous``), ``HttpOnly``, ``SameSite=Lax``,
``Secure`` when the public address is https, with a CSRF token bound to each.

A session cookie carries the operator's name, the operator's session generation (disabling
or removing an operator bumps it, ending every session at once) and a random CSRF token that
every form and script post must send back. Before login a separate short-lived cookie carries
the login form's token. This module must not look operators up or decide roles.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from aiohttp import web
from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "svyaz_desk"
LOGIN_COOKIE = "svyaz_desk_login"
SESSION_SALT = "svyaz desk session"
LOGIN_SALT = "svyaz desk login form"
SESSION_AGE = 12 * 3600  # a working day; then the operator logs in again
LOGIN_FORM_AGE = 3600
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True, slots=True)
class Session:
    operator: str
    generation: int
    csrf: str


class Sessions:
    def __init__(self, secret: bytes, *, secure: bool, path: str = "/desk") -> None:
        self._session = URLSafeTimedSerializer(secret, salt=SESSION_SALT)
        self._login = URLSafeTimedSerializer(secret, salt=LOGIN_SALT)
        self._secure = secure
        self._path = path

    def _set(self, response: web.StreamResponse, name: str, value: str, age: int) -> None:
        response.set_cookie(name, value, max_age=age, path=self._path, httponly=True,
                            samesite="Lax", secure=self._secure)

    def start(self, response: web.StreamResponse, operator: str, generation: int) -> None:
        token = self._session.dumps([operator, generation, secrets.token_urlsafe(24)])
        self._set(response, COOKIE, token, SESSION_AGE)
        response.del_cookie(LOGIN_COOKIE, path=self._path)

    def end(self, response: web.StreamResponse) -> None:
        response.del_cookie(COOKIE, path=self._path)

    def read(self, request: web.Request) -> Session | None:
        """The request's session: None when absent, forged, expired or malformed."""
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            data = self._session.loads(raw, max_age=SESSION_AGE)
        except BadSignature:  # (SignatureExpired is one)
            return None
        if (not isinstance(data, list) or len(data) != 3 or not isinstance(data[0], str)
                or not isinstance(data[1], int) or not isinstance(data[2], str)):
            return None
        return Session(operator=data[0], generation=data[1], csrf=data[2])

    def login_form(self, response: web.StreamResponse) -> str:
        """A fresh token for the login form, also set in the login cookie."""
        token = secrets.token_urlsafe(24)
        self._set(response, LOGIN_COOKIE, self._login.dumps(token), LOGIN_FORM_AGE)
        return token

    def login_form_ok(self, request: web.Request, given: str) -> bool:
        raw = request.cookies.get(LOGIN_COOKIE)
        if not raw or not given:
            return False
        try:
            expected = self._login.loads(raw, max_age=LOGIN_FORM_AGE)
        except BadSignature:
            return False
        return isinstance(expected, str) and secrets.compare_digest(expected, given)


def csrf_ok(session: Session, given: str | None) -> bool:
    return bool(given) and secrets.compare_digest(session.csrf, given or "")

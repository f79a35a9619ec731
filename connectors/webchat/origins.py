"""Which pages may open the web chat's socket, and telling the owner about the ones refused.

The policy is pure: the configured origins (``SVYAZ_WEBCHAT_ORIGINS``) when there are any,
else the bot's own public URL and any port of localhost (what a developer's page runs on).
A refused origin is logged once per origin, with the setting that would allow it, so the
owner who embeds the widget on a new site learns why it stays offline. It must not touch
sockets: the server decides how to refuse (close code 4403).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from urllib.parse import urlsplit

log = logging.getLogger("svyaz.connectors.webchat")

LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")
ORIGINS_SETTING = "SVYAZ_WEBCHAT_ORIGINS"
# Origins remembered as already logged; beyond this many (a scan with forged headers) the
# rest are not logged one by one, so memory and the log stay bounded.
MAX_LOGGED = 1000
_MAX_ORIGIN_LENGTH = 200


def origin_of(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower()


class OriginPolicy:
    """Which pages may open the socket: the listed origins, else our own and localhost."""

    def __init__(self, allowed: Sequence[str], public_url: str) -> None:
        self._exact = frozenset(origin_of(o) for o in allowed if o.strip())
        self._default = not self._exact
        self._own = origin_of(public_url)
        self._logged: set[str] = set()
        self._overflowed = False

    def allows(self, origin: str | None) -> bool:
        if not origin:
            return False
        try:
            origin = origin_of(origin)
            if not self._default:
                return origin in self._exact
            if origin == self._own:
                return True
            parts = urlsplit(origin)
            host = parts.hostname or ""
        except ValueError:  # not a URL at all (a bad port, brackets)
            return False
        host = f"[{host}]" if ":" in host else host
        return parts.scheme in ("http", "https") and host in LOCAL_HOSTS

    def refused(self, origin: str | None) -> None:
        """Log the refusal of ``origin`` the first time it is seen."""
        shown = (origin or "")[:_MAX_ORIGIN_LENGTH] or "(no Origin header)"
        if shown in self._logged:
            return
        if len(self._logged) >= MAX_LOGGED:
            if not self._overflowed:
                self._overflowed = True
                log.warning(
                    "web chat: more than %d different origins refused; the rest are not logged",
                    MAX_LOGGED,
                )
            return
        self._logged.add(shown)
        allowed = (
            "the public URL and localhost" if self._default else ", ".join(sorted(self._exact))
        )
        log.warning(
            "web chat: a page on %r may not open the chat (allowed: %s); to allow it, "
            "add it to %s (comma-separated origins)",
            shown,
            allowed,
            ORIGINS_SETTING,
        )

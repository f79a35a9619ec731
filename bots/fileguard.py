"""Where the file copier may connect: public addresses only.

The copier fetches the URL a platform's update names. Even after the update's signature or
secret is checked, that URL must not reach this host or its network (loopback, private,
link-local, multicast, reserved, unspecified — anything Python's ``ipaddress`` does not call
global). Names are checked after DNS resolution by the session's own resolver, and aiohttp
connects to exactly the addresses that resolver returned, so a DNS answer that changes between
the check and the connection (rebinding) cannot switch it. aiohttp does not ask the resolver
about a host that is an address already: ``check_url`` refuses those, on every redirect.

``allow`` (``SVYAZ_FILES_ALLOW``) lets networks through anyway: for tests only, whose
platform fakes serve files on 127.0.0.1. This module must not download anything
(``bots.filecopy`` does).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from typing import Any, TypeAlias

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network


class Refused(OSError):
    """The address is not one the copier may connect to."""


def permitted(address: str, allow: Sequence[Network] = ()) -> bool:
    """Is ``address`` public (or in ``allow``)?"""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback
    if any(ip in network for network in allow):
        return True
    return ip.is_global and not ip.is_multicast


def check_url(url: URL, allow: Sequence[Network] = ()) -> None:
    """Refuse a URL that is not http(s) or whose host is a refused address."""
    if url.scheme not in ("http", "https") or not url.host:
        raise aiohttp.InvalidURL(str(url))
    host = url.host.strip("[]")
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return  # a name: the resolver checks what it resolves to
    if not permitted(host, allow):
        raise Refused(f"address {host} refused")


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing a name when any address it resolves to is refused."""

    def __init__(self, allow: Sequence[Network] = ()) -> None:
        self._inner = aiohttp.ThreadedResolver()
        self._allow = tuple(allow)

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        if not found or not all(permitted(r["host"], self._allow) for r in found):
            raise Refused(f"{host} resolves to a refused address")
        return found

    async def close(self) -> None:
        await self._inner.close()


def guarded_session(allow: Sequence[Network] = (), **kwargs: Any) -> aiohttp.ClientSession:
    """A session that connects to permitted addresses only (no proxies from the environment)."""
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(allow))
    return aiohttp.ClientSession(connector=connector, trust_env=False, **kwargs)


def refused(exc: BaseException) -> bool:
    """Did ``exc`` (as aiohttp raised it) come from a refused address?"""
    if isinstance(exc, Refused):
        return True
    return isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error, Refused)

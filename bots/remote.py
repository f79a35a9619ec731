"""The customer's address behind a reverse proxy (``SVYAZ_TRUSTED_PROXIES``).

A shop's site usually reaches svyaz through nginx or another TLS proxy, so every web chat
socket comes from the proxy's address and the per-address socket limit would count all
customers as one. For a request whose peer is a trusted proxy, the address is the right-most
``X-Forwarded-For`` entry that is not itself a trusted proxy (what each proxy appended); a
request from anyone else keeps its peer address, whatever headers it sends, so a direct
client cannot pick an address to dodge the limit. aiohttp-remotes was considered: its
filtered mode believes the header from any peer, its strict mode refuses requests that did
not pass through the proxy (a health check from the host itself).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from aiohttp.typedefs import Middleware

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def parse_networks(entries: Sequence[str]) -> tuple[Network, ...]:
    """``10.0.0.1``, ``10.0.0.0/8``, ``::1``; raises ``ValueError`` naming a bad entry."""
    found = []
    for entry in entries:
        try:
            found.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network (10.0.0.1, "
                             "10.0.0.0/8, ::1)") from None
    return tuple(found)


def _trusted(address: str | None, networks: tuple[Network, ...]) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # a unix socket peer, say
        return False
    return any(ip in net for net in networks)


def client_address(peer: str | None, forwarded_for: str | None,
                   networks: tuple[Network, ...]) -> str | None:
    """The customer's address for a request from ``peer`` carrying ``forwarded_for``."""
    if not forwarded_for or not _trusted(peer, networks):
        return peer
    for hop in reversed([part.strip() for part in forwarded_for.split(",")]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a mangled header: keep what we know
        if not _trusted(hop, networks):
            return hop
    return peer  # every hop is a proxy of ours: the request started there


def middleware(networks: tuple[Network, ...]) -> Middleware:
    @web.middleware
    async def remote(request: web.Request, handler: Handler) -> web.StreamResponse:
        headers = request.headers.getall("X-Forwarded-For", [])
        address = client_address(request.remote, ",".join(headers), networks)
        if address != request.remote and address is not None:
            request = request.clone(remote=address)
        return await handler(request)

    return remote

"""The client's address as far as we can trust it.

Guarantees:
- Without TRUSTED_PROXIES, the address is the TCP peer's: an
  `X-Forwarded-For` header from anyone else is ignored (a client cannot pick
  a fresh address per request to escape a rate limit).
- When the peer is one of TRUSTED_PROXIES, `X-Forwarded-For` is read from the
  right (the hop our proxy added) and the first address that is not itself a
  trusted proxy is the client. Anything unparsable ends the walk at the last
  trusted hop's word: the proxy's own peer.
"""

from __future__ import annotations

import ipaddress

from aiohttp import web

from callcenter.appkeys import SETTINGS
from callcenter.networks import address_in, parse_networks


def client_address(request: web.Request) -> str:
    remote = request.remote or "unknown"
    trusted = parse_networks(request.app[SETTINGS].trusted_proxies)
    if not trusted or not address_in(remote, trusted):
        return remote
    hops = [h.strip() for header in request.headers.getall("X-Forwarded-For", [])
            for h in header.split(",") if h.strip()]
    client = remote
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop.split("%", 1)[0])
        except ValueError:
            break
        client = hop
        if not address_in(hop, trusted):
            break
    return client

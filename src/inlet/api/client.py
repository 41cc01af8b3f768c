"""The client's address, as the login throttle keys it.

The TCP peer is the client unless the peer is a proxy the operator listed in
``INLET_TRUSTED_PROXIES``; only then is ``X-Forwarded-For`` read, from the right (each trusted proxy
appends the address it saw), and the rightmost address that is not itself a trusted proxy is the
client. Everything to the left of it was written by the client and is never believed: a guesser
cannot pick the address it is counted under.
"""

from __future__ import annotations

import ipaddress

from fastapi import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: tuple[Network, ...]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def forwarded_client(peer: str, forwarded: list[str], networks: tuple[Network, ...]) -> str:
    """The client's address given the TCP ``peer``, the ``X-Forwarded-For`` header values (in order)
    and the trusted proxy networks.

    An untrusted peer is the client whatever it says. Behind trusted proxies, the rightmost entry that
    is not a trusted proxy is the client; an entry that is not an address stops the walk at the hop to
    its right (a trusted proxy never writes one, so it came from the client side), and when every entry
    is a trusted proxy the leftmost one is the client."""
    address = _address(peer)
    if address is None or not networks or not _trusted(address, networks):
        return peer
    current = str(address)
    hops = [part for value in forwarded for part in value.split(",")]
    for hop in reversed(hops):
        parsed = _address(hop)
        if parsed is None:
            return current
        current = str(parsed)
        if not _trusted(parsed, networks):
            return current
    return current


def client_address(request: Request) -> str:
    """This request's client address (see the module docstring), at most 64 characters."""
    peer = request.client.host if request.client else UNKNOWN
    networks = request.app.state.services.settings.trusted_networks
    if not networks:
        return peer[:64]
    return forwarded_client(peer, request.headers.getlist("x-forwarded-for"), networks)[:64]

"""Which address the throttle counts: the peer, or behind trusted proxies the rightmost address in
X-Forwarded-For that is not a trusted proxy (pure; the live-socket tests are in
test_throttle_addresses.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from inlet.api.client import forwarded_client
from inlet.settings import Settings, parse_networks

PROXIES = parse_networks("127.0.0.9, 10.0.0.0/8, fd00::/8")


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("127.0.0.4", ["198.51.100.1"], "127.0.0.4"),  # a peer not listed: its header is ignored
        ("127.0.0.9", [], "127.0.0.9"),  # a listed proxy that forwards nothing is the client
        ("127.0.0.9", ["198.51.100.1"], "198.51.100.1"),
        ("127.0.0.9", ["203.0.113.5, 198.51.100.1"], "198.51.100.1"),  # the left part is the client's word
        ("127.0.0.9", ["203.0.113.5", "198.51.100.1, 10.0.0.3"], "198.51.100.1"),  # repeated headers, a chain
        ("127.0.0.9", ["10.0.0.2, 10.0.0.3"], "10.0.0.2"),  # every hop trusted: the leftmost
        ("127.0.0.9", ["198.51.100.1, not-an-address"], "127.0.0.9"),  # garbage stops at the hop right of it
        ("127.0.0.9", ["2001:db8::1, fd00::2"], "2001:db8::1"),
        ("127.0.0.9", [" 2001:DB8::1 "], "2001:db8::1"),
    ],
)
def test_forwarded_client(peer: str, forwarded: list[str], client: str) -> None:
    assert forwarded_client(peer, forwarded, PROXIES) == client


def test_no_trusted_proxies_by_default_and_typos_refused() -> None:
    assert Settings().trusted_networks == ()
    with pytest.raises(ValidationError):
        Settings(trusted_proxies="10.0.0.0/8, 10.0.0.300")

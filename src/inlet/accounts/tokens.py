"""Bearer secrets: generated here, stored only as SHA-256 digests, compared in constant time by lookup."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


def new_token() -> str:
    """A session or restricted token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def _bytes(text: str) -> bytes:
    # surrogatepass: whatever text a request decodes to (lone surrogates included) has bytes
    return text.encode("utf-8", "surrogatepass")


def digest(token: str) -> str:
    return hashlib.sha256(_bytes(token)).hexdigest()


def same(given: str, expected: str) -> bool:
    """Constant-time equality of two secrets, compared as UTF-8 bytes: ``hmac.compare_digest`` on
    ``str`` raises TypeError for non-ASCII text, which would turn a bad credential into a 500."""
    return hmac.compare_digest(_bytes(given), _bytes(expected))


def new_user_id() -> str:
    """Tidepool user ids are 10 lowercase hex characters."""
    return secrets.token_hex(5)


def b64url(raw: bytes) -> str:
    """Unpadded URL-safe base64 (RFC 4648 section 5), as signed values in cookies and OAuth states
    carry their MACs: no character that needs escaping in a URL or a cookie."""
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

"""The token vault: partner tokens encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256).

Keys come from ``INLET_TOKEN_KEYS`` (comma-separated Fernet keys): the first encrypts, every key
decrypts (``MultiFernet``), so a new key is added in front, ``inlet keys rotate`` re-encrypts every
stored token under it, and the old key can then be dropped. Without ``INLET_TOKEN_KEYS`` (demo and
embedded use) the keys live in ``<data dir>/token-keys``, created once with mode 0600, and a warning
says so: anyone who can read both that file and the database can read the tokens.

Nothing here ever logs or raises with a key or a plaintext in the message.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from inlet.settings import Settings

KEY_FILE_NAME = "token-keys"
log = logging.getLogger("inlet.partners.vault")


class VaultError(Exception):
    """A ciphertext that no configured key decrypts (wrong key, or tampered)."""


class KeyConfigError(ValueError):
    """``INLET_TOKEN_KEYS`` or the key file holds something that is not a Fernet key."""


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def parse_keys(text: str, source: str) -> list[str]:
    """Fernet keys separated by commas or line breaks; each is checked (the message names its
    position in ``source``, never its value)."""
    keys = [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]
    if not keys:
        raise KeyConfigError(f"{source} holds no key")
    for index, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except (ValueError, TypeError) as error:
            raise KeyConfigError(
                f"{source}: key {index} is not a Fernet key (32 url-safe base64-encoded bytes)"
            ) from error
    return keys


class TokenVault:
    """Encrypts JSON documents and text under the first key; decrypts under any key."""

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        if not keys:
            raise KeyConfigError("the token vault needs at least one key")
        self._keys = [k.encode("ascii") if isinstance(k, str) else k for k in keys]
        self._fernets = [Fernet(k) for k in self._keys]
        self._multi = MultiFernet(self._fernets)

    @property
    def key_count(self) -> int:
        return len(self._keys)

    def encrypt_text(self, plaintext: str) -> str:
        return self._multi.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt_text(self, ciphertext: str) -> str:
        try:
            return self._multi.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as error:
            raise VaultError("no configured token key decrypts this value") from error

    def encrypt_json(self, document: Mapping[str, Any]) -> str:
        return self._multi.encrypt(orjson.dumps(dict(document))).decode("ascii")

    def decrypt_json(self, ciphertext: str) -> dict[str, Any]:
        try:
            value = orjson.loads(self._multi.decrypt(ciphertext.encode("ascii")))
        except (InvalidToken, UnicodeError, orjson.JSONDecodeError) as error:
            raise VaultError("no configured token key decrypts this value") from error
        if not isinstance(value, dict):
            raise VaultError("the decrypted value is not a JSON object")
        return value

    def rotate(self, ciphertext: str) -> str:
        """The same plaintext, encrypted under the first key."""
        try:
            return self._multi.rotate(ciphertext.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError) as error:
            raise VaultError("no configured token key decrypts this value") from error

    def derive(self, label: bytes) -> list[bytes]:
        """One secret per key for another purpose (``label``), the first key's first: HMAC-SHA256 of
        the label under each key, so signing keys rotate with the token keys."""
        return [hmac.new(key, label, hashlib.sha256).digest() for key in self._keys]


def _read_key_file(path: Path) -> list[str]:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("the token key file %s is readable by others (mode %o): chmod 600 it", path, mode)
    return parse_keys(path.read_text(encoding="ascii"), str(path))


def _create_key_file(path: Path) -> None:
    """Write a new key to ``path`` unless it exists: through a private temporary file and a hard link,
    so two processes starting at once agree on one key and no one reads a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (generate_key() + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def load_vault(settings: Settings) -> TokenVault:
    """The vault from ``INLET_TOKEN_KEYS``, else from (a new) ``<data dir>/token-keys``."""
    if settings.token_keys is not None and settings.token_keys.get_secret_value().strip():
        return TokenVault(parse_keys(settings.token_keys.get_secret_value(), "INLET_TOKEN_KEYS"))
    path = (settings.data_dir / KEY_FILE_NAME).resolve()
    if not path.exists():
        _create_key_file(path)
        log.warning(
            "INLET_TOKEN_KEYS is not set: partner tokens are encrypted with a key created in %s "
            "(mode 0600). Anyone who can read it and the database can read the tokens; set "
            "INLET_TOKEN_KEYS in production.",
            path,
        )
    else:
        log.warning("INLET_TOKEN_KEYS is not set: partner tokens are encrypted with the key in %s", path)
    return TokenVault(_read_key_file(path))

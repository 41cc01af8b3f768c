"""The token vault: Fernet at rest, keys from INLET_TOKEN_KEYS or a private key file, a wrong key fails,
and ``inlet keys rotate`` re-encrypts everything under the first key."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner, Result

from inlet import cli
from inlet.db.schema import oauth_states, outbox, provider_sessions
from inlet.notify import Notifier, queued
from inlet.partners.registry import load_registry
from inlet.partners.service import PartnerService
from inlet.partners.vault import (
    KEY_FILE_NAME,
    KeyConfigError,
    TokenVault,
    VaultError,
    generate_key,
    load_vault,
)
from inlet.settings import Settings

TOKEN = {
    "access_token": "access-0123456789abcdef",
    "refresh_token": "refresh-0123456789abcdef",
    "expires_at": 1,
}


def test_round_trip_and_a_wrong_key_fails() -> None:
    vault = TokenVault([generate_key()])
    sealed = vault.encrypt_json(TOKEN)
    assert "access-0123456789abcdef" not in sealed
    assert vault.decrypt_json(sealed) == TOKEN
    assert vault.decrypt_text(vault.encrypt_text("verifier")) == "verifier"
    stranger = TokenVault([generate_key()])
    with pytest.raises(VaultError):
        stranger.decrypt_json(sealed)
    with pytest.raises(VaultError):
        stranger.decrypt_text(vault.encrypt_text("verifier"))
    tampered = sealed[:-5] + ("A" if sealed[-5] != "A" else "B") + sealed[-4:]
    with pytest.raises(VaultError):
        vault.decrypt_json(tampered)


def test_the_first_key_encrypts_and_every_key_decrypts() -> None:
    old, new = generate_key(), generate_key()
    sealed_old = TokenVault([old]).encrypt_json(TOKEN)
    both = TokenVault([new, old])
    assert both.decrypt_json(sealed_old) == TOKEN
    sealed_new = both.encrypt_json(TOKEN)
    assert TokenVault([new]).decrypt_json(sealed_new) == TOKEN
    with pytest.raises(VaultError):
        TokenVault([old]).decrypt_json(sealed_new)
    assert TokenVault([new]).decrypt_json(both.rotate(sealed_old)) == TOKEN


def test_keys_from_the_environment(tmp_path: Path) -> None:
    key = generate_key()
    settings = Settings(data_dir=tmp_path, token_keys=f" {key} , {generate_key()}")  # type: ignore[arg-type]
    vault = load_vault(settings)
    assert vault.key_count == 2
    assert TokenVault([key]).decrypt_json(vault.encrypt_json(TOKEN)) == TOKEN
    assert not (tmp_path / KEY_FILE_NAME).exists()


def test_a_bad_key_is_named_by_position_never_shown(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, token_keys=f"{generate_key()},not-a-real-key-at-all")  # type: ignore[arg-type]
    with pytest.raises(KeyConfigError, match="key 2 is not a Fernet key") as raised:
        load_vault(settings)
    assert "not-a-real-key" not in str(raised.value)


def test_without_keys_a_private_key_file_is_made_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(data_dir=tmp_path / "state")
    with caplog.at_level(logging.WARNING, logger="inlet.partners.vault"):
        first = load_vault(settings)
    path = tmp_path / "state" / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert any(
        "INLET_TOKEN_KEYS is not set" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records
    )
    assert path.read_text().strip() not in caplog.text
    second = load_vault(settings)  # the same key next time
    assert second.decrypt_json(first.encrypt_json(TOKEN)) == TOKEN
    assert [p.name for p in path.parent.iterdir()] == [KEY_FILE_NAME]  # no temporary file left

    os.chmod(path, 0o644)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="inlet.partners.vault"):
        load_vault(settings)
    assert "readable by others" in caplog.text


def _store_sessions(engine: Engine, vault: TokenVault, count: int) -> PartnerService:
    service = PartnerService(load_registry({}), vault)
    dexcom = service.registry.get("dexcom")
    acme = service.registry.get("acme")
    assert dexcom is not None
    assert acme is not None
    with engine.begin() as conn:
        for i in range(count):
            service.connect(conn, dexcom, f"{i:010x}", {**TOKEN, "access_token": f"access-{i}"}, None)
        service.start(conn, acme, "0000000000", "http://127.0.0.1:8000/v1/oauth/acme/redirect", None)
    return service


def test_rotation_re_encrypts_everything_under_the_first_key(engine: Engine) -> None:
    old, new = generate_key(), generate_key()
    _store_sessions(engine, TokenVault([old]), 3)
    with engine.begin() as conn:
        counts = PartnerService(load_registry({}), TokenVault([new, old])).rotate_keys(conn)
    assert (counts.sessions, counts.states, counts.failed) == (3, 1, 0)
    only_new = TokenVault([new])
    with engine.connect() as conn:
        tokens = [only_new.decrypt_json(t) for (t,) in conn.execute(select(provider_sessions.c.token))]
        verifier = conn.execute(select(oauth_states.c.code_verifier)).scalar_one()
    assert sorted(t["access_token"] for t in tokens) == ["access-0", "access-1", "access-2"]
    assert len(only_new.decrypt_text(verifier)) >= 43
    with pytest.raises(VaultError):
        TokenVault([old]).decrypt_json(_first_token(engine))


def _first_token(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(provider_sessions.c.token)).scalars().first())


def test_inlet_keys_rotate(engine: Engine, db_url: str, tmp_path: Path) -> None:
    old, new = generate_key(), generate_key()
    _store_sessions(engine, TokenVault([old]), 2)
    link = "http://127.0.0.1:8000/v1/oauth/dexcom/authorize?restricted_token=rotate-me"
    with engine.begin() as conn:  # a sealed connect-link email, and an older plain one with a link
        Notifier(cipher=TokenVault([old])).record(conn, "pat@example.org", "Connect", f"Open {link}", link)
        Notifier().record(conn, "kim@example.org", "Connect", f"Open {link}", link)
    env = {"INLET_DATA_DIR": str(tmp_path / "state"), "INLET_DATABASE_URL": db_url}

    def rotate(keys: str) -> Result:
        return CliRunner().invoke(cli.app, ["keys", "rotate"], env={**env, "INLET_TOKEN_KEYS": keys})

    done = rotate(f"{new},{old}")
    assert done.exit_code == 0, done.output
    assert "2 provider session(s), 1 OAuth state(s); 0 could not be decrypted" in done.stdout
    assert old not in done.output
    assert new not in done.output
    assert TokenVault([new]).decrypt_json(_first_token(engine))["refresh_token"] == TOKEN["refresh_token"]
    assert "outbox: 1 email(s) re-encrypted, 1 plain one(s) with a link sealed" in done.stdout
    with engine.connect() as conn:
        assert "rotate-me" not in repr(conn.execute(select(outbox)).all())
        emails = list(queued(conn, cipher=TokenVault([new])))  # the new key alone opens both
    assert [e.link for e in emails] == [link, link]

    lost = rotate(generate_key())  # a key that never encrypted anything
    assert lost.exit_code == 1
    assert "5 could not be decrypted" in lost.stdout  # 2 sessions, 1 state, 2 emails
    bad = rotate("garbage")
    assert bad.exit_code == 2
    assert "INLET_TOKEN_KEYS: key 1 is not a Fernet key" in bad.output

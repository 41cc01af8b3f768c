"""No partner token, PKCE verifier or client secret is ever written in the clear: not in any file of the
data directory (the SQLite database, its -wal and -shm files, the key file), not in any row of any
table (PostgreSQL too), not in any log line or anything printed; raw, base64 (standard and URL-safe,
at every alignment), hex or URL-encoded."""

from __future__ import annotations

import base64
import logging
from urllib.parse import quote

import pytest
from sqlalchemy import select

from inlet.db.schema import metadata, oauth_states
from inlet.simulator import BackgroundSimulator

from .conftest import CLIENT_SECRET, Browser, Inlet, outcome

SIMULATOR_THREAD = "inlet-simulator"  # inlet.simulator.server names its thread so


def encodings(secret: str) -> set[bytes]:
    """The forms a secret could take when written somewhere. Base64 depends on where the secret
    starts within what is encoded, so each of the three alignments is covered: the characters that
    mix in neighbouring bytes are cut off both ends."""
    raw = secret.encode()
    forms = {raw, raw.hex().encode(), raw.hex().upper().encode(), quote(secret, safe="").encode()}
    for shift, cut in ((0, 0), (1, 2), (2, 3)):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * shift + raw).rstrip(b"=")
            forms.add(encoded[cut:-3])
    return {form for form in forms if len(form) >= 16}


def leaks(haystack: bytes, secrets: dict[str, str]) -> list[str]:
    found = []
    for name, secret in secrets.items():
        if any(form in haystack for form in encodings(secret)):
            found.append(name)
    return found


def issued_tokens(sim: BackgroundSimulator, prefix: str) -> dict[str, str]:
    store = sim.simulator.oauth.store
    tokens = {f"{prefix} access token {i}": t for i, t in enumerate(store.by_access)}
    tokens.update({f"{prefix} refresh token {i}": t for i, t in enumerate(store.by_refresh)})
    return tokens


def test_no_token_in_files_rows_or_logs(
    inlet: Inlet,
    browser: Browser,
    dexcom_sim: BackgroundSimulator,
    acme_sim: BackgroundSimulator,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    person = inlet.signup()
    assert outcome(browser.connect(inlet, person, "dexcom", "SandboxUser1")) == "authorized"
    assert outcome(browser.connect(inlet, person, "acme", "acme-user-1")) == "authorized"
    assert outcome(browser.connect(inlet, person, "acme", "acme-user-1")) == "authorized"  # reconnect

    secrets = {**issued_tokens(dexcom_sim, "dexcom"), **issued_tokens(acme_sim, "acme")}
    assert len(secrets) == 6  # three connections, an access and a refresh token each
    secrets["client secret"] = CLIENT_SECRET
    vault = inlet.services.partners.vault
    with inlet.services.engine.connect() as conn:
        pkce = select(oauth_states.c.code_verifier).where(oauth_states.c.code_verifier.is_not(None))
        ciphertexts = conn.execute(pkce)
        verifiers = [vault.decrypt_text(value) for (value,) in ciphertexts]
    assert len(verifiers) == 2  # ACME's PKCE verifiers (kept, spent, until they are purged)
    secrets.update({f"PKCE verifier {i}": v for i, v in enumerate(verifiers)})

    # the stored sessions really hold the live tokens, only encrypted
    stored = [vault.decrypt_json(row.token) for row in inlet.sessions(person.user_id)]
    assert {t["access_token"] for t in stored} <= set(secrets.values())

    # disconnecting revokes at ACME: the refresh token travels in a request body, never to a log
    assert (
        inlet.http.delete(f"{inlet.url}/v1/oauth/acme/authorize", headers=person.headers).status_code == 200
    )

    # every row of every table
    with inlet.services.engine.connect() as conn:
        dump = "\n".join(
            repr(tuple(row)) for table in metadata.sorted_tables for row in conn.execute(select(table))
        ).encode()
    assert leaks(dump, secrets) == []
    assert b"gAAAAA" in dump  # the Fernet ciphertexts are there

    # every file of the data directory: the database, its -wal and -shm, the key file
    files = sorted(p for p in inlet.data_dir.rglob("*") if p.is_file())
    names = {p.name for p in files}
    assert "token-keys" in names
    if inlet.services.engine.dialect.name == "sqlite":
        assert {"inlet.db", "inlet.db-wal", "inlet.db-shm"} <= names
    for path in files:
        assert leaks(path.read_bytes(), secrets) == [], path

    # every log line (every logger, DEBUG and up) of every thread but the partners' own: the
    # simulators are the partners' servers (Authlib's server code logs the tokens it issues at DEBUG)
    ours = [r for r in caplog.records if r.threadName != SIMULATOR_THREAD]
    assert len(ours) < len(caplog.records)
    messages = [record.getMessage() for record in ours]
    assert any("connected user" in m for m in messages)  # Inlet did log the connections
    assert any("grant revoked" in m for m in messages)
    handler = logging.Formatter("%(levelname)s %(name)s %(message)s")
    logged = "\n".join(handler.format(record) for record in ours).encode()
    assert leaks(logged, secrets) == []
    out, err = capfd.readouterr()
    assert leaks((out + err).encode(), secrets) == []


def test_the_search_finds_what_it_looks_for() -> None:
    secret = "P5IxnX21lSDXA3rqeBaR-u3WphgZ4rUYNJshlVHMdTI"
    for shift in range(3):
        blob = base64.b64encode(b"{" * shift + b'{"access_token": "' + secret.encode() + b'"}')
        assert leaks(b"prefix " + blob + b" suffix", {"t": secret}) == ["t"]
    assert leaks(secret.encode().hex().encode(), {"t": secret}) == ["t"]
    assert leaks(b"nothing here", {"t": secret}) == []

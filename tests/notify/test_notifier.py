"""The notifier against real databases and a real SMTP server: outbox mode, SMTP with and without
STARTTLS and AUTH, failures that keep the email queued, and the retry."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select, update

from inlet.db.schema import outbox, users
from inlet.notify import Email, Notifier, SealedError, SmtpConfig, queued, reseal
from inlet.partners.vault import TokenVault, generate_key
from tests.notify.conftest import SMTP_PASSWORD, SMTP_USER, Certificate, StartSmtp

T0 = datetime(2026, 3, 20, 12, 0, 0, 123456, tzinfo=UTC)
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")
LINK = "http://127.0.0.1:8000/v1/oauth/dexcom/authorize?restricted_token=rt-secret-123"
BODY = "Dr. Who asks you to connect your Dexcom account. Glucose 5.5 mmol/L is not logged."
CREDENTIALS = f"{SMTP_USER}:p%40ss%3Aw%2Frd%25S3cret@"


def _rows(engine: Engine) -> list[Email]:
    with engine.connect() as conn:
        return list(queued(conn, include_sent=True))


def _send(engine: Engine, notifier: Notifier, to: str = "pat@example.org", link: str | None = LINK) -> Email:
    """Record an email in a transaction (delivered after its commit); the row as it is then."""
    with notifier.transaction(engine) as conn:
        email_id = notifier.record(conn, to, "Connect your Dexcom account", BODY, link=link).id
    with engine.connect() as conn:
        row = conn.execute(select(outbox).where(outbox.c.id == email_id)).one()
    return Email.from_row(row, notifier.cipher)


# ---- outbox mode --------------------------------------------------------------------------------------


def test_outbox_mode_queues_rows_in_the_callers_transaction(engine: Engine) -> None:
    notifier = Notifier(clock=lambda: T0)
    with engine.begin() as conn:
        first = notifier.record(conn, "pat@example.org", "Connect your Dexcom account", BODY, link=LINK)
        second = notifier.record(conn, "kid@example.net", "Reminder", "Still waiting.")
    assert not first.sent
    assert second.id > first.id

    with engine.connect() as conn:
        pending = list(queued(conn))
    assert [e.to for e in pending] == ["pat@example.org", "kid@example.net"]
    assert all(e.sent_time is None and e.attempts == 0 and e.last_error is None for e in pending)
    line = pending[0].to_json()
    assert list(line) == ["to", "subject", "body", "link", "createdTime"]
    assert line == {
        "to": "pat@example.org",
        "subject": "Connect your Dexcom account",
        "body": BODY,
        "link": LINK,
        "createdTime": "2026-03-20T12:00:00.123456Z",
    }
    assert pending[1].to_json()["link"] is None

    # the row belongs to the caller's transaction: a rollback takes it away
    with engine.connect() as conn:
        notifier.record(conn, "gone@example.org", "never", "never")
        conn.rollback()
    assert len(_rows(engine)) == 2


@pytest.mark.parametrize(
    ("to", "subject"),
    [
        ("pat@example.org\r\nBcc: all@example.org", "hi"),
        ("pat@example.org", "hi\nBcc: x@y"),
        ("nobody", "hi"),
    ],
)
def test_send_refuses_header_injection_and_non_addresses(engine: Engine, to: str, subject: str) -> None:
    with engine.begin() as conn, pytest.raises(ValueError, match="email"):
        Notifier().record(conn, to, subject, "body")
    assert _rows(engine) == []


# ---- SMTP mode ----------------------------------------------------------------------------------------


def test_smtp_without_auth_sends_and_records_it(engine: Engine, start_smtp: StartSmtp) -> None:
    server = start_smtp()
    notifier = Notifier(smtp=SmtpConfig.parse(server.url()), mail_from="care@inlet.example", clock=lambda: T0)
    email = _send(engine, notifier)

    assert email.sent
    [received] = server.messages
    assert received.mail_from == "care@inlet.example"
    assert received.rcpt_tos == ["pat@example.org"]
    assert received.login is None
    assert not received.tls
    message = received.message
    assert message["From"] == "care@inlet.example"
    assert message["To"] == "pat@example.org"
    assert message["Subject"] == "Connect your Dexcom account"
    assert message["Message-ID"] == f"<outbox.{email.id}.{email.created_time}@inlet.example>"
    assert message["Date"].datetime == T0.replace(microsecond=0)
    text = message.get_content()
    assert BODY in text
    assert LINK in text  # appended because the body did not carry it

    [row] = _rows(engine)
    assert row.sent_time == email.sent_time == int(T0.timestamp() * 1_000_000)
    assert (row.attempts, row.last_error) == (1, None)
    with engine.connect() as conn:
        assert list(queued(conn)) == []


def test_link_already_in_the_body_is_not_repeated(engine: Engine, start_smtp: StartSmtp) -> None:
    server = start_smtp()
    notifier = Notifier(smtp=SmtpConfig.parse(server.url()))
    with notifier.transaction(engine) as conn:
        notifier.record(conn, "pat@example.org", "Connect", f"Open {LINK} to connect.", link=LINK)
    assert server.messages[0].message.get_content().count(LINK) == 1


def test_smtp_with_starttls_and_auth(engine: Engine, start_smtp: StartSmtp, certificate: Certificate) -> None:
    server = start_smtp(tls=True, auth=True)
    smtp = SmtpConfig.parse(server.url(credentials=CREDENTIALS, starttls=True))
    assert (smtp.username, smtp.password, smtp.starttls) == (SMTP_USER, SMTP_PASSWORD, True)
    assert SMTP_PASSWORD not in repr(smtp)
    notifier = Notifier(smtp=smtp, ssl_context=certificate.client_context())

    assert _send(engine, notifier).sent
    [received] = server.messages
    assert received.tls
    assert received.login == SMTP_USER


def test_smtp_auth_without_tls(engine: Engine, start_smtp: StartSmtp) -> None:
    server = start_smtp(auth=True)
    notifier = Notifier(smtp=SmtpConfig.parse(server.url(credentials=CREDENTIALS)))
    assert _send(engine, notifier).sent
    assert server.messages[0].login == SMTP_USER


def test_starttls_asked_but_not_offered_is_a_failure_not_plain_text(
    engine: Engine, start_smtp: StartSmtp
) -> None:
    server = start_smtp()
    notifier = Notifier(smtp=SmtpConfig.parse(server.url(credentials=CREDENTIALS, starttls=True)))
    email = _send(engine, notifier)
    assert not email.sent
    assert email.last_error is not None
    assert email.last_error.startswith("SMTPNotSupportedError")
    assert server.messages == []


def test_untrusted_certificate_is_refused(engine: Engine, start_smtp: StartSmtp) -> None:
    server = start_smtp(tls=True)
    email = _send(engine, Notifier(smtp=SmtpConfig.parse(server.url(starttls=True))))  # system trust store
    assert not email.sent
    assert email.last_error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in email.last_error
    assert server.messages == []


def test_wrong_password_stays_queued_and_no_secret_or_body_is_logged(
    engine: Engine, start_smtp: StartSmtp, certificate: Certificate, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = start_smtp(tls=True, auth=True)
    wrong = "Wr0ng-s3cret-pw"
    notifier = Notifier(
        smtp=SmtpConfig.parse(server.url(credentials=f"{SMTP_USER}:{wrong}@", starttls=True)),
        ssl_context=certificate.client_context(),
    )
    email = _send(engine, notifier)
    assert not email.sent
    [row] = _rows(engine)
    assert row.sent_time is None
    assert row.attempts == 1
    assert row.last_error is not None
    assert row.last_error.startswith("SMTPAuthenticationError")
    assert wrong not in row.last_error
    assert server.messages == []

    # a good password, for a logged success as well
    good = Notifier(
        smtp=SmtpConfig.parse(server.url(credentials=CREDENTIALS, starttls=True)),
        ssl_context=certificate.client_context(),
    )
    assert _send(engine, good).sent

    ours = [r for r in caplog.records if r.name.startswith("inlet")]
    assert any("@example.org" in r.getMessage() and "not delivered" in r.getMessage() for r in ours)
    assert any("email sent to @example.org" in r.getMessage() for r in ours)
    for record in caplog.records:
        if record.name == "mail.log":  # the test server's own log (it is not part of Inlet)
            continue
        text = record.getMessage() + repr(record.args) + repr(record.__dict__)
        for secret in (wrong, SMTP_PASSWORD, "p%40ss", BODY, "rt-secret-123", "pat@example.org"):
            assert secret not in text, f"{secret!r} logged by {record.name}"


def test_smtp_down_keeps_the_email_queued_and_the_transaction_alive(engine: Engine, closed_port: int) -> None:
    notifier = Notifier(smtp=SmtpConfig.parse(f"smtp://127.0.0.1:{closed_port}"), timeout=2)
    with notifier.transaction(engine) as conn:
        notifier.record(conn, "pat@example.org", "Connect", BODY, link=LINK)
        # the caller's transaction goes on working, and commits
        assert conn.execute(select(func.count()).select_from(users)).scalar_one() == 0
        notifier.record(conn, "kid@example.net", "Reminder", "Still waiting.")
    email = _rows(engine)[0]
    assert not email.sent
    assert email.attempts == 1
    assert email.last_error is not None
    assert email.last_error.startswith("ConnectionRefusedError")
    rows = _rows(engine)
    assert [(r.to, r.sent_time, r.attempts) for r in rows] == [
        ("pat@example.org", None, 1),
        ("kid@example.net", None, 1),
    ]
    assert rows[0].last_error == email.last_error


# ---- retry --------------------------------------------------------------------------------------------


def test_deliver_pending_retries_queued_emails(
    engine: Engine, start_smtp: StartSmtp, closed_port: int
) -> None:
    down = Notifier(smtp=SmtpConfig.parse(f"smtp://127.0.0.1:{closed_port}"), timeout=2)
    first = _send(engine, down)
    second = _send(engine, down, to="kid@example.net", link=None)
    outbox_only = _send(engine, Notifier(), to="third@example.com")  # queued while no SMTP was set up
    assert [first.sent, second.sent, outbox_only.sent] == [False, False, False]

    assert down.deliver_pending(engine).failed == 3
    server = start_smtp()
    up = Notifier(smtp=SmtpConfig.parse(server.url()))
    report = up.deliver_pending(engine)
    assert (report.sent, report.failed) == (3, 0)
    assert [m.rcpt_tos[0] for m in server.messages] == [
        "pat@example.org",
        "kid@example.net",
        "third@example.com",
    ]
    # the same message as the first attempt would have sent: Message-ID stable across retries
    assert server.messages[0].message["Message-ID"] == f"<outbox.{first.id}.{first.created_time}@localhost>"

    rows = _rows(engine)
    assert all(r.sent and r.last_error is None for r in rows)
    assert [r.attempts for r in rows] == [3, 3, 2]
    assert up.deliver_pending(engine) == type(report)(sent=0, failed=0)  # nothing is sent twice
    assert len(server.messages) == 3


def test_deliver_pending_gives_up_after_max_attempts(engine: Engine, closed_port: int) -> None:
    down = Notifier(smtp=SmtpConfig.parse(f"smtp://127.0.0.1:{closed_port}"), timeout=2, max_attempts=2)
    _send(engine, down)
    assert down.deliver_pending(engine).failed == 1
    assert down.deliver_pending(engine).failed == 0  # at the cap: left alone
    [row] = _rows(engine)
    assert (row.sent_time, row.attempts) == (None, 2)
    assert row.last_error is not None
    with engine.connect() as conn:  # still listed as queued, with its error
        assert [e.id for e in queued(conn)] == [row.id]


def test_deliver_pending_without_smtp_does_nothing(engine: Engine) -> None:
    _send(engine, Notifier())
    assert Notifier().deliver_pending(engine).sent == 0
    [row] = _rows(engine)
    assert (row.sent_time, row.attempts) == (None, 0)


def test_deliver_pending_skips_rows_sent_meanwhile(engine: Engine, start_smtp: StartSmtp) -> None:
    email = _send(engine, Notifier())
    with engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id == email.id).values(sent_time=1))
    server = start_smtp()
    assert Notifier(smtp=SmtpConfig.parse(server.url())).deliver_pending(engine).sent == 0
    assert server.messages == []


def test_rfc3339_created_time() -> None:
    email = Email(1, "a@b.c", "s", "b", None, created_time=int(T0.replace(microsecond=0).timestamp() * 1e6))
    created = email.to_json()["createdTime"]
    assert RFC3339_UTC.fullmatch(created)
    assert datetime.fromisoformat(created) == T0.replace(microsecond=0)


# ---- sealed at rest -------------------------------------------------------------------------------------


def _stored(engine: Engine) -> str:
    with engine.connect() as conn:
        return repr(conn.execute(select(outbox)).all())


def test_sealed_rows_hold_no_link_and_open_only_with_the_keys(engine: Engine) -> None:
    vault = TokenVault([generate_key()])
    sealed = Notifier(clock=lambda: T0, cipher=vault)
    email = _send(engine, sealed)
    assert (email.body, email.link) == (BODY, LINK)  # the caller gets the plain email
    stored = _stored(engine)
    assert "rt-secret-123" not in stored
    assert "Dr. Who" not in stored
    assert "Connect your Dexcom account" in stored  # the subject is not a credential
    with engine.connect() as conn:
        [opened] = queued(conn, cipher=vault)
        assert (opened.body, opened.link) == (BODY, LINK)
        with pytest.raises(SealedError):
            list(queued(conn))  # no keys
        with pytest.raises(SealedError):
            list(queued(conn, cipher=TokenVault([generate_key()])))  # the wrong keys


def test_sealed_rows_are_delivered_with_the_plain_link(
    engine: Engine, start_smtp: StartSmtp, closed_port: int
) -> None:
    vault = TokenVault([generate_key()])
    down = Notifier(smtp=SmtpConfig.parse(f"smtp://127.0.0.1:{closed_port}"), timeout=2, cipher=vault)
    _send(engine, down, link=None)  # queued: SMTP down
    queued_plain = Notifier(cipher=vault)  # queued while no SMTP was set up
    _send(engine, queued_plain)
    assert "rt-secret-123" not in _stored(engine)
    server = start_smtp()
    # a deliverer without the right keys sends nothing it cannot open, and says why
    wrong = Notifier(smtp=SmtpConfig.parse(server.url()), cipher=TokenVault([generate_key()]))
    assert wrong.deliver_pending(engine).failed == 2
    assert server.messages == []
    up = Notifier(smtp=SmtpConfig.parse(server.url()), cipher=vault)
    assert up.deliver_pending(engine).sent == 2
    texts = [m.message.get_content() for m in server.messages]
    assert BODY in texts[0]
    assert LINK in texts[1]
    assert "rt-secret-123" not in _stored(engine)  # still sealed after sending


def test_reseal_rotates_sealed_rows_and_seals_older_plain_links(engine: Engine) -> None:
    old, new = generate_key(), generate_key()
    _send(engine, Notifier(cipher=TokenVault([old])))  # sealed under the old key
    _send(engine, Notifier(), to="older@example.org")  # plain, from before sealing, with a link
    _send(engine, Notifier(), to="notice@example.org", link=None)  # plain, no link: left as it is
    with engine.begin() as conn:
        counts = reseal(conn, TokenVault([new, old]))
    assert (counts.resealed, counts.sealed, counts.failed) == (1, 1, 0)
    assert "rt-secret-123" not in _stored(engine)
    with engine.connect() as conn:
        rows = list(queued(conn, cipher=TokenVault([new])))  # the old key is no longer needed
    assert [(r.to, r.link) for r in rows] == [
        ("pat@example.org", LINK),
        ("older@example.org", LINK),
        ("notice@example.org", None),
    ]
    with engine.begin() as conn:
        assert reseal(conn, TokenVault([generate_key()])).failed == 2  # keys that open nothing

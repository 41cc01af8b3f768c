"""``INLET_SMTP_URL`` parsing, and the notifier built from settings (and wired into the services)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from inlet.db.engine import create_db_engine
from inlet.notify import Notifier, SmtpConfig, SmtpUrlError
from inlet.services import create_services
from inlet.settings import load_settings


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.org:25", SmtpConfig("mail.example.org", 25)),
        ("smtp://mail.example.org", SmtpConfig("mail.example.org", 25)),
        ("smtp://127.0.0.1:2525?starttls=1", SmtpConfig("127.0.0.1", 2525, starttls=True)),
        ("smtp://127.0.0.1:2525?starttls=0", SmtpConfig("127.0.0.1", 2525)),
        ("SMTP://relay:587?starttls=true", SmtpConfig("relay", 587, starttls=True)),
        ("smtp://me:secret@relay:587?starttls=1", SmtpConfig("relay", 587, "me", "secret", True)),
        ("smtp://me%40x.org:p%3A%40%2F@relay:587", SmtpConfig("relay", 587, "me@x.org", "p:@/")),
        ("smtp://me@relay:25", SmtpConfig("relay", 25, "me", "")),
    ],
)
def test_parse(url: str, expected: SmtpConfig) -> None:
    assert SmtpConfig.parse(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "smtps://me:hunter2pw@relay:465",
        "http://me:hunter2pw@relay:25",
        "smtp://me:hunter2pw@:25",
        "smtp://me:hunter2pw@relay:notaport",
        "smtp://me:hunter2pw@relay:25?starttls=maybe",
        "smtp://me:hunter2pw@relay:25?tls=1",
        "mail.example.org:25",
    ],
)
def test_malformed_urls_are_refused_without_repeating_the_password(url: str) -> None:
    with pytest.raises(SmtpUrlError) as caught:
        SmtpConfig.parse(url)
    assert "hunter2pw" not in str(caught.value)


def test_redact() -> None:
    smtp = SmtpConfig.parse("smtp://me:p%3Aw@relay:25")
    assert (
        smtp.redact("login p:w failed; url smtp://me:p%3Aw@relay")
        == "login *** failed; url smtp://me:***@relay"
    )


def test_notifier_from_settings_and_services(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path, smtp_url="smtp://me:pw@relay:587?starttls=1", mail_from="care@inlet.example"
    )
    notifier = Notifier.from_settings(settings)
    assert notifier.smtp == SmtpConfig("relay", 587, "me", "pw", True)
    assert notifier.mail_from == "care@inlet.example"
    assert Notifier.from_settings(load_settings(data_dir=tmp_path)).smtp is None
    assert Notifier.from_settings(load_settings(data_dir=tmp_path)).mail_from == "inlet@localhost"

    engine = create_db_engine(f"sqlite:///{tmp_path / 'inlet.db'}")
    try:
        services = create_services(settings, engine)
        assert services.notifier == replace(notifier, cipher=services.partners.vault)  # sealed at rest
    finally:
        engine.dispose()

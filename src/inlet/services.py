"""The composition root's product: the services every request handler, the worker and the CLI share.

It sits below the routers and the app factory (``inlet.app`` only assembles an app around one of
these), so a handler can be typed against :class:`Services` without importing the app. The domains
never import this module at run time; they receive a ``Services`` and call what they need on it.

Where a lower layer needs an answer that only a higher one knows, it asks through a hook registered
here instead of importing upward:

- ``grant_hooks``: what else a grantee holds on an owner's account (clinics add what a patient
  shares with each clinic);
- ``contact_hooks``: who else to tell about a person's account (clinics add their address or their
  clinicians'), used by the sync engine when a partner connection stops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from inlet.accounts.clinics import clinic_contacts, clinic_grants
from inlet.accounts.service import AccountService
from inlet.data.service import DataService
from inlet.db.engine import create_db_engine
from inlet.notify import Notifier
from inlet.partners.registry import load_registry
from inlet.partners.service import PartnerService
from inlet.partners.vault import load_vault
from inlet.settings import Settings

GrantHook = Callable[[Connection, str, str], set[str]]
"""``(conn, owner_id, grantee_id) -> permissions``: what ``grantee_id`` also holds on ``owner_id``."""
ContactHook = Callable[[Connection, str], list[str]]
"""``(conn, user_id) -> addresses``: who else should hear about ``user_id``'s account."""
ReportHook = Callable[[Connection, str, datetime, datetime, str], bytes]
"""``(conn, user_id, start, end, bg_units) -> PDF``: the one-page AGP report of ``[start, end)``."""


@dataclass
class Services:
    """What request handlers need, held on ``app.state.services``."""

    settings: Settings
    engine: Engine
    data: DataService
    accounts: AccountService
    partners: PartnerService
    notifier: Notifier = field(default_factory=Notifier)  # outbox only, unless built from settings
    grant_hooks: list[GrantHook] = field(default_factory=list)
    contact_hooks: list[ContactHook] = field(default_factory=list)
    report_pdf: ReportHook | None = None
    """The AGP report PDF of a person's window (the web layer draws it; the app registers it), for
    FHIR bundles that carry it as a DiagnosticReport."""

    def grants(self, conn: Connection, owner_id: str, grantee_id: str) -> set[str]:
        """Every permission ``owner_id`` gives ``grantee_id``: direct grants, then each hook's (clinics)."""
        have = set(self.accounts.granted(conn, owner_id, grantee_id))
        for hook in self.grant_hooks:
            have |= hook(conn, owner_id, grantee_id)
        return have

    def contacts(self, conn: Connection, user_id: str) -> list[str]:
        """Whom to email about ``user_id``'s account: the person's own address first, then each
        hook's (their clinics), without repeats."""
        found: list[str] = []
        own = self.accounts.email_address(conn, user_id)
        if own is not None:
            found.append(own)
        for hook in self.contact_hooks:
            found.extend(hook(conn, user_id))
        return list(dict.fromkeys(found))


def create_services(settings: Settings, engine: Engine | None = None, **overrides: Any) -> Services:
    """Build every service from settings (the engine too, unless given); ``overrides`` replace fields."""
    engine = engine or create_db_engine(settings.resolved_database_url())
    accounts = AccountService(
        password_profile=settings.password_hashing,
        session_ttl_seconds=settings.session_ttl_minutes * 60,
        failures_per_pair=settings.login_failures_per_pair,
        failures_per_account=settings.login_failures_per_account,
        failures_per_address=settings.login_failures_per_address,
    )
    vault = load_vault(settings)
    partners = PartnerService(registry=load_registry(), vault=vault)
    services = Services(
        settings=settings,
        engine=engine,
        data=DataService(),
        accounts=accounts,
        partners=partners,
        notifier=Notifier.from_settings(settings, cipher=vault),  # emails sealed at rest
    )
    # Clinics: what a patient shares with a clinic, every clinician of that clinic holds; and a
    # clinic hears when a patient's partner connection stops.
    services.grant_hooks.append(clinic_grants)
    services.contact_hooks.append(clinic_contacts)
    for key, value in overrides.items():
        setattr(services, key, value)
    return services

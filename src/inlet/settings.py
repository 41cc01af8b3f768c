"""Settings: every knob is an ``INLET_*`` environment variable (pydantic-settings).

Nothing is read at import time; :func:`load_settings` builds a fresh object for each app or command.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024


class Settings(BaseSettings):
    """Inlet's configuration (see docs/contract.md for the public list)."""

    model_config = SettingsConfigDict(env_prefix="INLET_", extra="ignore")

    data_dir: Path = Field(default=Path(".inlet"), description="where embedded state lives")
    database_url: str | None = Field(default=None, description="sqlite:///... or postgresql://...")
    public_url: str = Field(default=DEFAULT_PUBLIC_URL, description="externally visible base URL")
    token_keys: SecretStr | None = Field(default=None, description="comma-separated Fernet keys")
    service_secret: SecretStr | None = Field(default=None, description="X-Tidepool-Service-Secret")
    smtp_url: str | None = None
    mail_from: str = "inlet@localhost"
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, gt=0)
    log_level: str = "INFO"
    log_format: str = Field(
        default="console", pattern="^(console|json)$", description="console or json lines"
    )
    raw_retention_days: int = Field(
        default=30, ge=0, description="days partner payloads are kept (0: forever)"
    )
    pg_partitions: int = Field(
        default=16,
        ge=1,
        description="hash partitions of device_data on PostgreSQL (read when the migration creates them)",
    )
    sync_time_budget_seconds: float = Field(default=900.0, gt=0, description="the longest one sync run lasts")
    sync_lease_seconds: float = Field(default=300.0, gt=0, description="a sync task's lease")
    sync_stall_hours: float = Field(
        default=24.0, gt=0, description="a source with no successful run for this long goes to error"
    )
    fhir_endpoints: str | None = Field(
        default=None, description="FHIR servers that receive CGM bundles: name=base URL, comma-separated"
    )
    fhir_push_interval_minutes: int = Field(default=60, gt=0, description="minutes between FHIR pushes")
    session_ttl_minutes: int = Field(default=60, gt=0, description="session token lifetime")
    password_hashing: str = Field(
        default="standard", pattern="^(standard|fast-insecure-for-tests)$", description="argon2 cost profile"
    )
    # Login throttling: failed logins within 15 minutes, counted in the database (so every process
    # shares them). The pair rule stops one guesser at one account; the account rule stops a guesser
    # who changes addresses; the address rule stops one address trying many accounts.
    login_failures_per_pair: int = Field(default=5, gt=0, description="per account and address")
    login_failures_per_account: int = Field(default=10, gt=0, description="per account, all addresses")
    login_failures_per_address: int = Field(default=50, gt=0, description="per address, all accounts")
    trusted_proxies: str = Field(
        default="", description="comma-separated addresses or CIDRs whose X-Forwarded-For is believed"
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="bearer token for /metrics on the API port (unset: 404 there)"
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        """A typo in the proxy list must stop the server, not silently trust nobody (or everybody)."""
        parse_networks(value)
        return value

    @property
    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return parse_networks(self.trusted_proxies)

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'inlet.db').resolve()}"

    @property
    def public_base(self) -> str:
        return self.public_url.rstrip("/")


@lru_cache(maxsize=8)
def parse_networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``"10.0.0.1, 192.168.0.0/16"`` as networks (a bare address is a /32 or /128)."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]

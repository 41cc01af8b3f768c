"""The partner contract, checked on every folder under src/inlet/partners/: a manifest that parses
strictly into sound facts, and modules that keep to their jobs. Also the manifests' own facts, the
``INLET_PARTNER_<SLUG>_<FIELD>`` overrides, and blackout windows."""

from __future__ import annotations

import ast
import logging
import tomllib
from dataclasses import replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest

from inlet.model import parse
from inlet.partners.contract import (
    OVERRIDE_FIELDS,
    Blackout,
    ManifestError,
    Partner,
    PartnerClient,
    load_manifest,
    parse_manifest,
)
from inlet.partners.registry import PACKAGE_DIR, discover, load_registry, partner_folders

FOLDERS = partner_folders()
# What a partner's modules may import: HTTP and the contract, never storage, the API or other partners.
ALLOWED_IMPORTS = (
    "__future__",
    "typing",
    "collections",
    "dataclasses",
    "datetime",
    "re",
    "json",
    "hashlib",
    "orjson",
    "httpx2",
)
# the contract, the model, and the sync adapter's interface (sync.py); never the database or tokens
ALLOWED_INLET = ("inlet.partners.contract", "inlet.model", "inlet.partners.fetch")


def test_the_registry_finds_every_partner_folder() -> None:
    assert {"acme", "dexcom"} <= {f.name for f in FOLDERS}
    # every folder of the package is a partner: none lacks its manifest
    folders = {p.name for p in PACKAGE_DIR.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == {f.name for f in FOLDERS}
    assert load_registry({}).slugs == [f.name for f in FOLDERS]


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_every_partner_folder_keeps_the_contract(folder: Path) -> None:
    partner = load_manifest(folder / "manifest.toml", f"inlet.partners.{folder.name}")
    assert partner.slug == folder.name
    assert partner.display_name
    assert partner.description
    assert partner.auth_kind == "oauth2_authorization_code"
    assert partner.delivery in ("poll", "push")
    # endpoints: https by default, full URLs; the API base without a trailing slash
    for url in (
        partner.oauth.authorize_url,
        partner.oauth.token_url,
        partner.oauth.revoke_url,
        partner.api_url,
    ):
        if url is not None:
            assert urlsplit(url).scheme == "https", url
    assert not partner.api_url.endswith("/")
    # credentials are never committed: they come from the environment
    assert partner.oauth.client_id is None
    assert partner.oauth.client_secret is None
    assert not partner.configured
    assert partner.oauth.scopes
    # the data types are the model's
    assert partner.data_types
    assert set(partner.data_types) <= set(parse.type_names())
    policy = partner.policy
    assert 0 < policy.interval_min <= policy.interval_max
    assert policy.requests_per_hour > 0
    assert policy.max_days_per_request > 0
    assert date(2000, 1, 1) <= policy.history_start <= date.today()
    # the modules: an __init__, and client.Client, a PartnerClient that speaks HTTP only
    assert (folder / "__init__.py").is_file()
    client_class = partner.client_class()
    assert issubclass(client_class, PartnerClient)
    assert client_class is not PartnerClient
    with httpx2.Client(transport=httpx2.MockTransport(lambda r: httpx2.Response(500))) as http:
        assert isinstance(partner.client(http), PartnerClient)
    for module in sorted(folder.glob("*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree) or (module.name == "__init__.py" and not tree.body), module
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                own = name.startswith(f"inlet.partners.{folder.name}.")
                allowed = top in ALLOWED_IMPORTS or name.startswith(ALLOWED_INLET) or own
                assert allowed, f"{module.relative_to(PACKAGE_DIR)} imports {name}"


def test_dexcom_facts() -> None:
    dexcom = load_registry({}).get("dexcom")
    assert dexcom is not None
    assert dexcom.oauth.token_endpoint_auth_method == "client_secret_post"
    assert not dexcom.oauth.pkce
    assert dexcom.oauth.scopes == ("offline_access",)
    assert dexcom.oauth.authorize_url == "https://api.dexcom.com/v2/oauth2/login"
    assert dexcom.oauth.token_url == "https://api.dexcom.com/v2/oauth2/token"
    assert dexcom.oauth.revoke_url is None  # Dexcom documents none
    assert dexcom.api_url == "https://api.dexcom.com"
    assert (dexcom.policy.interval_min, dexcom.policy.interval_max) == (45, 75)
    assert dexcom.policy.requests_per_hour == 60_000
    assert dexcom.policy.max_days_per_request == 30
    assert dexcom.policy.blackouts == (Blackout(time(2, 45), time(3, 45), "America/Los_Angeles"),)
    assert dexcom.delivery == "poll"
    assert "cbg" in dexcom.data_types
    assert (
        dexcom.redirect_uri("https://inlet.example.org/")
        == "https://inlet.example.org/v1/oauth/dexcom/redirect"
    )


def test_acme_facts() -> None:
    acme = load_registry({}).get("acme")
    assert acme is not None
    assert acme.oauth.pkce
    assert acme.oauth.token_endpoint_auth_method == "client_secret_basic"
    assert acme.oauth.revoke_url is not None
    assert acme.policy.max_days_per_request == 7
    assert acme.policy.blackouts == ()
    assert set(acme.data_types) == {"basal", "bolus"}


def test_every_field_can_be_overridden() -> None:
    env = {
        "INLET_PARTNER_DEXCOM_AUTHORIZE_URL": "http://127.0.0.1:9001/login",
        "INLET_PARTNER_DEXCOM_TOKEN_URL": "http://127.0.0.1:9001/token",
        "INLET_PARTNER_DEXCOM_REVOKE_URL": "http://127.0.0.1:9001/revoke",
        "INLET_PARTNER_DEXCOM_API_URL": "https://sandbox-api.dexcom.com",
        "INLET_PARTNER_DEXCOM_CLIENT_ID": "my-app",
        "INLET_PARTNER_DEXCOM_CLIENT_SECRET": "my-secret",
        "INLET_PARTNER_DEXCOM_ENABLED": "yes",
        "INLET_PARTNER_DEXCOM_REQUESTS_PER_HOUR": "1200",
        "INLET_PARTNER_DEXCOM_INTERVAL_MIN": "105",
        "INLET_PARTNER_DEXCOM_INTERVAL_MAX": "135",
        "INLET_PARTNER_DEXCOM_HISTORY_START": "2020-02-29",
        "INLET_PARTNER_DEXCOM_HISTORY_DAYS": "400",
        "INLET_PARTNER_DEXCOM_BLACKOUTS": "01:30-02:00 Europe/Paris, 23:00-00:15 UTC",
    }
    assert {key.removeprefix("INLET_PARTNER_DEXCOM_") for key in env} == set(OVERRIDE_FIELDS)
    registry = load_registry(env)
    dexcom, acme = registry.get("dexcom"), registry.get("acme")
    assert dexcom is not None
    assert acme is not None
    assert dexcom.oauth.authorize_url == "http://127.0.0.1:9001/login"
    assert dexcom.oauth.token_url == "http://127.0.0.1:9001/token"
    assert dexcom.oauth.revoke_url == "http://127.0.0.1:9001/revoke"
    assert dexcom.api_url == "https://sandbox-api.dexcom.com"
    assert (dexcom.oauth.client_id, dexcom.oauth.client_secret) == ("my-app", "my-secret")
    assert dexcom.configured
    assert registry.available("dexcom") is dexcom
    assert dexcom.policy.requests_per_hour == 1200
    assert (dexcom.policy.interval_min, dexcom.policy.interval_max) == (105, 135)
    assert dexcom.policy.history_start == date(2020, 2, 29)
    assert dexcom.policy.history_days == 400
    assert dexcom.policy.blackouts == (
        Blackout(time(1, 30), time(2, 0), "Europe/Paris"),
        Blackout(time(23, 0), time(0, 15), "UTC"),
    )
    assert "my-secret" not in repr(dexcom)
    assert registry.available("acme") is None  # no credentials: not offered

    disabled = load_registry({**env, "INLET_PARTNER_DEXCOM_ENABLED": "false"})
    assert disabled.get("dexcom") is not None
    assert disabled.available("dexcom") is None
    unset = load_registry({"INLET_PARTNER_ACME_REVOKE_URL": ""}).get("acme")
    assert unset is not None
    assert unset.oauth.revoke_url is None
    no_windows = load_registry({"INLET_PARTNER_DEXCOM_BLACKOUTS": ""}).get("dexcom")
    assert no_windows is not None
    assert no_windows.policy.blackouts == ()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("INLET_PARTNER_DEXCOM_TOKEN_URL", "ftp://example.org/token"),
        ("INLET_PARTNER_DEXCOM_API_URL", "api.dexcom.com"),
        ("INLET_PARTNER_DEXCOM_ENABLED", "maybe"),
        ("INLET_PARTNER_DEXCOM_REQUESTS_PER_HOUR", "-5"),
        ("INLET_PARTNER_DEXCOM_INTERVAL_MIN", "90"),  # above the maximum of 75
        ("INLET_PARTNER_DEXCOM_HISTORY_START", "last year"),
        ("INLET_PARTNER_DEXCOM_BLACKOUTS", "02:45 to 03:45 America/Los_Angeles"),
        ("INLET_PARTNER_DEXCOM_BLACKOUTS", "02:45-03:45 Mars/Olympus_Mons"),
        ("INLET_PARTNER_DEXCOM_BLACKOUTS", "2:45-3:45 UTC"),
    ],
)
def test_a_bad_override_stops_start_up_naming_the_variable(key: str, value: str) -> None:
    with pytest.raises(ManifestError, match=key.removesuffix("_MIN")):
        load_registry({key: value})


def test_unknown_partner_variables_are_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="inlet.partners"):
        load_registry({"INLET_PARTNER_DEXCOM_CLIENTID": "typo", "INLET_PARTNER_FITBIT_CLIENT_ID": "x"})
    assert "INLET_PARTNER_DEXCOM_CLIENTID" in caplog.text
    assert "INLET_PARTNER_FITBIT_CLIENT_ID" in caplog.text


def _manifest() -> dict[str, Any]:
    return tomllib.loads((PACKAGE_DIR / "dexcom" / "manifest.toml").read_text())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.update(slug="Dexcom!"), "slug"),
        (lambda m: m.update(colour="blue"), "unknown key"),
        (lambda m: m["auth"].pop("token_url"), "token_url is missing"),
        (
            lambda m: m["auth"].update(token_endpoint_auth_method="private_key_jwt"),
            "token_endpoint_auth_method",
        ),
        (lambda m: m["auth"].update(pkce="yes"), "pkce"),
        (lambda m: m["policy"].update(requests_per_hour=0), "requests_per_hour"),
        (lambda m: m["policy"]["blackouts"][0].update(zone="Pacific/Nowhere"), "time zone"),
        (lambda m: m["policy"]["blackouts"][0].update(start="2:45"), "time of day"),
        (lambda m: m.update(delivery="carrier-pigeon"), "delivery"),
    ],
)
def test_a_manifest_is_read_strictly(change: Any, message: str) -> None:
    manifest = _manifest()
    change(manifest)
    with pytest.raises(ManifestError, match=message):
        parse_manifest(manifest, "dexcom/manifest.toml")


def test_the_folder_name_must_be_the_slug(tmp_path: Path) -> None:
    (tmp_path / "dexcom2").mkdir()
    (tmp_path / "dexcom2" / "manifest.toml").write_text(
        (PACKAGE_DIR / "dexcom" / "manifest.toml").read_text()
    )
    with pytest.raises(ManifestError, match="folder name"):
        discover(tmp_path, "elsewhere")


@pytest.mark.parametrize(
    ("instant", "inside"),
    [
        (datetime(2026, 7, 1, 9, 44, tzinfo=UTC), False),  # 02:44 PDT
        (datetime(2026, 7, 1, 9, 45, tzinfo=UTC), True),  # 02:45 PDT
        (datetime(2026, 7, 1, 10, 44, tzinfo=UTC), True),  # 03:44 PDT
        (datetime(2026, 7, 1, 10, 45, tzinfo=UTC), False),  # 03:45 PDT
        (datetime(2026, 1, 15, 10, 50, tzinfo=UTC), True),  # 02:50 PST: the window follows the wall clock
        (datetime(2026, 1, 15, 9, 50, tzinfo=UTC), False),  # 01:50 PST
    ],
)
def test_the_dexcom_blackout_follows_pacific_wall_clock_time(instant: datetime, inside: bool) -> None:
    dexcom = load_registry({}).get("dexcom")
    assert dexcom is not None
    assert any(window.contains(instant) for window in dexcom.policy.blackouts) is inside


def test_a_window_may_run_over_midnight() -> None:
    window = Blackout(time(23, 30), time(0, 30), "UTC")
    assert window.contains(datetime(2026, 1, 1, 23, 45, tzinfo=UTC))
    assert window.contains(datetime(2026, 1, 2, 0, 15, tzinfo=UTC))
    assert not window.contains(datetime(2026, 1, 2, 0, 30, tzinfo=UTC))


def test_a_partner_defined_in_code_gets_the_plain_client() -> None:
    dexcom = load_registry({}).get("dexcom")
    assert dexcom is not None
    custom: Partner = replace(dexcom, slug="custom", package=None)
    assert custom.client_class() is PartnerClient
    with httpx2.Client() as http:
        assert custom.client(http).external_id() is None

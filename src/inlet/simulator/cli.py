"""``inlet partner-sim``: run a partner simulator, or drive a running one's faults and clock.

    inlet partner-sim dexcom --port 0 --seed 1     # prints its base URL as the first line
    inlet partner-sim acme --port 0
    inlet partner-sim faults --url URL --admin-token T --error-rate 0.2 --latency-ms 500
    inlet partner-sim status --url URL --admin-token T

``run`` is also a plain function (``run(partner, host, port, seed, ...)``), so the main CLI can mount it
as a single command. The lines after the URL name the admin token, the OAuth client and the accounts.
The simulator uses the real clock (the admin API can move it forward). OAuth over plain HTTP works on
loopback only: Authlib refuses it on other hosts unless ``AUTHLIB_INSECURE_TRANSPORT=1`` is set.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import urllib.error
import urllib.request
from enum import StrEnum
from typing import Annotated, Any

import typer

from inlet.simulator.core import DEFAULT_CLIENT
from inlet.simulator.oauth import OAuthClient

app = typer.Typer(
    help="Partner simulators (a Dexcom-like CGM, the ACME pump) for demos and tests.", no_args_is_help=True
)


class Partner(StrEnum):
    dexcom = "dexcom"
    acme = "acme"


HostOption = Annotated[str, typer.Option(help="interface to bind (loopback by default)")]
PortOption = Annotated[int, typer.Option(help="port; 0 picks a free one")]
SeedOption = Annotated[int, typer.Option(help="seed of every simulated account's data")]
AdminTokenOption = Annotated[
    str | None,
    typer.Option(envvar="INLET_SIM_ADMIN_TOKEN", help="admin API token (default: a random one, printed)"),
]
ClientIdOption = Annotated[str, typer.Option(help="the registered OAuth client_id")]
ClientSecretOption = Annotated[str, typer.Option(help="the registered OAuth client_secret")]
RedirectOption = Annotated[
    list[str] | None,
    typer.Option("--redirect-uri", help="an allowed redirect URI (repeatable; loopback: any port)"),
]
RateOption = Annotated[int | None, typer.Option(help="requests per hour per app (default: the partner's)")]


def _redirect_uris(partner: str, extra: list[str] | None) -> tuple[str, ...]:
    uris = list(DEFAULT_CLIENT.redirect_uris)
    public = os.environ.get("INLET_PUBLIC_URL")
    if public:
        uris.append(f"{public.rstrip('/')}/v1/oauth/{partner}/redirect")
    uris.extend(extra or [])
    return tuple(dict.fromkeys(uris))


def run(
    partner: Partner | str,
    host: str = "127.0.0.1",
    port: int = 0,
    seed: int = 1,
    admin_token: str | None = None,
    client_id: str = DEFAULT_CLIENT.client_id,
    client_secret: str = DEFAULT_CLIENT.client_secret,
    redirect_uri: list[str] | None = None,
    requests_per_hour: int | None = None,
) -> None:
    """Serve a simulator on ``host:port`` with the real clock; prints its base URL first."""
    from inlet.simulator.acme import create_acme_app, default_acme_config
    from inlet.simulator.dexcom import create_dexcom_app, default_dexcom_config
    from inlet.simulator.server import serve

    name = Partner(partner).value
    token = admin_token or secrets.token_urlsafe(18)
    client = OAuthClient(client_id, client_secret, _redirect_uris(name, redirect_uri))
    overrides: dict[str, Any] = {"clients": (client,), "admin_token": token}
    if requests_per_hour is not None:
        overrides["requests_per_hour"] = requests_per_hour
    if name == "dexcom":
        application = create_dexcom_app(default_dexcom_config(seed, **overrides))
    else:
        application = create_acme_app(default_acme_config(seed, **overrides))
    simulator = application.state.simulator

    def ready(url: str) -> None:
        typer.echo(url)
        typer.echo(f"partner: {name}  seed: {seed}")
        typer.echo(f"admin token: {token}")
        typer.echo(f"OAuth client: {client.client_id} / {client.client_secret}")
        typer.echo(f"redirect URIs: {', '.join(client.redirect_uris)}")
        for account in simulator.accounts():
            typer.echo(f"account: {json.dumps(account)}")
        sys.stdout.flush()

    serve(application, host, port, ready, log_level="warning")


@app.command("run")
def run_command(
    partner: Annotated[Partner, typer.Argument(help="which partner to simulate")],
    host: HostOption = "127.0.0.1",
    port: PortOption = 0,
    seed: SeedOption = 1,
    admin_token: AdminTokenOption = None,
    client_id: ClientIdOption = DEFAULT_CLIENT.client_id,
    client_secret: ClientSecretOption = DEFAULT_CLIENT.client_secret,
    redirect_uri: RedirectOption = None,
    requests_per_hour: RateOption = None,
) -> None:
    """Run a partner simulator (prints its base URL as the first line)."""
    run(partner, host, port, seed, admin_token, client_id, client_secret, redirect_uri, requests_per_hour)


@app.command("dexcom")
def dexcom_command(
    host: HostOption = "127.0.0.1",
    port: PortOption = 0,
    seed: SeedOption = 1,
    admin_token: AdminTokenOption = None,
    client_id: ClientIdOption = DEFAULT_CLIENT.client_id,
    client_secret: ClientSecretOption = DEFAULT_CLIENT.client_secret,
    redirect_uri: RedirectOption = None,
    requests_per_hour: RateOption = None,
) -> None:
    """Run the Dexcom-like simulator (prints its base URL as the first line)."""
    run(
        Partner.dexcom,
        host,
        port,
        seed,
        admin_token,
        client_id,
        client_secret,
        redirect_uri,
        requests_per_hour,
    )


@app.command("acme")
def acme_command(
    host: HostOption = "127.0.0.1",
    port: PortOption = 0,
    seed: SeedOption = 1,
    admin_token: AdminTokenOption = None,
    client_id: ClientIdOption = DEFAULT_CLIENT.client_id,
    client_secret: ClientSecretOption = DEFAULT_CLIENT.client_secret,
    redirect_uri: RedirectOption = None,
    requests_per_hour: RateOption = None,
) -> None:
    """Run the ACME pump simulator (prints its base URL as the first line)."""
    run(
        Partner.acme, host, port, seed, admin_token, client_id, client_secret, redirect_uri, requests_per_hour
    )


# -- driving a running simulator -------------------------------------------------------------------
UrlOption = Annotated[str, typer.Option(envvar="INLET_SIM_URL", help="the simulator's base URL")]
RequiredTokenOption = Annotated[str, typer.Option(envvar="INLET_SIM_ADMIN_TOKEN", help="its admin token")]


def _call(url: str, token: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url.rstrip("/") + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as failure:
        detail = failure.read().decode("utf-8", "replace")
        typer.echo(f"{method} {path}: HTTP {failure.code} {detail}", err=True)
        raise typer.Exit(1) from failure
    except urllib.error.URLError as failure:
        typer.echo(f"cannot reach {url}: {failure.reason}", err=True)
        raise typer.Exit(1) from failure


@app.command("faults")
def faults_command(
    url: UrlOption,
    admin_token: RequiredTokenOption,
    clear: Annotated[bool, typer.Option(help="remove every fault first")] = False,
    error_rate: Annotated[float | None, typer.Option(help="share of requests answered 5xx (0-1)")] = None,
    error_status: Annotated[int | None, typer.Option(help="the 5xx status to answer")] = None,
    latency_ms: Annotated[int | None, typer.Option(help="added to every targeted request")] = None,
    timeout_rate: Annotated[float | None, typer.Option(help="share of requests that hang")] = None,
    hang_seconds: Annotated[float | None, typer.Option(help="how long a hang lasts")] = None,
    malformed_rate: Annotated[float | None, typer.Option(help="share of bodies made invalid JSON")] = None,
    truncated_rate: Annotated[float | None, typer.Option(help="share of bodies cut in half")] = None,
    truncate_mode: Annotated[str | None, typer.Option(help="close (drop the connection) or short")] = None,
    burst_429: Annotated[
        int | None, typer.Option("--burst-429", help="answer the next N requests 429")
    ] = None,
    retry_after: Annotated[int | None, typer.Option(help="Retry-After of injected 429s (seconds)")] = None,
    unknown_enums: Annotated[bool | None, typer.Option(help="unknown enum values in records")] = None,
    unstorable_since: Annotated[
        float | None,
        typer.Option(help="NUL and lone surrogates in records from this simulated epoch second on"),
    ] = None,
    target: Annotated[list[str] | None, typer.Option(help="data, token, revoke, login (repeatable)")] = None,
    revoke_account: Annotated[str | None, typer.Option(help="revoke every grant of this account")] = None,
    revoke_grant: Annotated[str | None, typer.Option(help="revoke this grant id")] = None,
    revoke_all: Annotated[bool, typer.Option(help="revoke every grant")] = False,
    expire_refresh_tokens: Annotated[bool, typer.Option(help="expire every refresh token now")] = False,
    expire_access_tokens: Annotated[bool, typer.Option(help="expire every access token now")] = False,
    advance: Annotated[float | None, typer.Option(help="advance the simulated clock by SECONDS")] = None,
) -> None:
    """Change a running simulator's faults, revoke grants, expire tokens or move its clock."""
    result: dict[str, Any] = {}
    if clear:
        _call(url, admin_token, "DELETE", "/admin/faults")
    update = {
        key: value
        for key, value in {
            "error_rate": error_rate,
            "error_status": error_status,
            "latency_ms": latency_ms,
            "timeout_rate": timeout_rate,
            "hang_seconds": hang_seconds,
            "malformed_rate": malformed_rate,
            "truncated_rate": truncated_rate,
            "truncate_mode": truncate_mode,
            "burst_429": burst_429,
            "retry_after": retry_after,
            "unknown_enums": unknown_enums,
            "unstorable_since": unstorable_since,
            "targets": target or None,
        }.items()
        if value is not None
    }
    result["faults"] = _call(url, admin_token, "POST" if update else "GET", "/admin/faults", update or None)
    if revoke_account or revoke_grant or revoke_all:
        selector = {"account": revoke_account, "grantId": revoke_grant}
        body = {key: value for key, value in selector.items() if value} if not revoke_all else {}
        result["revoke"] = _call(url, admin_token, "POST", "/admin/grants/revoke", body)
    if expire_refresh_tokens or expire_access_tokens:
        kind = (
            "all"
            if expire_refresh_tokens and expire_access_tokens
            else "refresh"
            if expire_refresh_tokens
            else "access"
        )
        result["expire"] = _call(url, admin_token, "POST", "/admin/tokens/expire", {"kind": kind})
    if advance is not None:
        result["clock"] = _call(url, admin_token, "POST", "/admin/clock", {"advanceSeconds": advance})
    typer.echo(json.dumps(result, indent=2))


@app.command("status")
def status_command(url: UrlOption, admin_token: RequiredTokenOption) -> None:
    """Print a running simulator's clock, faults, accounts and grants."""
    typer.echo(json.dumps(_call(url, admin_token, "GET", "/admin"), indent=2))


def main() -> None:
    app()

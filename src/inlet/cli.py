"""The ``inlet`` command line (typer)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(help="Inlet: an open, Tidepool-compatible diabetes data platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
keys_app = typer.Typer(help="Keys that encrypt partner tokens (INLET_TOKEN_KEYS).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
fhir_app = typer.Typer(help="FHIR push to INLET_FHIR_ENDPOINTS.", no_args_is_help=True)
app.add_typer(fhir_app, name="fhir")


def _partner_sim() -> typer.Typer:
    from inlet.simulator.cli import app as simulator_app

    return simulator_app


app.add_typer(_partner_sim(), name="partner-sim", help="Run a partner simulator (dexcom or acme).")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Create or upgrade the schema (Alembic)."""
    from inlet.db.engine import create_db_engine
    from inlet.db.migrate import upgrade
    from inlet.settings import load_settings

    settings = load_settings()
    engine = create_db_engine(settings.resolved_database_url())
    upgrade(engine, revision)
    typer.echo(f"schema at {revision} on {engine.url.render_as_string(hide_password=True)}")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored partner token under the first key of INLET_TOKEN_KEYS; prints counts.

    Add the new key in front of INLET_TOKEN_KEYS, run this, then drop the old key."""
    from inlet.db.engine import create_db_engine
    from inlet.db.migrate import upgrade
    from inlet.notify import reseal
    from inlet.partners.registry import PartnerRegistry
    from inlet.partners.service import PartnerService
    from inlet.partners.vault import KeyConfigError, load_vault
    from inlet.settings import load_settings

    settings = load_settings()
    try:
        vault = load_vault(settings)
    except KeyConfigError as error:
        typer.echo(f"keys rotate failed: {error}", err=True)
        raise typer.Exit(2) from error
    engine = create_db_engine(settings.resolved_database_url())
    try:
        upgrade(engine)
        with engine.begin() as conn:
            counts = PartnerService(PartnerRegistry(), vault).rotate_keys(conn)
            emails = reseal(conn, vault)
    finally:
        engine.dispose()
    failed = counts.failed + emails.failed
    typer.echo(
        f"re-encrypted under the first of {vault.key_count} key(s): {counts.sessions} provider session(s), "
        f"{counts.states} OAuth state(s); {failed} could not be decrypted with any key"
    )
    typer.echo(
        f"outbox: {emails.resealed} email(s) re-encrypted, {emails.sealed} plain one(s) with a link sealed"
    )
    raise typer.Exit(1 if failed else 0)


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new random Fernet key (for INLET_TOKEN_KEYS)."""
    from inlet.partners.vault import generate_key

    typer.echo(generate_key())


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port (0 picks a free one)")] = 8000,
    worker: Annotated[bool, typer.Option("--worker", help="also run the sync worker in-process")] = False,
    concurrency: Annotated[int, typer.Option(min=1, help="sync tasks run at the same time (--worker)")] = 4,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="also serve Prometheus metrics, without a token, on 127.0.0.1:PORT (0: any)"),
    ] = None,
) -> None:
    """Serve the HTTP API and the web pages. Without --worker it never syncs partners."""
    import uvicorn

    from inlet.app import create_app
    from inlet.db.engine import create_db_engine
    from inlet.db.migrate import upgrade
    from inlet.logs import configure_logging
    from inlet.settings import load_settings

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    engine = create_db_engine(settings.resolved_database_url())
    upgrade(engine)
    app = create_app(settings, engine=engine, worker=worker, worker_options={"concurrency": concurrency})
    if metrics_port is not None:
        from prometheus_client import start_http_server

        from inlet.sync.metrics import serving_registry

        # Loopback only: whoever can reach it is on this machine (a local Prometheus or agent).
        metrics_server, _ = start_http_server(
            metrics_port, addr="127.0.0.1", registry=serving_registry(engine)
        )
        typer.echo(f"metrics on 127.0.0.1 port {metrics_server.server_port} (GET /metrics, no token)")
    # proxy_headers=False: uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1; Inlet reads
    # it itself, and only from INLET_TRUSTED_PROXIES (inlet.api.client).
    uvicorn.run(app, host=host, port=port, log_config=None, proxy_headers=False)  # our structured logging


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="run every task due now, once, and exit")] = False,
    concurrency: Annotated[int, typer.Option(min=1, help="tasks run at the same time")] = 4,
    processes: Annotated[
        int, typer.Option(min=1, help="worker processes (each with --concurrency), coordinating by lease")
    ] = 1,
    metrics_port: Annotated[
        int | None, typer.Option(help="serve Prometheus metrics on 127.0.0.1:PORT while running")
    ] = None,
) -> None:
    """The sync worker: claims due partner sync tasks by lease and runs them (fetch, store, schedule);
    also sends connection reminders, retries queued emails and recomputes outdated summaries (so a
    one-shot worker leaves every summary current). ``--processes N`` starts N-1 more
    worker processes beside this one (to use more cores); they share nothing but the database, as
    separate ``inlet worker`` commands do."""
    import asyncio
    import signal
    import subprocess
    import sys

    helpers: list[subprocess.Popen[bytes]] = []
    if processes > 1:
        # the same command, one process each (a metrics port is this process's only)
        argv = [sys.executable, "-c", "from inlet.cli import main; main()", "worker"]
        argv += ["--concurrency", str(concurrency)] + (["--once"] if once else [])
        helpers = [subprocess.Popen(argv) for _ in range(processes - 1)]

    def stopping(stop: asyncio.Event, signum: int) -> None:
        """SIGINT/SIGTERM: this worker stops after its runs, and so do the helper processes."""
        stop.set()
        for helper in helpers:
            helper.send_signal(signum)

    from inlet.db.engine import create_db_engine
    from inlet.db.migrate import upgrade
    from inlet.logs import configure_logging
    from inlet.services import create_services
    from inlet.settings import load_settings
    from inlet.summaries.updater import run_updater, update_all_outdated
    from inlet.sync.service import WorkerStatus, build_worker, housekeeping, housekeeping_once, supervise

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    engine = create_db_engine(settings.resolved_database_url(), pool_size=concurrency + 2, pre_ping=False)
    try:
        upgrade(engine)
        services = create_services(settings, engine)
        sync_worker = build_worker(services, concurrency=concurrency)
        if metrics_port is not None:
            from prometheus_client import start_http_server

            start_http_server(metrics_port, addr="127.0.0.1")

        async def main() -> None:
            if once:
                await sync_worker.run_once()
                await asyncio.to_thread(housekeeping_once, services)
                # After the sync pass, so the summaries include what it stored.
                await asyncio.to_thread(update_all_outdated, services.engine, services.data.now)
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stopping, stop, sig)
            chores = asyncio.ensure_future(housekeeping(services, stop))
            summaries = asyncio.ensure_future(run_updater(services.engine, services.data.now, stop))
            # supervised as inside `serve --worker`: a crash is logged and the loop restarts
            await supervise(lambda: sync_worker.run_forever(stop), stop, WorkerStatus(enabled=True))
            await chores
            await summaries

        asyncio.run(main())
        sync_worker.close()
    finally:
        engine.dispose()
        failed = [helper.wait() for helper in helpers]
    typer.echo(sync_worker.stats.summary())
    if any(failed):
        raise typer.Exit(1)


@app.command("import")
def import_export(
    user: Annotated[str, typer.Option("--user", help="the account's email (username)")],
    file: Annotated[Path, typer.Argument(help="a Tidepool-format JSON export (a JSON array)")],
) -> None:
    """Import a Tidepool-format JSON export into a user's account (idempotent, resumable).

    Rejected datums go to FILE.rejected.json with their errors; the exit code is then 1."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from inlet.data.importer import ImportFailed, run_import
    from inlet.db.engine import create_db_engine
    from inlet.db.migrate import upgrade
    from inlet.services import create_services
    from inlet.settings import load_settings

    settings = load_settings()
    engine = create_db_engine(settings.resolved_database_url())
    console = Console(stderr=True)
    try:
        upgrade(engine)
        services = create_services(settings, engine)
        columns = (TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("import", total=None)
            result = run_import(
                services,
                user,
                file,
                progress=lambda n: progress.advance(task, n),
                on_total=lambda total: progress.update(task, total=total),
            )
    except ImportFailed as error:
        typer.echo(f"import failed: {error}", err=True)
        raise typer.Exit(2) from error
    finally:
        engine.dispose()
    typer.echo(result.summary())
    if result.rejected_path is not None:
        typer.echo(f"rejected datums and their errors: {result.rejected_path}")
    raise typer.Exit(1 if result.rejected else 0)


@app.command("export")
def export(
    user: Annotated[str, typer.Option("--user", help="the account's email (username)")],
    out: Annotated[Path, typer.Option("--out", help="the file to write")],
    format: Annotated[str, typer.Option("--format", help="json or xlsx")] = "xlsx",
    start: Annotated[str | None, typer.Option("--start", help="first time (RFC 3339), inclusive")] = None,
    end: Annotated[str | None, typer.Option("--end", help="last time (RFC 3339), inclusive")] = None,
    bg_units: Annotated[str, typer.Option("--bg-units", help="mmol/L or mg/dL")] = "mmol/L",
) -> None:
    """Write a person's export (what GET /export/:userId serves) to a file, with a progress bar."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from inlet.db.engine import create_db_engine
    from inlet.exports.service import ExportFailed, export_to_file
    from inlet.exports.units import parse_bg_units
    from inlet.services import create_services
    from inlet.settings import load_settings

    if format not in ("json", "xlsx"):
        typer.echo("--format must be json or xlsx", err=True)
        raise typer.Exit(2)
    units = parse_bg_units(bg_units)
    if units is None:
        typer.echo("--bg-units must be mmol/L or mg/dL", err=True)
        raise typer.Exit(2)
    settings = load_settings()
    engine = create_db_engine(settings.resolved_database_url())
    console = Console(stderr=True)
    try:
        services = create_services(settings, engine)
        columns = (TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("export", total=None)
            written = export_to_file(
                engine,
                services.accounts,
                user,
                format,
                out,
                start=start,
                end=end,
                bg_units=units,
                on_total=lambda total: progress.update(task, total=total),
                progress=lambda n: progress.advance(task, n),
            )
    except ExportFailed as error:
        typer.echo(f"export failed: {error}", err=True)
        raise typer.Exit(1) from error
    finally:
        engine.dispose()
    typer.echo(f"{written} documents written to {out}")


def _fhir_setup() -> tuple[Any, Any, Any]:
    """Settings, a migrated engine and the vault, for the ``inlet fhir`` commands."""
    from inlet.db.engine import create_db_engine
    from inlet.db.migrate import upgrade
    from inlet.partners.vault import load_vault
    from inlet.settings import load_settings

    settings = load_settings()
    engine = create_db_engine(settings.resolved_database_url())
    upgrade(engine)
    return settings, engine, load_vault(settings)


@fhir_app.command("token")
def fhir_token(name: Annotated[str, typer.Argument(help="an endpoint name in INLET_FHIR_ENDPOINTS")]) -> None:
    """Store an endpoint's bearer token, encrypted with the token keys (read from stdin, not echoed)."""
    import sys
    from datetime import UTC, datetime

    from inlet.fhir.push import parse_endpoints, set_token

    settings, engine, vault = _fhir_setup()
    try:
        if name not in parse_endpoints(settings.fhir_endpoints):
            typer.echo(f"{name} is not in INLET_FHIR_ENDPOINTS", err=True)
            raise typer.Exit(2)
        token = (
            sys.stdin.readline().strip() if not sys.stdin.isatty() else typer.prompt("token", hide_input=True)
        )
        if not token:
            typer.echo("no token given", err=True)
            raise typer.Exit(2)
        set_token(engine, vault, name, token, datetime.now(UTC))
    finally:
        engine.dispose()
    typer.echo(f"token stored for {name} (encrypted)")


@fhir_app.command("subscribe")
def fhir_subscribe(
    endpoint: Annotated[str, typer.Option("--endpoint", help="an endpoint name in INLET_FHIR_ENDPOINTS")],
    user: Annotated[str, typer.Option("--user", help="the person's email (username)")],
) -> None:
    """Push this person's CGM bundles to the endpoint on the schedule (the first push is due now)."""
    from datetime import UTC, datetime

    from inlet.accounts.service import AccountService
    from inlet.fhir.push import parse_endpoints, subscribe

    settings, engine, _ = _fhir_setup()
    try:
        if endpoint not in parse_endpoints(settings.fhir_endpoints):
            typer.echo(f"{endpoint} is not in INLET_FHIR_ENDPOINTS", err=True)
            raise typer.Exit(2)
        with engine.connect() as conn:
            person = AccountService().find_user(conn, user)
        if person is None:
            typer.echo(f"no account with the email {user}", err=True)
            raise typer.Exit(1)
        task = subscribe(engine, endpoint, person.id, datetime.now(UTC))
    finally:
        engine.dispose()
    typer.echo(f"subscribed: task {task}")


@fhir_app.command("push")
def fhir_push(
    once: Annotated[bool, typer.Option("--once", help="push every task due now, once, and exit")] = False,
) -> None:
    """Push due CGM bundles to the configured FHIR endpoints (leases, backoff, 429 honoured)."""
    from datetime import timedelta

    from inlet.fhir.push import FhirPusher, parse_endpoints

    settings, engine, vault = _fhir_setup()
    pusher = FhirPusher(
        engine,
        vault,
        parse_endpoints(settings.fhir_endpoints),
        interval=timedelta(minutes=settings.fhir_push_interval_minutes),
    )
    try:
        if once:
            outcomes = pusher.run_once()
            typer.echo(f"{len(outcomes)} pushes: " + ", ".join(str(o.status) for o in outcomes))
            return
        pusher.run_forever(lambda: False)
    finally:
        engine.dispose()


@app.command()
def outbox(
    include_sent: Annotated[
        bool, typer.Option("--all", help="also emails already sent, with sentTime, attempts, lastError")
    ] = False,
    deliver: Annotated[
        bool, typer.Option("--deliver", help="first retry queued emails over INLET_SMTP_URL")
    ] = False,
) -> None:
    """Print queued emails as JSON lines {to, subject, body, link, createdTime}, oldest first."""
    import orjson

    from inlet.db.engine import create_db_engine, read_only
    from inlet.db.migrate import upgrade
    from inlet.notify import Notifier, SealedError, SmtpUrlError, queued
    from inlet.partners.vault import KeyConfigError, load_vault
    from inlet.settings import load_settings

    settings = load_settings()
    try:
        vault = load_vault(settings)  # emails are sealed with the token keys (a link is a credential)
        notifier = Notifier.from_settings(settings, cipher=vault)
    except (SmtpUrlError, KeyConfigError) as error:
        typer.echo(f"outbox failed: {error}", err=True)
        raise typer.Exit(2) from error
    engine = create_db_engine(settings.resolved_database_url())
    try:
        upgrade(engine)
        if deliver:
            report = notifier.deliver_pending(engine, limit=10_000)
            said = report.summary() if notifier.smtp else "INLET_SMTP_URL is not set: nothing sent"
            typer.echo(said, err=True)
        with read_only(engine) as conn:
            for email in queued(conn, include_sent=include_sent, cipher=vault):
                typer.echo(orjson.dumps(email.to_json(full=include_sent)).decode())
    except SealedError as error:
        typer.echo(f"outbox failed: {error} (is INLET_TOKEN_KEYS the server's?)", err=True)
        raise typer.Exit(2) from error
    finally:
        engine.dispose()


@app.command()
def reminders() -> None:
    """Email the 7-day reminder of every clinician connection request still unconnected (the sync
    worker does this too); prints how many went out. Safe to run from cron at any interval."""
    from inlet.db.engine import create_db_engine
    from inlet.db.migrate import upgrade
    from inlet.model.timeutil import now_utc
    from inlet.partners.requests import send_connection_reminders
    from inlet.services import create_services
    from inlet.settings import load_settings

    settings = load_settings()
    engine = create_db_engine(settings.resolved_database_url())
    try:
        upgrade(engine)
        services = create_services(settings, engine)
        with services.notifier.transaction(engine) as conn:  # emails sent after the commit
            sent = send_connection_reminders(conn, services, now_utc())
    finally:
        engine.dispose()
    typer.echo(f"sent {sent} connection reminder(s)")


@app.command()
def demo(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Everything embedded on SQLite in the data directory (what ``make demo`` runs): both partner
    simulators, demo accounts, the API."""
    from inlet.demo import run_demo

    run_demo(host, port, echo=lambda line: typer.echo(line))


def main() -> None:
    app()


if __name__ == "__main__":
    main()

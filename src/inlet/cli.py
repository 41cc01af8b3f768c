"""The ``inlet`` command line (typer)."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="Inlet: an open, Tidepool-compatible diabetes data platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


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


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port (0 picks a free one)")] = 8000,
) -> None:
    """Serve the HTTP API."""
    import uvicorn

    from inlet.app import create_app
    from inlet.db.engine import create_db_engine
    from inlet.db.migrate import upgrade
    from inlet.settings import load_settings

    settings = load_settings()
    engine = create_db_engine(settings.resolved_database_url())
    upgrade(engine)
    uvicorn.run(create_app(settings, engine=engine), host=host, port=port, log_level="info")


@app.command()
def demo(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Everything embedded on SQLite in the data directory (what ``make demo`` runs)."""
    typer.echo(f"Inlet demo: http://{host}:{port}/  (API docs at /docs; Ctrl-C stops)")
    serve(host=host, port=port)


def main() -> None:
    app()


if __name__ == "__main__":
    main()

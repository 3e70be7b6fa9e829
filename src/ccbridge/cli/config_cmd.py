"""``ccbridge config check``: the effective settings (secrets masked), or what is wrong."""

from __future__ import annotations

import typer

from ccbridge.cli._linked import DebugOption, table
from ccbridge.cli._service import ConfigOption, load
from ccbridge.config import ConfigError
from ccbridge.store import Database

app = typer.Typer(
    help="Configuration: environment variables and an optional TOML file.", no_args_is_help=True
)


@app.command("check")
def check(config: ConfigOption = None, debug: DebugOption = False) -> None:
    """Validate the configuration and print the effective settings (secrets masked)."""
    try:
        settings = load(config)
        # The URL's dialect is checked by opening an engine (no connection is made).
        Database(
            settings.base.effective_database_url, schema=settings.base.database_schema
        ).dispose()
    except ConfigError as exc:
        if debug:
            raise
        typer.echo(f"ccbridge: configuration error: {exc}", err=True)
        raise typer.Exit(2) from None
    except Exception as exc:  # a database URL that SQLAlchemy cannot parse
        if debug:
            raise
        typer.echo(
            f"ccbridge: configuration error: CCBRIDGE_DATABASE_URL: {str(exc).splitlines()[0]}",
            err=True,
        )
        raise typer.Exit(2) from None
    rows = [[name, value, origin] for name, value, origin in settings.describe()]
    typer.echo(table(["SETTING", "VALUE", "FROM"], rows))
    mode = (
        "sandbox (no CC credentials: CC is emulated inside `ccbridge serve`)"
        if settings.uses_sandbox
        else f"Constant Contact as client_id {settings.base.client_id}"
    )
    typer.echo(f"\nmode: {mode}")
    typer.echo(
        f"scale: {'Redis queue and budget shared by every process' if settings.scaled_out else 'embedded (one machine)'}"
    )
    typer.echo("configuration OK")

"""``ccbridge db``: bring the database to the schema this ccbridge needs."""

from __future__ import annotations

import typer

from ccbridge.cli._linked import DebugOption, cli_errors, load_settings
from ccbridge.store import Database, current_revision, head_revision, upgrade

app = typer.Typer(help="The database: migrations.", no_args_is_help=True)


def _database() -> Database:
    settings = load_settings()
    return Database(settings.effective_database_url, schema=settings.database_schema)


@app.command("upgrade")
def upgrade_command(debug: DebugOption = False) -> None:
    """Migrate the database (CCBRIDGE_DATABASE_URL, default the SQLite file) to the newest schema."""
    with cli_errors(debug):
        db = _database()
        try:
            before = current_revision(db)
            reached = upgrade(db)
        finally:
            db.dispose()
        if before == reached:
            typer.echo(f"{db.display_url} is already at revision {reached}")
        else:
            typer.echo(f"upgraded {db.display_url} from {before or 'empty'} to revision {reached}")


@app.command("current")
def current_command(debug: DebugOption = False) -> None:
    """Show the database's revision and the newest one this ccbridge knows."""
    with cli_errors(debug):
        db = _database()
        try:
            current = current_revision(db)
        finally:
            db.dispose()
        head = head_revision()
        state = "up to date" if current == head else "needs `ccbridge db upgrade`"
        typer.echo(f"{db.display_url}: revision {current or 'none'} (newest {head}; {state})")

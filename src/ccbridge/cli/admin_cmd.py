"""``ccbridge admin``: dashboard users and admin API tokens.

Only the database is opened (no sandbox, no queue), so these commands work beside a
running ``ccbridge serve``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated

import typer

from ccbridge.cli._linked import DebugOption, cli_errors, table, when
from ccbridge.cli._service import ConfigOption, load
from ccbridge.store import open_database
from ccbridge.web.auth import AdminStore, AuthError, check_password

app = typer.Typer(help="Dashboard admins and admin API tokens.", no_args_is_help=True)


@contextmanager
def _store(config: ConfigOption) -> Iterator[AdminStore]:
    settings = load(config)
    db = open_database(settings.base)
    try:
        yield AdminStore(db)
    finally:
        db.dispose()


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    while True:
        password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        try:
            check_password(password)
        except AuthError as exc:
            typer.echo(str(exc), err=True)
            continue
        return password


@app.command("create")
def create(
    username: Annotated[str, typer.Argument(help="The admin's username.")],
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
    ] = False,
    reset_password: Annotated[
        bool, typer.Option("--reset-password", help="Set a new password for an existing admin.")
    ] = False,
    config: ConfigOption = None,
    debug: DebugOption = False,
) -> None:
    """Create a dashboard admin (the password is hashed with scrypt)."""
    with cli_errors(debug):
        password = _read_password(password_stdin)
        with _store(config) as store:
            user, created = store.create_user(username, password, replace=reset_password)
    typer.echo(f"admin {user.username!r} {'created' if created else 'password changed'}")


@app.command("list")
def list_admins(config: ConfigOption = None, debug: DebugOption = False) -> None:
    """List dashboard admins."""
    with cli_errors(debug), _store(config) as store:
        users = store.list_users()
    typer.echo("\n".join(u.username for u in users) if users else "no admin yet")


@app.command("token")
def token(
    name: Annotated[str, typer.Argument(help="What the token is for (shown in `admin tokens`).")],
    expires_days: Annotated[
        float | None, typer.Option("--expires-days", help="Expire after this many days.", min=0.001)
    ] = None,
    config: ConfigOption = None,
    debug: DebugOption = False,
) -> None:
    """Create an admin API token; it is printed once and only its hash is stored."""
    with cli_errors(debug), _store(config) as store:
        record, raw = store.create_token(
            name, expires_in=timedelta(days=expires_days) if expires_days else None
        )
    typer.echo(
        f"token {record.id} ({record.name}); send it as 'Authorization: Bearer <token>':", err=True
    )
    typer.echo(raw)


@app.command("tokens")
def tokens(config: ConfigOption = None, debug: DebugOption = False) -> None:
    """List admin API tokens (never the tokens themselves)."""
    with cli_errors(debug), _store(config) as store:
        rows = store.list_tokens()
    typer.echo(
        table(
            ["ID", "NAME", "STARTS", "CREATED", "LAST USED", "REVOKED"],
            [
                [
                    t.id,
                    t.name,
                    t.token_prefix + "…",
                    when(t.created_at),
                    when(t.last_used_at),
                    when(t.revoked_at),
                ]
                for t in rows
            ],
        )
        if rows
        else "no token yet"
    )


@app.command("revoke")
def revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (from `admin tokens`).")],
    config: ConfigOption = None,
    debug: DebugOption = False,
) -> None:
    """Revoke an admin API token."""
    with cli_errors(debug), _store(config) as store:
        if not store.revoke_token(token_id):
            raise AuthError(f"no active token has id {token_id!r}")
    typer.echo(f"token {token_id} revoked")

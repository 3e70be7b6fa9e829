"""``ccbridge accounts``: the linked CC accounts — list, show, disconnect, keep alive."""

from __future__ import annotations

from typing import Annotated

import typer

from ccbridge.cli._linked import (
    DebugOption,
    JsonOption,
    SandboxUrlOption,
    cli_errors,
    load_settings,
    print_json,
    table,
    when,
)
from ccbridge.oauth.setup import open_linked_accounts

app = typer.Typer(help="Linked Constant Contact accounts.", no_args_is_help=True)

AccountId = Annotated[str, typer.Argument(help="The linked account's id (see `accounts list`).")]


@app.command("list")
def list_accounts(
    ref: Annotated[str | None, typer.Option("--ref", help="Only this app reference.")] = None,
    status: Annotated[
        str | None, typer.Option(help="Only this status: active, needs_reauth or disconnected.")
    ] = None,
    as_json: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Every linked account with its status and when its tokens were last refreshed."""
    with cli_errors(debug):
        if status not in (None, "active", "needs_reauth", "disconnected"):
            raise typer.BadParameter(
                "use active, needs_reauth or disconnected", param_hint="--status"
            )
        with open_linked_accounts(load_settings(), with_oauth=False) as service:
            accounts = service.list(app_reference=ref, status=status)
        if as_json:
            print_json([a.to_json() for a in accounts])
            return
        if not accounts:
            typer.echo("no linked accounts")
            return
        rows = [
            [
                a.id,
                a.app_reference,
                a.organization_name or a.cc_account_id,
                a.status,
                when(a.last_refreshed_at),
                when(a.access_expires_at),
            ]
            for a in accounts
        ]
        typer.echo(table(["id", "app ref", "CC account", "status", "refreshed", "expires"], rows))


@app.command("show")
def show(account_id: AccountId, as_json: JsonOption = False, debug: DebugOption = False) -> None:
    """One account in full, with its recent audit events."""
    with cli_errors(debug):
        with open_linked_accounts(load_settings(), with_oauth=False) as service:
            account = service.get(account_id)
            events = service.audit_log(account_id, limit=20)
        if as_json:
            print_json({**account.to_json(), "events": [e.to_json() for e in events]})
            return
        for key, value in account.to_json().items():
            shown = " ".join(value) if isinstance(value, list) else value
            typer.echo(f"{key:20} {shown if shown is not None else '-'}")
        typer.echo("events:")
        for event in events:
            detail = ", ".join(f"{k}={v}" for k, v in sorted(event.detail.items()))
            typer.echo(f"  {when(event.occurred_at)}  {event.event:15} {detail}".rstrip())


@app.command("disconnect")
def disconnect(
    account_id: AccountId,
    force: Annotated[
        bool, typer.Option("--force", help="Delete the tokens even if CC cannot revoke them.")
    ] = False,
    sandbox_url: SandboxUrlOption = None,
    debug: DebugOption = False,
) -> None:
    """Revoke the account's grant at CC, delete its tokens, keep it listed as disconnected."""
    with cli_errors(debug):
        with open_linked_accounts(load_settings(), sandbox_url=sandbox_url) as service:
            account = service.disconnect(account_id, force=force)
        typer.echo(f"disconnected {account.id} ({account.status_reason})")


@app.command("keep-alive")
def keep_alive(
    idle_days: Annotated[
        float | None,
        typer.Option(
            help="Refresh accounts idle this many days (default CCBRIDGE_KEEPALIVE_DAYS, 30)."
        ),
    ] = None,
    sandbox_url: SandboxUrlOption = None,
    debug: DebugOption = False,
) -> None:
    """Refresh idle accounts so CC's 180-day refresh-token expiry never hits (run daily)."""
    with cli_errors(debug):
        with open_linked_accounts(load_settings(), sandbox_url=sandbox_url) as service:
            report = service.keep_alive(idle_days=idle_days)
        typer.echo(
            f"checked {report.checked}: refreshed {len(report.refreshed)}, "
            f"needs_reauth {len(report.needs_reauth)}, failed {len(report.failed)}"
        )
        for account_id, problem in report.failed.items():
            typer.echo(f"  {account_id}: {problem}", err=True)
        if report.failed:
            raise typer.Exit(1)

"""``ccbridge connect``: link a CC account from the terminal.

The device flow by default (CC-V3-FACTS §1.2 item 4): it shows a code and a URL, and polls
at the interval the server advertises (slowing down when told to) until the owner approves
in any browser. ``--loopback`` runs the redirect flow instead, through a one-shot listener
on 127.0.0.1 (PKCE S256), and opens the browser unless ``--no-browser``.
"""

from __future__ import annotations

import time
import webbrowser
from typing import Annotated

import typer

from ccbridge.cli._linked import DebugOption, SandboxUrlOption, cli_errors, load_settings
from ccbridge.config import SANDBOX_DEMO_CLIENT_ID
from ccbridge.oauth.loopback import connect_with_loopback
from ccbridge.oauth.records import LinkedAccount
from ccbridge.oauth.setup import open_linked_accounts

DEFAULT_LOOPBACK_URI = "http://127.0.0.1:8765/callback"
SANDBOX_DEMO_LOOPBACK_URI = "http://localhost:8000/callback"
"""A redirect URI ``ccbridge sandbox`` registers on its demo application."""

SLEEP = time.sleep
OPEN_BROWSER = webbrowser.open


def _describe(account: LinkedAccount) -> str:
    name = account.organization_name or account.cc_account_id
    return f"linked {name} as {account.id} (app reference {account.app_reference!r}, status {account.status})"


def connect(
    loopback: Annotated[
        bool, typer.Option("--loopback", help="Use the browser redirect flow via 127.0.0.1.")
    ] = False,
    ref: Annotated[
        str, typer.Option("--ref", help="Your own reference for the account (tenant or user id).")
    ] = "cli",
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="A scope to request (repeatable; default CCBRIDGE_SCOPES)."),
    ] = None,
    redirect_uri: Annotated[
        str | None, typer.Option(help="Loopback redirect URI (default CCBRIDGE_REDIRECT_URI).")
    ] = None,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Only print the URL.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the browser.")] = 300.0,
    sandbox_url: SandboxUrlOption = None,
    debug: DebugOption = False,
) -> None:
    """Link a Constant Contact account (device flow, or --loopback for the redirect flow)."""
    with cli_errors(debug):
        settings = load_settings()
        scopes = scope or list(settings.scopes)
        with open_linked_accounts(settings, sandbox_url=sandbox_url, sleep=SLEEP) as service:
            oauth = service.require_oauth()
            if loopback:
                uri = redirect_uri or settings.redirect_uri
                if uri is None:
                    demo = oauth.client_id == SANDBOX_DEMO_CLIENT_ID
                    uri = SANDBOX_DEMO_LOOPBACK_URI if demo else DEFAULT_LOOPBACK_URI

                def show(url: str) -> None:
                    typer.echo(f"Open this URL to connect your Constant Contact account:\n  {url}")
                    if not no_browser:
                        OPEN_BROWSER(url)

                account = connect_with_loopback(
                    service,
                    app_reference=ref,
                    redirect_uri=uri,
                    scopes=scopes,
                    show_url=show,
                    timeout=timeout,
                )
            else:
                device = service.start_device_authorization(scopes)
                typer.echo(
                    f"To connect your Constant Contact account, open\n  {device.verification_uri}\n"
                    f"and enter the code  {device.user_code}"
                )
                if device.verification_uri_complete:
                    typer.echo(f"(or open {device.verification_uri_complete})")
                typer.echo("Waiting for approval…")
                account = service.wait_for_device(device, app_reference=ref)
        typer.echo(_describe(account))

"""``ccbridge sandbox``: serve the CC emulator over HTTP.

A thin shell: it builds a ``Sandbox`` (from ``--data`` when given), makes sure a demo
application and login exist so a newcomer can try the OAuth flow at once, prints how to
reach everything, and runs uvicorn until interrupted, saving the state on the way out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ccbridge.sandbox import Sandbox, SandboxASGI
from ccbridge.sandbox.persistence import SandboxStore, SandboxStoreError
from ccbridge.sandbox.seed import create_account, create_app

DEMO_CLIENT_ID = "sandbox-demo-app"
DEMO_LOGIN = "owner@sandbox.example"
DEMO_PASSWORD = "sandbox"


class OnOff(StrEnum):
    on = "on"
    off = "off"


def public_base_url(host: str, port: int) -> str:
    """The URL clients use: a wildcard bind address is not one they can connect to."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def seed_demo(sandbox: Sandbox, base_url: str) -> tuple[str, str, str]:
    """A ready-to-use application and login (kept across restarts with --data).

    Returns (client_id, client_secret, redirect URI). The redirect URI is this server's
    ``/_sandbox/callback``, registered on the app if a previous run used another port.
    """
    redirect_uri = f"{base_url}/_sandbox/callback"
    app = sandbox.state.apps.get(DEMO_CLIENT_ID)
    if app is None:
        app = create_app(
            sandbox.state,
            sandbox.clock.now(),
            name="Sandbox demo app",
            redirect_uris=[redirect_uri, "http://localhost:8000/callback"],
            client_id=DEMO_CLIENT_ID,
        )
    elif redirect_uri not in app.redirect_uris:
        app.redirect_uris.insert(0, redirect_uri)
    if sandbox.state.account_by_login(DEMO_LOGIN) is None:
        create_account(
            sandbox.state,
            sandbox.clock.now(),
            email=DEMO_LOGIN,
            password=DEMO_PASSWORD,
            organization_name="Sandbox Bakery",
            first_name="Sam",
            last_name="Baker",
        )
    sandbox.dirty = True
    return app.client_id, app.client_secret, redirect_uri


def banner(
    base_url: str, client_id: str, secret: str, redirect: str, limits: str, data: str
) -> str:
    return (
        "\nccbridge sandbox: a local Constant Contact V3 emulator (not connected to CC)\n"
        f"  API base URL      {base_url}/v3\n"
        f"  OAuth authorize   {base_url}/oauth2/default/v1/authorize\n"
        f"  OAuth token       {base_url}/oauth2/default/v1/token\n"
        f"  control plane     {base_url}/_sandbox/\n"
        f"  client_id         {client_id}\n"
        f"  client_secret     {secret}\n"
        f"  redirect URI      {redirect}\n"
        f"  login             {DEMO_LOGIN} / {DEMO_PASSWORD}\n"
        f"  rate limits       {limits}   state: {data}\n"
        f"  start here        {base_url}/_sandbox/\n"
    )


def sandbox(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8910,
    data: Annotated[
        Path | None, typer.Option(help="Keep state in this SQLite file (default: memory only).")
    ] = None,
    rate_limits: Annotated[
        OnOff, typer.Option("--rate-limits", help="Enforce CC's 4/s and 10,000/day limits.")
    ] = OnOff.on,
) -> None:
    """Run the Constant Contact V3 sandbox (API under /v3, OAuth under /oauth2/default/v1)."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    base_url = public_base_url(host, port)
    enforce = rate_limits is OnOff.on
    store: SandboxStore | None = None
    try:
        if data is not None:
            store = SandboxStore(data)
            sb = store.open_sandbox(base_url=base_url, rate_limits=enforce)
        else:
            sb = Sandbox(base_url=base_url, rate_limits=enforce)
    except SandboxStoreError as exc:
        typer.echo(f"ccbridge sandbox: {exc}", err=True)
        raise typer.Exit(2) from None
    client_id, secret, redirect = seed_demo(sb, base_url)
    typer.echo(
        banner(base_url, client_id, secret, redirect, rate_limits.value, str(data or "memory"))
    )
    on_shutdown = None
    if store is not None:
        store.save(sb)
        store.start_autosave(sb)
        on_shutdown = _final_save(store, sb)
    try:
        uvicorn.run(
            SandboxASGI(sb, on_shutdown=on_shutdown),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
        )
    finally:
        if on_shutdown is not None:
            on_shutdown()  # when uvicorn returned without a lifespan shutdown (no harm twice)


def _final_save(store: SandboxStore, sb: Sandbox) -> Callable[[], None]:
    def save() -> None:
        store.stop()
        store.save(sb)

    return save

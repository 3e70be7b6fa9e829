"""``ccbridge sandbox``: serve the CC emulator over HTTP."""

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ccbridge.sandbox import Sandbox, SandboxASGI
from ccbridge.sandbox.seed import create_account, create_app

DEMO_CLIENT_ID = "sandbox-demo-app"
DEMO_LOGIN = "owner@sandbox.example"
DEMO_PASSWORD = "sandbox"


class OnOff(StrEnum):
    on = "on"
    off = "off"


def seed_demo(sandbox: Sandbox, port: int) -> tuple[str, str, str]:
    """A ready-to-use application and login, created once (kept across restarts with --data)."""
    redirect_uri = f"http://127.0.0.1:{port}/_sandbox/callback"
    app = sandbox.state.apps.get(DEMO_CLIENT_ID)
    if app is None:
        app = create_app(
            sandbox.state,
            sandbox.clock.now(),
            name="Sandbox demo app",
            redirect_uris=[redirect_uri, "http://localhost:8000/callback"],
            client_id=DEMO_CLIENT_ID,
        )
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
    return app.client_id, app.client_secret, app.redirect_uris[0]


def sandbox(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8910,
    data: Annotated[
        Path | None, typer.Option(help="Keep state in this SQLite file (default: memory only).")
    ] = None,
    rate_limits: Annotated[
        OnOff, typer.Option("--rate-limits", help="Enforce CC's 4/s and 10,000/day limits.")
    ] = OnOff.on,
) -> None:
    """Run the Constant Contact V3 sandbox (API under /v3, OAuth under /oauth2/default/v1)."""
    import uvicorn

    from ccbridge.sandbox.persistence import SandboxStore

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    base_url = f"http://{host}:{port}"
    store = SandboxStore(data) if data else None
    state = store.load() if store else None
    sb = Sandbox(
        base_url=base_url,
        rate_limits=rate_limits is OnOff.on,
        state=state,
        signing_key_pem=store.signing_key() if store else None,
    )
    if state is not None:
        sb.state.settings.rate_limits = rate_limits is OnOff.on
    client_id, secret, redirect = seed_demo(sb, port)
    typer.echo(
        "\nccbridge sandbox — a local Constant Contact V3 emulator (not connected to CC)\n"
        f"  API base URL      {base_url}/v3\n"
        f"  OAuth authorize   {base_url}/oauth2/default/v1/authorize\n"
        f"  OAuth token       {base_url}/oauth2/default/v1/token\n"
        f"  control plane     {base_url}/_sandbox/\n"
        f"  client_id         {client_id}\n"
        f"  client_secret     {secret}\n"
        f"  redirect URI      {redirect}\n"
        f"  login             {DEMO_LOGIN} / {DEMO_PASSWORD}\n"
        f"  rate limits       {rate_limits.value}   state: {data or 'memory'}\n"
        f"  try it            {base_url}/_sandbox/\n"
    )
    if store:
        store.start_autosave(sb)
    try:
        uvicorn.run(SandboxASGI(sb), host=host, port=port, log_level="warning", access_log=False)
    finally:
        if store:
            store.save(sb)

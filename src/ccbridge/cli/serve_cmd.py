"""``ccbridge serve``: the web app and the background worker in one process.

With no CC credentials configured it also runs the sandbox on the same port, seeded with
a demo application and login, and says so loudly (a banner in the log and on every page).
"""

from __future__ import annotations

import logging
import secrets
import socket
from typing import Annotated

import typer

from ccbridge.cli._linked import DebugOption, cli_errors
from ccbridge.cli._service import (
    ConfigOption,
    MigrateOption,
    build_with_progress,
    load,
    setup_logging,
)
from ccbridge.config import ConfigError
from ccbridge.service import SANDBOX_BANNER, Service
from ccbridge.web.settings import ServiceSettings

log = logging.getLogger("ccbridge.serve")


def _listen(host: str, port: int) -> socket.socket:
    """Bind before anything starts, so a busy port is one clear error, not a traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only disables Nagle's algorithm on sockets it knows
    # are TCP, and without that every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def startup_text(service: Service, setup_code: str | None = None) -> str:
    s = service.settings
    lines = ["", f"ccbridge is running at {s.public_url}/"]
    if service.sandbox is not None:
        lines += [
            f"  {SANDBOX_BANNER}: Constant Contact is emulated on the same port",
            f"  sandbox login      {service.sandbox.login} / {service.sandbox.password}",
            f"  sandbox app        {service.sandbox.client_id}",
        ]
    else:
        lines.append(f"  Constant Contact   client_id {service.client_id}")
    lines += [
        f"  callback URL       {s.callback_url}",
        f"  database           {service.db.display_url}",
        f"  queue              {'Redis (shared)' if s.scaled_out else f'SQLite in {s.data_dir}'}"
        f"{', worker in this process' if s.embedded_worker else ', no worker in this process'}",
        f"  health             {s.public_url}/healthz  {s.public_url}/readyz  {s.public_url}/metrics",
        f"  admin API          {s.public_url}/api/openapi.json",
    ]
    if setup_code is not None:
        lines += [
            "",
            "  First run: no admin exists yet. Open this one-time link to create one:",
            f"    {s.public_url}/setup?code={setup_code}",
            "  (or run `ccbridge admin create USERNAME`)",
        ]
    return "\n".join(lines) + "\n"


def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on (CCBRIDGE_HOST, default 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="TCP port (CCBRIDGE_PORT, default 8000).", min=1, max=65535)
    ] = None,
    config: ConfigOption = None,
    no_worker: Annotated[
        bool,
        typer.Option(
            "--no-worker", help="Serve web requests only; run `ccbridge worker` elsewhere."
        ),
    ] = False,
    migrate: MigrateOption = False,
    debug: DebugOption = False,
) -> None:
    """Run the ccbridge service: dashboard, admin API, connect flow and background worker."""
    import uvicorn

    from ccbridge.web import create_app

    with cli_errors(debug):
        settings: ServiceSettings = load(config).with_listen(host, port)
        if no_worker:
            from dataclasses import replace

            settings = replace(settings, embedded_worker=False)
        setup_logging(settings.log_level)
        sock = _listen(settings.host, settings.port)
        try:
            service = build_with_progress(settings, role="serve", migrate=migrate)
        except BaseException:
            sock.close()
            raise
    if service.in_sandbox_mode:
        log.warning(SANDBOX_BANNER)
    # A one-time code for creating the first admin in the browser; printed on the console
    # only (never logged), useless once an admin exists.
    setup_code = None if service.admin.list_users() else secrets.token_urlsafe(16)
    typer.echo(startup_text(service, setup_code), err=True)
    app = create_app(service, close_service=True, setup_code=setup_code)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=int(settings.shutdown_timeout) or None,
            proxy_headers=True,
            forwarded_allow_ips="127.0.0.1",
        )
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()

"""Entry point of the ``ccbridge`` console script."""

from __future__ import annotations

import sys

import typer

from ccbridge.cli import (
    accounts_cmd,
    admin_cmd,
    config_cmd,
    connect_cmd,
    db_cmd,
    forms_cmd,
    keys_cmd,
    sandbox_cmd,
    serve_cmd,
    worker_cmd,
)

app = typer.Typer(
    name="ccbridge",
    help="Constant Contact V3 for Python: client, linked accounts, lead capture, and a local CC sandbox.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("sandbox")(sandbox_cmd.sandbox)
app.command("connect")(connect_cmd.connect)
app.add_typer(accounts_cmd.app, name="accounts")
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(db_cmd.app, name="db")
app.command("serve")(serve_cmd.serve)
app.command("worker")(worker_cmd.worker)
app.add_typer(admin_cmd.app, name="admin")
app.add_typer(config_cmd.app, name="config")
app.add_typer(forms_cmd.app, name="forms")


@app.callback()
def _root() -> None:
    """Constant Contact V3 for Python."""


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()

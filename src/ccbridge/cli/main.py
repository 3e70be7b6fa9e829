"""Entry point of the ``ccbridge`` console script."""

from __future__ import annotations

import sys

import typer

from ccbridge.cli import sandbox_cmd

app = typer.Typer(
    name="ccbridge",
    help="Constant Contact V3 for Python: client, linked accounts, lead capture, and a local CC sandbox.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("sandbox")(sandbox_cmd.sandbox)


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

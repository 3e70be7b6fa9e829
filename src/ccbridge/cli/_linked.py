"""What the linked-accounts commands share: options, opening the service, clean errors.

A CLI error is one line on stderr (``ccbridge: error: …``) and exit status 1; the traceback
is shown only with ``--debug`` (or ``CCBRIDGE_DEBUG=1``). Errors never carry a secret:
ccbridge's own messages never include one, and database errors are cut to their first
line (which names the problem, not the parameters).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

import typer
from sqlalchemy.exc import SQLAlchemyError

from ccbridge._errors import CCBridgeError
from ccbridge.config import Settings

DebugOption = Annotated[
    bool,
    typer.Option("--debug", envvar="CCBRIDGE_DEBUG", help="Show the traceback of an error."),
]
SandboxUrlOption = Annotated[
    str | None,
    typer.Option(
        "--sandbox-url",
        help="Talk to a ccbridge sandbox at this URL (default when no CC client is configured: "
        "http://127.0.0.1:8910).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@contextmanager
def cli_errors(debug: bool) -> Iterator[None]:
    """Turn ccbridge's errors into one clear line and exit status 1."""
    try:
        yield
    except typer.Exit:
        raise
    except (CCBridgeError, SQLAlchemyError, OSError) as exc:
        if debug:
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, SQLAlchemyError):
            message = f"database error: {message}"
        typer.echo(f"ccbridge: error: {message}", err=True)
        raise typer.Exit(1) from None


def load_settings() -> Settings:
    return Settings.from_env()


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value is not None else "-"


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True))


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines)

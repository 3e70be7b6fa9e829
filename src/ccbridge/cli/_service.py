"""What ``serve``, ``worker``, ``admin`` and ``config`` share: loading settings, logging,
building the service with a progress display, and one-line errors."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ccbridge.config import ConfigError
from ccbridge.service import Service, build_service
from ccbridge.web.settings import ServiceSettings

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="A TOML file of settings (names without the CCBRIDGE_ prefix); the environment "
        "wins over it. Default: $CCBRIDGE_CONFIG.",
        dir_okay=False,
    ),
]
MigrateOption = Annotated[
    bool,
    typer.Option(
        "--migrate",
        help="Upgrade a database given by CCBRIDGE_DATABASE_URL at start (the embedded SQLite "
        "file is always upgraded).",
    ),
]


def load(config: Path | None) -> ServiceSettings:
    return ServiceSettings.load(config_file=config)


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    # huey announces every task at INFO; keep its chatter out unless debugging.
    if level != "debug":
        logging.getLogger("huey").setLevel(logging.WARNING)
        logging.getLogger("alembic").setLevel(logging.WARNING)


def build_with_progress(settings: ServiceSettings, *, role: str, migrate: bool) -> Service:
    """Build the service, showing each step on a terminal; check the queue answers."""
    service = _build(settings, role=role, migrate=migrate)
    try:
        service.check_queue()
    except Exception as exc:
        service.close()
        where = (
            "CCBRIDGE_REDIS_URL"
            if settings.redis_url
            else f"the SQLite queue in {settings.data_dir}"
        )
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"the job queue ({where}) is not reachable: {detail}") from None
    return service


def _build(settings: ServiceSettings, *, role: str, migrate: bool) -> Service:
    console = Console(stderr=True)
    if not console.is_terminal:
        return build_service(settings, role=role, migrate=migrate)
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("starting", total=None)

        def step(name: str) -> None:
            progress.update(task, description=f"starting: {name}")

        return build_service(settings, role=role, migrate=migrate, progress=step)


@contextmanager
def quiet_keyboard_interrupt() -> Iterator[None]:
    try:
        yield
    except KeyboardInterrupt:
        raise typer.Exit(130) from None

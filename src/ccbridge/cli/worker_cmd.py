"""``ccbridge worker``: run background jobs in a process of its own (the scaled-out mode).

Start as many as needed, on as many machines, with the same settings: with
``CCBRIDGE_REDIS_URL`` they share one queue and one CC API budget through Redis, and with
``CCBRIDGE_DATABASE_URL`` one PostgreSQL database. Without Redis, workers on one machine
share the SQLite queue in the data directory.
"""

from __future__ import annotations

import logging
import os
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
from ccbridge.worker import run_worker

log = logging.getLogger("ccbridge.worker")


def worker(
    config: ConfigOption = None,
    threads: Annotated[
        int | None,
        typer.Option(help="Worker threads (CCBRIDGE_WORKER_THREADS, default 2).", min=1, max=64),
    ] = None,
    migrate: MigrateOption = False,
    debug: DebugOption = False,
) -> None:
    """Run a background worker until SIGINT/SIGTERM (running jobs finish or are released)."""
    with cli_errors(debug):
        settings = load(config)
        setup_logging(settings.log_level)
        service = build_with_progress(settings, role="worker", migrate=migrate)
    try:
        if settings.worker_metrics_port is not None:
            from prometheus_client import start_http_server

            start_http_server(settings.worker_metrics_port, registry=service.metrics.registry)
        if not settings.scaled_out:
            log.warning(
                "no CCBRIDGE_REDIS_URL: this worker shares the SQLite queue in %s (one machine only)",
                settings.data_dir,
            )

        def ready() -> None:
            typer.echo(
                f"ccbridge worker ready (pid {os.getpid()}, {threads or settings.worker_threads} "
                f"thread(s), jobs: {', '.join(service.jobs.job_names)})",
                err=True,
            )

        clean = run_worker(
            service.jobs,
            threads=threads or settings.worker_threads,
            shutdown_timeout=settings.shutdown_timeout,
            on_started=ready,
        )
    finally:
        service.close()
    typer.echo(
        "ccbridge worker stopped" + ("" if clean else " (unfinished jobs were released)"), err=True
    )

"""A test extension: a job that blocks until a release file appears (or 60 s pass),
marking when it started and which process finished it."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ccbridge.service import Service


def install(service: Service) -> None:
    def block(folder: str, name: str) -> None:
        here = Path(folder)
        (here / f"{name}.started").write_text(str(os.getpid()))
        deadline = time.monotonic() + 60
        while not (here / "release").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        (here / f"{name}.done.{os.getpid()}").touch()

    service.jobs.register("test.block", block)

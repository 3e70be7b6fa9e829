"""Starting ``ccbridge serve`` for real: a subprocess on a free port with a temp data dir."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from ccbridge.testing import free_port


def run_cli(
    args: list[str], env: dict[str, str], input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ccbridge.cli.main", *args],
        env={**os.environ, **env},
        input=input_text,
        capture_output=True,
        text=True,
        timeout=120,
    )


class ServeProcess:
    """``ccbridge serve`` in a subprocess; its output goes to a log file."""

    def __init__(self, data_dir: Path, *, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.log_path = data_dir.parent / f"serve-{self.port}.log"
        self.env = {"CCBRIDGE_DATA_DIR": str(data_dir), **(extra_env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServeProcess:
        with open(self.log_path, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ccbridge.cli.main", "serve", "--port", str(self.port)],
                env={**os.environ, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while not self._healthy():
            if self.process.poll() is not None:
                raise AssertionError(f"ccbridge serve exited early:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"ccbridge serve did not become healthy:\n{self.log()}")
            time.sleep(0.05)
        return self

    def _healthy(self) -> bool:
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)

    def __exit__(self, *exc: Any) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

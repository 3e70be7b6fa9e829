"""``ccbridge serve`` for real: starts on a free port with a temp data dir, answers
/healthz, shows the sandbox banner in its log and on its pages, and stops cleanly."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from ccbridge.testing import free_port
from tests.cli.serve_support import ServeProcess, run_cli

BANNER = "SANDBOX — not connected to Constant Contact"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_starts_answers_and_stops_cleanly(tmp_path: Path, sig: int) -> None:
    with ServeProcess(tmp_path / "data") as serve:
        assert httpx.get(serve.url + "/healthz").json() == {"status": "ok"}
        ready = httpx.get(serve.url + "/readyz")
        assert ready.status_code == 200
        login = httpx.get(serve.url + "/login")
        assert login.status_code == 200 and BANNER in login.text
        # The sandbox answers on the same port, under CC's own paths.
        meta = httpx.get(serve.url + "/oauth2/default/.well-known/oauth-authorization-server")
        assert meta.status_code == 200 and meta.json()["issuer"].startswith(serve.url)
        code = serve.stop(sig)
        log = serve.log()
    assert code in (0, 130, -sig), log
    assert BANNER in log
    assert f"ccbridge is running at {serve.url}/" in log
    assert "owner@sandbox.example" in log  # the demo login is printed
    assert "worker stopped: every running job finished" in log
    assert "ccbridge stopped cleanly" in log
    assert "Traceback" not in log
    # The data directory holds the embedded database, queue, vault key and sandbox state.
    names = {p.name for p in (tmp_path / "data").iterdir()}
    assert {"ccbridge.db", "queue.sqlite", "vault.keys", "sandbox.sqlite"} <= names


def test_busy_port_is_one_clear_line(tmp_path: Path) -> None:
    import socket

    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen(1)
        result = run_cli(["serve", "--port", str(port)], {"CCBRIDGE_DATA_DIR": str(tmp_path / "d")})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [f"ccbridge: error: cannot listen on 127.0.0.1:{port}: Address already in use"]


def test_bad_configuration_is_one_clear_line(tmp_path: Path) -> None:
    result = run_cli(
        ["serve"], {"CCBRIDGE_DATA_DIR": str(tmp_path / "d"), "CCBRIDGE_CLIENT_ID": "x"}
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "CCBRIDGE_CLIENT_ID is set but CCBRIDGE_REDIRECT_URI is not" in result.stderr
    debug = run_cli(
        ["serve", "--debug"], {"CCBRIDGE_DATA_DIR": str(tmp_path / "d"), "CCBRIDGE_CLIENT_ID": "x"}
    )
    assert "Traceback" in debug.stderr


def test_unreachable_redis_is_one_clear_line(tmp_path: Path) -> None:
    env = {"CCBRIDGE_DATA_DIR": str(tmp_path / "d"), "CCBRIDGE_REDIS_URL": "redis://127.0.0.1:1/0"}
    for command in (["worker"], ["serve", "--port", str(free_port())]):
        result = run_cli(command, env)
        assert result.returncode == 1, result.stderr
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith(
            "ccbridge: error: the job queue (CCBRIDGE_REDIS_URL) is not reachable"
        )
        assert "Traceback" not in result.stderr

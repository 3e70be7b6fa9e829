"""``ccbridge sandbox`` for real: uvicorn on a free 127.0.0.1 port in a subprocess.

Every server is started by ``running_sandbox`` and always stopped (terminate, then kill) in
its ``finally``. Waiting for the server to accept connections is a readiness poll, not a
timing assertion.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ccbridge.cli.sandbox_cmd import (
    DEMO_CLIENT_ID,
    DEMO_LOGIN,
    DEMO_PASSWORD,
    public_base_url,
    seed_demo,
)
from ccbridge.sandbox import Sandbox
from ccbridge.sandbox.http import MAX_BODY_BYTES
from ccbridge.testing import free_port

PROBE = "/v3/partner/accounts"  # a known CC operation the sandbox answers 501 after auth
STARTUP_SECONDS = 30


@dataclass
class RunningSandbox:
    base_url: str
    process: subprocess.Popen[bytes]
    output: Path

    def printed(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    def banner_value(self, label: str) -> str:
        match = re.search(rf"^\s*{re.escape(label)}\s+(\S+)", self.printed(), re.MULTILINE)
        assert match, f"'{label}' not printed:\n{self.printed()}"
        return match.group(1)


def _command(port: int, *args: str) -> list[str]:
    return [sys.executable, "-m", "ccbridge.cli.main", "sandbox", "--port", str(port), *args]


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # uvicorn shuts down cleanly; --data is saved
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _wait_until_ready(server: RunningSandbox) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"the sandbox exited early:\n{server.printed()}")
        try:
            if httpx.get(server.base_url + "/oauth2/default/v1/keys", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # polling for readiness, not measuring anything
    raise AssertionError(
        f"the sandbox did not start within {STARTUP_SECONDS}s:\n{server.printed()}"
    )


@contextlib.contextmanager
def running_sandbox(tmp_path: Path, *args: str) -> Iterator[RunningSandbox]:
    port = free_port()
    output = tmp_path / f"sandbox-{port}.out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(output, "wb") as sink:
        process = subprocess.Popen(
            _command(port, *args), stdout=sink, stderr=subprocess.STDOUT, env=env
        )
    server = RunningSandbox(f"http://127.0.0.1:{port}", process, output)
    try:
        _wait_until_ready(server)
        yield server
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    """One shared server with rate limits off (each test cleans up what it changes)."""
    with running_sandbox(tmp_path_factory.mktemp("server"), "--rate-limits", "off") as running:
        yield running


@pytest.fixture
def http(server: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client
        client.delete("/_sandbox/faults")


def _demo_account_id(http: httpx.Client) -> str:
    accounts = http.get("/_sandbox/accounts").json()["accounts"]
    return str(next(a["account_id"] for a in accounts if a["email"] == DEMO_LOGIN))


def _grant(http: httpx.Client, client_id: str = DEMO_CLIENT_ID) -> dict[str, Any]:
    response = http.post(
        "/_sandbox/grants", json={"client_id": client_id, "account_id": _demo_account_id(http)}
    )
    assert response.status_code == 200, response.text
    token: dict[str, Any] = response.json()
    return token


# -- what it prints and serves ----------------------------------------------------------
def test_prints_the_demo_credentials(server: RunningSandbox, http: httpx.Client) -> None:
    assert server.banner_value("client_id") == DEMO_CLIENT_ID
    assert server.banner_value("redirect URI") == f"{server.base_url}/_sandbox/callback"
    assert server.banner_value("login") == DEMO_LOGIN
    assert f"{DEMO_LOGIN} / {DEMO_PASSWORD}" in server.printed()
    assert server.banner_value("API base URL") == f"{server.base_url}/v3"
    # The printed secret is the demo app's real secret: the token endpoint accepts it.
    token = _grant(http)
    refreshed = http.post(
        "/oauth2/default/v1/token",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(DEMO_CLIENT_ID, server.banner_value("client_secret")),
    )
    assert refreshed.status_code == 200, refreshed.text


def test_jwks(http: httpx.Client) -> None:
    keys = http.get("/oauth2/default/v1/keys").json()["keys"]
    assert keys and keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and keys[0]["kid"]


def test_api_with_a_granted_token(http: httpx.Client) -> None:
    token = _grant(http)
    assert token["token_type"] == "Bearer" and token["expires_in"] == 86_400
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert http.get(PROBE, headers=headers).status_code == 501
    unauthorized = http.get(PROBE)
    assert unauthorized.status_code == 401
    assert unauthorized.json() == {"error_key": "unauthorized", "error_message": "Unauthorized"}


def test_rate_limits_off_lets_a_burst_through(http: httpx.Client) -> None:
    headers = {"Authorization": f"Bearer {_grant(http)['access_token']}"}
    assert {http.get(PROBE, headers=headers).status_code for _ in range(12)} == {501}


def test_control_plane_index_page(http: httpx.Client) -> None:
    for path in ("/_sandbox/", "/_sandbox"):
        page = http.get(path)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert DEMO_CLIENT_ID in page.text and DEMO_LOGIN in page.text
        assert "/_sandbox/faults" in page.text and "/_sandbox/grants" in page.text
        assert "/oauth2/default/v1/authorize?" in page.text


def test_callback_page_shows_code_and_state_but_the_log_does_not(http: httpx.Client) -> None:
    page = http.get("/_sandbox/callback", params={"code": "c0de-123", "state": "st4te-456"})
    assert page.status_code == 200
    assert "c0de-123" in page.text and "st4te-456" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    log = http.get("/_sandbox/requests").text
    assert "c0de-123" not in log and "st4te-456" not in log


def test_dropped_connection_fault_is_a_client_side_connection_error(http: httpx.Client) -> None:
    headers = {"Authorization": f"Bearer {_grant(http)['access_token']}"}
    fault = {"match": {"path": "^/v3/partner"}, "action": {"drop": True}}
    assert http.post("/_sandbox/faults", json=fault).status_code == 201
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(PROBE, headers=headers)
    assert http.delete("/_sandbox/faults").status_code == 204
    assert http.get(PROBE, headers=headers).status_code == 501  # the server is fine


def test_latency_fault_over_http_hits_the_read_timeout(http: httpx.Client) -> None:
    headers = {"Authorization": f"Bearer {_grant(http)['access_token']}"}
    fault = {"match": {"path": "^/v3/partner", "times": 1}, "action": {"latency_ms": 10_000}}
    assert http.post("/_sandbox/faults", json=fault).status_code == 201
    with pytest.raises(httpx.ReadTimeout):
        http.get(PROBE, headers=headers, timeout=httpx.Timeout(10, read=0.2))


def test_oversize_body_is_413(http: httpx.Client) -> None:
    headers = {"Authorization": f"Bearer {_grant(http)['access_token']}"}
    body = b"x" * (MAX_BODY_BYTES + 1)
    response = http.post(
        "/v3/contacts", content=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()[0]["error_key"] == "request.too_large"
    entry = http.get("/_sandbox/requests").json()["requests"][-1]  # this call logs after answering
    assert (entry["path"], entry["status"]) == ("/v3/contacts", 413)


# -- other ways to start it --------------------------------------------------------------
def test_rate_limits_are_on_by_default(tmp_path: Path) -> None:
    with running_sandbox(tmp_path) as server, httpx.Client(base_url=server.base_url) as http:
        assert server.banner_value("rate limits") == "on"
        headers = {"Authorization": f"Bearer {_grant(http)['access_token']}"}
        statuses = [http.get(PROBE, headers=headers).status_code for _ in range(12)]
    assert statuses[:4] == [501] * 4
    assert 429 in statuses  # twelve local requests cannot all be more than 1 s apart in fours


def test_data_file_keeps_state_across_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "kept.db"
    with running_sandbox(tmp_path, "--data", str(data)) as server:
        with httpx.Client(base_url=server.base_url) as http:
            created = http.post("/_sandbox/accounts", json={"email": "restart@example.com"})
            assert created.status_code == 201
            token = _grant(http)
            http.post("/_sandbox/clock", json={"advance_seconds": 7200})
            offset = http.get("/_sandbox/clock").json()["offset_seconds"]
        first_secret = server.banner_value("client_secret")
    assert data.is_file()
    with running_sandbox(tmp_path, "--data", str(data)) as server:
        with httpx.Client(base_url=server.base_url) as http:
            emails = [a["email"] for a in http.get("/_sandbox/accounts").json()["accounts"]]
            assert sorted(emails) == sorted([DEMO_LOGIN, "restart@example.com"])
            assert http.get("/_sandbox/clock").json()["offset_seconds"] >= offset >= 7200
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            assert http.get(PROBE, headers=headers).status_code == 501
            assert [a["client_id"] for a in http.get("/_sandbox/apps").json()["apps"]] == [
                DEMO_CLIENT_ID
            ]
        assert server.banner_value("client_secret") == first_secret


def test_a_corrupt_data_file_stops_the_command_with_a_clear_message(tmp_path: Path) -> None:
    data = tmp_path / "broken.db"
    data.write_bytes(b"definitely not sqlite " * 200)
    result = subprocess.run(
        _command(free_port(), "--data", str(data)), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert str(data) in result.stderr
    assert "Traceback" not in result.stderr


# -- the command's helpers, without a server ------------------------------------------------
@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "http://127.0.0.1:8910"),
        ("0.0.0.0", "http://127.0.0.1:8910"),
        ("::", "http://127.0.0.1:8910"),
        ("::1", "http://[::1]:8910"),
        ("localhost", "http://localhost:8910"),
    ],
)
def test_printed_urls_are_ones_a_client_can_use(host: str, expected: str) -> None:
    assert public_base_url(host, 8910) == expected


def test_demo_is_seeded_once_and_follows_the_port() -> None:
    sandbox = Sandbox(rate_limits=False)
    first = seed_demo(sandbox, "http://127.0.0.1:8910")
    again = seed_demo(sandbox, "http://127.0.0.1:9999")
    assert first[:2] == again[:2]  # same client_id and secret
    assert again[2] == "http://127.0.0.1:9999/_sandbox/callback"
    app = sandbox.state.apps[DEMO_CLIENT_ID]
    assert app.redirect_uris[0] == again[2] and first[2] in app.redirect_uris
    assert len(sandbox.state.accounts) == 1
    demo = sandbox.state.account_by_login(DEMO_LOGIN)
    assert demo is not None and demo.account.password == DEMO_PASSWORD

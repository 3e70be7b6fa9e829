"""``ccbridge connect`` and ``ccbridge accounts`` against a sandbox served over HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from ccbridge.cli import connect_cmd
from ccbridge.cli.main import app
from ccbridge.testing import free_port
from ccbridge.testing.oauth_flow import approve
from tests.oauth.support import HTTPSandbox


@pytest.fixture
def served() -> Iterator[HTTPSandbox]:
    with HTTPSandbox(rate_limits=False) as sandbox:
        yield sandbox


class CLI:
    def __init__(self, served: HTTPSandbox, tmp_path: Path, redirect: str) -> None:
        self.served = served
        with httpx.Client(base_url=served.url) as control:
            created = control.post(
                "/_sandbox/apps", json={"name": "CLI", "redirect_uris": [redirect]}
            ).json()
            control.post(
                "/_sandbox/accounts",
                json={
                    "email": "owner@example.com",
                    "password": "sandbox-password",
                    "organization_name": "CLI Bakery",
                },
            ).raise_for_status()
        self.client_id = created["client_id"]
        self.env = {
            "CCBRIDGE_DATA_DIR": str(tmp_path / "data"),
            "CCBRIDGE_CLIENT_ID": self.client_id,
        }
        self.runner = CliRunner()

    def run(self, *args: str) -> Any:
        return self.runner.invoke(app, list(args), env=self.env)

    def approve_pending_device(self, seconds: float) -> None:
        """The owner approves in a browser while the CLI waits (sandbox time passes)."""
        sandbox = self.served.sandbox
        with sandbox.lock:
            pending = [
                a for a in sandbox.state.device_authorizations.values() if a.status == "pending"
            ]
            account_id = next(iter(sandbox.state.accounts))
        with httpx.Client(base_url=self.served.url) as control:
            control.post("/_sandbox/clock", json={"advance_seconds": seconds})
            for auth in pending:
                control.post(
                    "/_sandbox/device/approve",
                    json={"user_code": auth.user_code, "account_id": account_id},
                )


@pytest.fixture
def cli(served: HTTPSandbox, tmp_path: Path) -> CLI:
    return CLI(served, tmp_path, f"http://127.0.0.1:{free_port()}/callback")


def _connect_with_device(cli: CLI, monkeypatch: pytest.MonkeyPatch, *extra: str) -> Any:
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        cli.approve_pending_device(seconds)

    monkeypatch.setattr(connect_cmd, "SLEEP", sleep)
    result = cli.run("connect", "--sandbox-url", cli.served.url, "--ref", "tenant-9", *extra)
    assert waits and waits[0] == 5  # the advertised interval
    return result


def test_connect_with_the_device_flow_then_list_show_disconnect(
    cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _connect_with_device(cli, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "enter the code" in result.output and "/oauth2/default/v1/device" in result.output
    assert "linked CLI Bakery as" in result.output

    listed = cli.run("accounts", "list", "--json")
    assert listed.exit_code == 0, listed.output
    accounts = json.loads(listed.output)
    assert [(a["app_reference"], a["status"], a["organization_name"]) for a in accounts] == [
        ("tenant-9", "active", "CLI Bakery")
    ]
    account_id = accounts[0]["id"]
    table = cli.run("accounts", "list", "--ref", "tenant-9")
    assert account_id in table.output and "active" in table.output

    shown = cli.run("accounts", "show", account_id)
    assert shown.exit_code == 0 and "linked" in shown.output and "CLI Bakery" in shown.output

    alive = cli.run(
        "accounts", "keep-alive", "--idle-days", "0.000001", "--sandbox-url", cli.served.url
    )
    assert alive.exit_code == 0, alive.output
    assert "refreshed 1" in alive.output

    gone = cli.run("accounts", "disconnect", account_id, "--sandbox-url", cli.served.url)
    assert gone.exit_code == 0, gone.output
    after = json.loads(cli.run("accounts", "show", account_id, "--json").output)
    assert after["status"] == "disconnected" and after["has_tokens"] is False
    assert [e["event"] for e in after["events"]] == ["linked", "refreshed", "disconnected"]


def test_connect_with_the_loopback_redirect_flow(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    redirect = cli.served.sandbox.state.apps[cli.client_id].redirect_uris[0]

    def browser(url: str) -> bool:
        def person() -> None:
            with httpx.Client(base_url=cli.served.url) as real:
                location = approve(real, url)
                real.get(location)  # lands on the CLI's loopback listener

        threading.Thread(target=person).start()
        return True

    monkeypatch.setattr(connect_cmd, "OPEN_BROWSER", browser)
    result = cli.run(
        "connect",
        "--loopback",
        "--redirect-uri",
        redirect,
        "--sandbox-url",
        cli.served.url,
        "--timeout",
        "30",
        "--scope",
        "account_read",
        "--scope",
        "contact_data",
    )
    assert result.exit_code == 0, result.output
    assert "Open this URL" in result.output and "code_challenge_method=S256" in result.output
    assert "linked CLI Bakery" in result.output


def test_errors_are_one_line_without_traceback_unless_debug(cli: CLI) -> None:
    result = cli.run("accounts", "show", "no-such-id")
    assert result.exit_code == 1
    assert result.output.strip() == "ccbridge: error: no linked account has id 'no-such-id'"
    debug = cli.run("accounts", "show", "no-such-id", "--debug")
    assert debug.exit_code == 1 and debug.exception is not None
    assert type(debug.exception).__name__ == "AccountNotFoundError"
    unreachable = cli.run("connect", "--sandbox-url", "http://127.0.0.1:9")
    assert unreachable.exit_code == 1
    assert unreachable.output.strip().startswith("ccbridge: error: the authorization server")
    assert len(unreachable.output.strip().splitlines()) == 1
    bad = cli.runner.invoke(
        app, ["accounts", "list"], env={**cli.env, "CCBRIDGE_REFRESH_MARGIN": "x"}
    )
    assert bad.exit_code == 1 and "CCBRIDGE_REFRESH_MARGIN" in bad.output


def test_connect_refused_by_the_owner(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    def deny(seconds: float) -> None:
        sandbox = cli.served.sandbox
        with sandbox.lock:
            codes = [a.user_code for a in sandbox.state.device_authorizations.values()]
            account_id = next(iter(sandbox.state.accounts))
        with httpx.Client(base_url=cli.served.url) as control:
            control.post("/_sandbox/clock", json={"advance_seconds": seconds})
            control.post(
                "/_sandbox/device/approve",
                json={"user_code": codes[0], "account_id": account_id, "allow": False},
            )

    monkeypatch.setattr(connect_cmd, "SLEEP", deny)
    result = cli.run("connect", "--sandbox-url", cli.served.url)
    assert result.exit_code == 1
    assert "ccbridge: error: the authorization was not granted (access_denied" in result.output
    assert json.loads(cli.run("accounts", "list", "--json").output) == []

"""Helpers for the service tests: a service on a temp data dir, signing in, forms, the
connect flow driven the way a browser drives it (sandbox sign-in and consent forms)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from ccbridge.service import Service, build_service
from ccbridge.testing.oauth_flow import decide
from ccbridge.web import create_app
from ccbridge.web.settings import ServiceSettings

with warnings.catch_warnings():
    # Starlette 1.x suggests httpx2 for its TestClient; httpx is what this project uses.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

ADMIN = "admin"
PASSWORD = "correct horse battery"
PORT = 8765
BASE_URL = f"http://127.0.0.1:{PORT}"


def settings_for(data_dir: Path, **env: str) -> ServiceSettings:
    values = {"CCBRIDGE_DATA_DIR": str(data_dir), "CCBRIDGE_PORT": str(PORT), **env}
    return ServiceSettings.load(values)


@contextmanager
def running_service(data_dir: Path, **env: str) -> Iterator[Service]:
    service = build_service(settings_for(data_dir, **env), install_extensions=False, scrypt_log_n=8)
    try:
        yield service
    finally:
        service.close()


def client_for(
    service: Service, *, run_worker: bool = False, base_url: str | None = None
) -> TestClient:
    app = create_app(service, run_worker=run_worker)
    return TestClient(app, base_url=base_url or service.settings.public_url, follow_redirects=False)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]*)"', html)
    assert match, "no csrf_token field on the page"
    return match.group(1)


def sign_in(
    client: Any, service: Service, username: str = ADMIN, password: str = PASSWORD
) -> httpx.Response:
    if not any(u.username == username for u in service.admin.list_users()):
        service.admin.create_user(username, password)
    page = client.get("/login")
    assert page.status_code == 200
    response = client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": csrf_of(page.text),
            "next": "/",
        },
    )
    assert response.status_code == 303, response.text
    return response


def sandbox_consent(
    client: Any, authorize_url: str, service: Service, decision: str = "allow"
) -> httpx.Response:
    """Open CC's (the sandbox's) authorize URL, sign in with the demo login, decide.

    Returns the sandbox's redirect to the service's callback.
    """
    assert service.sandbox is not None
    page = client.get(_local(authorize_url))
    assert page.status_code == 200, page.text
    return decide(
        client,
        page,
        decision,
        email=service.sandbox.login,
        password=service.sandbox.password,
    )


def _local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def connect_account(client: Any, service: Service, app_reference: str = "default") -> str:
    """Dashboard Connect → sandbox sign-in and consent → callback; returns the account id."""
    accounts = client.get("/accounts")
    started = client.post(
        "/accounts/connect",
        data={"csrf_token": csrf_of(accounts.text), "app_reference": app_reference},
    )
    assert started.status_code == 303, started.text
    back = sandbox_consent(client, started.headers["location"], service)
    assert back.headers["location"].startswith(service.settings.callback_url)
    done = client.get(_local(back.headers["location"]))
    assert done.status_code == 303, done.text
    location = done.headers["location"]
    match = re.fullmatch(r"/accounts/([0-9a-f-]{36})\?notice=linked", location)
    assert match, location
    return match.group(1)


def local(url: str) -> str:
    return _local(url)

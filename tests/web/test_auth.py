"""Admin sign-in, sessions, CSRF on every POST form, cookie flags, password hashing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ccbridge.service import Service
from ccbridge.store.schema import oauth_states
from ccbridge.web.auth import hash_password, verify_password
from tests.web.support import ADMIN, PASSWORD, client_for, csrf_of, running_service, sign_in


def _cookie_header(response: Any) -> str:
    headers = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    assert len(headers) == 1, headers
    return str(headers[0])


def test_pages_need_a_signed_in_admin(client: Any) -> None:
    for path in ("/", "/accounts", "/activities", "/budget"):
        response = client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")


def test_session_cookie_is_httponly_lax_and_not_secure_over_http(
    service: Service, client: Any
) -> None:
    page = client.get("/login")
    cookie = _cookie_header(page).lower()
    assert cookie.startswith("ccbridge_session=")
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/" in cookie
    assert "secure" not in cookie


def test_session_cookie_is_secure_when_served_over_https(tmp_path: Path) -> None:
    with (
        running_service(tmp_path / "d", CCBRIDGE_PUBLIC_URL="https://ccbridge.example") as svc,
        client_for(svc) as c,
    ):
        cookie = _cookie_header(c.get("/login")).lower()
    assert "secure" in cookie
    assert "httponly" in cookie


def test_sign_in_rotates_the_session_and_opens_the_dashboard(service: Service, client: Any) -> None:
    anonymous = client.get("/login").cookies.get("ccbridge_session")
    response = sign_in(client, service)
    signed_in = response.cookies.get("ccbridge_session")
    assert signed_in and signed_in != anonymous  # no session fixation
    page = client.get("/")
    assert page.status_code == 200
    assert "Overview" in page.text and ADMIN in page.text


def test_wrong_password_is_refused(service: Service, client: Any) -> None:
    service.admin.create_user(ADMIN, PASSWORD)
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": ADMIN, "password": "not the password", "csrf_token": csrf_of(page.text)},
    )
    assert response.status_code == 400
    assert "Wrong username or password" in response.text
    assert client.get("/").status_code == 303


def test_login_form_without_or_with_a_wrong_csrf_token_is_refused(
    service: Service, client: Any
) -> None:
    service.admin.create_user(ADMIN, PASSWORD)
    client.get("/login")
    missing = client.post("/login", data={"username": ADMIN, "password": PASSWORD})
    assert missing.status_code == 403
    wrong = client.post(
        "/login", data={"username": ADMIN, "password": PASSWORD, "csrf_token": "forged"}
    )
    assert wrong.status_code == 403
    assert "CSRF" in wrong.text
    assert client.get("/").status_code == 303  # still not signed in


def test_csrf_token_of_another_session_is_refused(service: Service, client: Any) -> None:
    sign_in(client, service)
    with client_for(service) as other:
        token_of_other = csrf_of(other.get("/login").text)
    response = client.post("/accounts/connect", data={"csrf_token": token_of_other})
    assert response.status_code == 403


def test_forged_connect_post_is_refused_and_starts_nothing(service: Service, client: Any) -> None:
    sign_in(client, service)
    response = client.post("/accounts/connect", data={"app_reference": "default"})
    assert response.status_code == 403
    with service.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(oauth_states)).scalar() == 0


def test_post_of_a_non_form_body_is_refused(service: Service, client: Any) -> None:
    sign_in(client, service)
    response = client.post(
        "/logout", content=b'{"x": 1}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 415


def test_logout_needs_the_token_and_ends_the_session(service: Service, client: Any) -> None:
    sign_in(client, service)
    assert client.post("/logout", data={}).status_code == 403
    assert client.get("/").status_code == 200
    page = client.get("/")
    response = client.post("/logout", data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 303
    assert "max-age=0" in _cookie_header(
        response
    ).lower() or 'ccbridge_session=""' in _cookie_header(response)
    assert client.get("/").status_code == 303


def test_a_stolen_cookie_is_useless_after_logout(service: Service, client: Any) -> None:
    sign_in(client, service)
    raw = client.cookies.get("ccbridge_session")
    page = client.get("/")
    client.post("/logout", data={"csrf_token": csrf_of(page.text)})
    with client_for(service) as thief:
        thief.cookies.set("ccbridge_session", raw)
        assert thief.get("/").status_code == 303


def test_repeated_failures_are_throttled(service: Service, client: Any) -> None:
    service.admin.create_user(ADMIN, PASSWORD)
    token = csrf_of(client.get("/login").text)
    statuses = [
        client.post(
            "/login", data={"username": ADMIN, "password": f"guess-{i}", "csrf_token": token}
        ).status_code
        for i in range(11)
    ]
    assert statuses[:10] == [400] * 10
    assert statuses[10] == 429
    throttled = client.post(
        "/login", data={"username": ADMIN, "password": PASSWORD, "csrf_token": token}
    )
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0


def test_next_parameter_cannot_redirect_off_site(service: Service, client: Any) -> None:
    service.admin.create_user(ADMIN, PASSWORD)
    page = client.get("/login?next=https://evil.example/")
    response = client.post(
        "/login",
        data={
            "username": ADMIN,
            "password": PASSWORD,
            "csrf_token": csrf_of(page.text),
            "next": "//evil.example/",
        },
    )
    assert response.headers["location"] == "/"


def test_passwords_are_stored_as_scrypt_hashes(service: Service) -> None:
    service.admin.create_user(ADMIN, PASSWORD)
    with service.db.read() as conn:
        stored = conn.execute(
            sa.text("SELECT password_hash FROM ccbridge_admin_users")
        ).scalar_one()
    assert stored.startswith("scrypt$") and PASSWORD not in stored
    assert verify_password(PASSWORD, stored)
    assert not verify_password(PASSWORD + "x", stored)
    # Each hash has its own salt.
    assert hash_password(PASSWORD, log_n=8) != hash_password(PASSWORD, log_n=8)


def test_every_page_shows_the_sandbox_banner(service: Service, client: Any) -> None:
    assert "SANDBOX — not connected to Constant Contact" in client.get("/login").text
    sign_in(client, service)
    for path in ("/", "/accounts", "/activities", "/budget"):
        assert "SANDBOX — not connected to Constant Contact" in client.get(path).text, path


def test_pages_send_protective_headers(client: Any) -> None:
    response = client.get("/login")
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_first_admin_through_the_one_time_setup_link(service: Service) -> None:
    code = "one-time-setup-code"
    with client_for_setup(service, code) as client:
        assert client.get("/setup").status_code == 403
        assert client.get("/setup?code=wrong").status_code == 403
        page = client.get(f"/setup?code={code}")
        assert page.status_code == 200
        forged = client.post(
            "/setup",
            data={
                "code": code,
                "username": "eve",
                "password": "x" * 12,
                "password_again": "x" * 12,
            },
        )
        assert forged.status_code == 403  # no CSRF token
        mismatch = client.post(
            "/setup",
            data={
                "csrf_token": csrf_of(page.text),
                "code": code,
                "username": "root",
                "password": "x" * 12,
                "password_again": "y" * 12,
            },
        )
        assert mismatch.status_code == 400
        done = client.post(
            "/setup",
            data={
                "csrf_token": csrf_of(page.text),
                "code": code,
                "username": "root",
                "password": "x" * 12,
                "password_again": "x" * 12,
            },
        )
        assert done.status_code == 303
        assert client.get("/").status_code == 200  # signed in as the new admin
        # Once an admin exists the link is dead.
        assert client.get(f"/setup?code={code}").headers["location"] == "/login"
    assert [u.username for u in service.admin.list_users()] == ["root"]


def client_for_setup(service: Service, code: str) -> Any:
    from ccbridge.web import create_app
    from tests.web.support import TestClient

    return TestClient(
        create_app(service, run_worker=False, setup_code=code),
        base_url=service.settings.public_url,
        follow_redirects=False,
    )

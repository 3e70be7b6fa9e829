"""The admin API: bearer tokens (hashed at rest), validation errors naming the field,
connect links that start the flow in the owner's browser, accounts, budget."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from ccbridge.service import Service
from tests.web.support import client_for, csrf_of, local, sandbox_consent


def _token(service: Service) -> dict[str, str]:
    _record, raw = service.admin.create_token("tests")
    return {"Authorization": f"Bearer {raw}"}


def _open_link(browser: Any, link: str) -> Any:
    """Open a connect link and press Continue; returns the redirect to CC's consent."""
    page = browser.get(local(link))
    assert page.status_code == 200, page.text
    ticket = re.search(r'name="ticket" value="([^"]+)"', page.text)
    assert ticket
    started = browser.post(
        "/connect/start", data={"csrf_token": csrf_of(page.text), "ticket": ticket.group(1)}
    )
    assert started.status_code == 303, started.text
    return started


def _error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["status"] == response.status_code
    return dict(body["error"])


def test_no_token_is_401_with_a_bearer_challenge(client: Any) -> None:
    response = client.get("/api/accounts")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "ccbridge admin token" in _error(response)["message"]


def test_invalid_and_revoked_tokens_are_401(service: Service, client: Any) -> None:
    assert (
        client.get("/api/accounts", headers={"Authorization": "Bearer ccb_nope"}).status_code == 401
    )
    assert client.get("/api/accounts", headers={"Authorization": "Basic abc"}).status_code == 401
    record, raw = service.admin.create_token("soon revoked")
    headers = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/accounts", headers=headers).status_code == 200
    assert service.admin.revoke_token(record.id)
    response = client.get("/api/accounts", headers=headers)
    assert response.status_code == 401
    assert _error(response)["code"] == "invalid_token"


def test_tokens_are_stored_only_as_hashes(service: Service) -> None:
    _record, raw = service.admin.create_token("hash check")
    with service.db.read() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text("SELECT * FROM ccbridge_admin_tokens"))]
    assert rows and raw not in repr(rows)


def test_accounts_list_and_filters(service: Service, client: Any) -> None:
    headers = _token(service)
    assert client.get("/api/accounts", headers=headers).json() == {"accounts": []}
    assert client.get("/api/accounts?status=active", headers=headers).status_code == 200


def test_bad_query_parameters_are_named(service: Service, client: Any) -> None:
    headers = _token(service)
    unknown = client.get("/api/accounts?colour=red", headers=headers)
    assert unknown.status_code == 400
    assert "colour" in _error(unknown)["message"]
    bad_enum = client.get("/api/accounts?status=sleeping", headers=headers)
    assert bad_enum.status_code == 400
    assert "query.status" in _error(bad_enum)["message"]
    assert "sleeping" in _error(bad_enum)["message"]


def test_unknown_account_is_404_json(service: Service, client: Any) -> None:
    response = client.get("/api/accounts/nope", headers=_token(service))
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"


def test_unknown_api_path_is_404_json(service: Service, client: Any) -> None:
    response = client.get("/api/nothing/here", headers=_token(service))
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"


def test_connect_link_body_errors_name_the_field(service: Service, client: Any) -> None:
    headers = _token(service)
    wrong_type = client.post(
        "/api/connect-links",
        content=b"app_reference=x",
        headers={**headers, "content-type": "application/x-www-form-urlencoded"},
    )
    assert wrong_type.status_code == 415
    malformed = client.post(
        "/api/connect-links",
        content=b"{nope",
        headers={**headers, "content-type": "application/json"},
    )
    assert malformed.status_code == 400 and _error(malformed)["code"] == "malformed_json"
    unknown = client.post(
        "/api/connect-links", json={"app_reference": "t", "colour": "red"}, headers=headers
    )
    assert unknown.status_code == 400
    assert "body.colour: is not a known field" in _error(unknown)["message"]
    bad_scopes = client.post("/api/connect-links", json={"scopes": "contact_data"}, headers=headers)
    assert bad_scopes.status_code == 400
    assert "body.scopes: must be an array" in _error(bad_scopes)["message"]
    bad_url = client.post(
        "/api/connect-links", json={"return_url": "javascript:alert(1)"}, headers=headers
    )
    assert bad_url.status_code == 400
    assert "body.return_url" in _error(bad_url)["message"]
    not_object = client.post("/api/connect-links", json=["x"], headers=headers)
    assert not_object.status_code == 400
    assert "body: must be an object" in _error(not_object)["message"]


def test_connect_link_starts_the_flow_in_the_owners_browser(service: Service, client: Any) -> None:
    headers = _token(service)
    created = client.post(
        "/api/connect-links",
        json={"app_reference": "customer-7", "return_url": "https://app.example/linked"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    link = created.json()["connect_url"]
    assert link.startswith(service.settings.public_url + "/connect/start?ticket=")
    # A link preview fetching the URL uses nothing up.
    with client_for(service) as preview:
        assert preview.get(local(link)).status_code == 200
    # The account owner (not an admin) opens the link in their own browser.
    with client_for(service) as owner:
        started = _open_link(owner, link)
        back = sandbox_consent(owner, started.headers["location"], service)
        done = owner.get(local(back.headers["location"]))
        assert done.status_code == 303
        assert done.headers["location"] == "https://app.example/linked"
        # The link is single-use.
        again = owner.get(local(link))
        assert again.status_code == 400 and "already used" in again.text
        forged = owner.post("/connect/start", data={"ticket": "anything"})
        assert forged.status_code == 403
    listed = client.get("/api/accounts?app_reference=customer-7", headers=headers).json()[
        "accounts"
    ]
    assert len(listed) == 1 and listed[0]["status"] == "active"
    shown = client.get(f"/api/accounts/{listed[0]['id']}", headers=headers).json()
    assert shown["organization_name"] == "Sandbox Bakery"
    assert [e["event"] for e in shown["events"]] == ["linked"]


def test_disconnect_through_the_api(service: Service, client: Any) -> None:
    headers = _token(service)
    link = client.post("/api/connect-links", json={}, headers=headers).json()["connect_url"]
    with client_for(service) as owner:
        started = _open_link(owner, link)
        back = sandbox_consent(owner, started.headers["location"], service)
        page = owner.get(local(back.headers["location"]))
        assert page.status_code == 200 and "is connected" in page.text
    account_id = service.accounts.list()[0].id
    bad = client.post(
        f"/api/accounts/{account_id}/disconnect", json={"force": "yes"}, headers=headers
    )
    assert bad.status_code == 400 and "body.force: must be a boolean" in _error(bad)["message"]
    response = client.post(f"/api/accounts/{account_id}/disconnect", headers=headers)
    assert response.status_code == 200
    assert response.json()["status"] == "disconnected" and response.json()["has_tokens"] is False
    activities = client.get(f"/api/accounts/{account_id}/activities", headers=headers)
    assert activities.status_code == 409


def test_budget_reports_the_shared_count(service: Service, client: Any) -> None:
    body = client.get("/api/budget", headers=_token(service)).json()
    assert body["client_id"] == service.client_id
    assert body["used_today"] == 0 and body["daily_limit"] == 10_000 and body["remaining"] == 10_000
    assert "every process on this machine" in body["shared_by"]

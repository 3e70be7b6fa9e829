"""The admin API (the service's ``ApiOperation`` values, served here by the standalone app
with the same validation and error shape), and lead capture installed in the service (real
linked accounts through the sandbox's OAuth, admin tokens, the deliver job, OpenAPI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from starlette.responses import JSONResponse
from starlette.testclient import TestClient

from ccbridge.leads import Form, LeadCapture, RequestInfo, create_forms_app
from ccbridge.leads.schema import account_health, deliveries, forms, submissions
from ccbridge.sandbox.state import AccountData
from ccbridge.store import Database
from ccbridge.web.api import ERROR_SCHEMA, validate
from tests.leads.conftest import (
    ALLOWED_ORIGIN,
    BASE_URL,
    default_list_id,
    form_definition,
    signup,
)
from tests.leads.support import FakeClock, set_account_status

LEAD_TABLES = {t.name for t in (forms, submissions, deliveries, account_health)}


def test_the_migration_builds_exactly_the_declared_tables(db: Database) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), forms.metadata
        )

    def table_of(d: Any) -> str | None:
        if isinstance(d, list):
            return table_of(d[0]) if d else None
        for item in d[1:]:
            if isinstance(item, sa.Table):
                return item.name
            if isinstance(item, sa.Index | sa.UniqueConstraint) and item.table is not None:
                return item.table.name
            if isinstance(item, str) and item in LEAD_TABLES:
                return item
        return None

    assert [d for d in diff if table_of(d) in LEAD_TABLES] == []


def _error(response: Any, status: int, code: str) -> str:
    """The service API's error shape, checked against its OpenAPI schema; the message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert validate(body, ERROR_SCHEMA, "error") == []
    assert body["error"]["status"] == status and body["error"]["code"] == code
    return str(body["error"]["message"])


def test_admin_api_manages_forms(web: TestClient, account_id: str, cc_account: AccountData) -> None:
    definition = form_definition(account_id, default_list_id(cc_account))
    created = web.post("/api/forms", json=definition)
    assert created.status_code == 201
    form_id = created.json()["id"]
    assert web.get("/api/forms").json()["forms"][0]["id"] == form_id
    assert web.get("/api/forms", params={"account_id": "other"}).json() == {"forms": []}
    changed = web.patch(f"/api/forms/{form_id}", json={"consent_text": "Changed."})
    assert changed.json()["consent_version"] == 2
    assert web.patch(f"/api/forms/{form_id}", json={"title": "New"}).json()["consent_version"] == 2
    message = _error(
        web.patch(f"/api/forms/{form_id}", json={"account_id": "x"}), 400, "invalid_body"
    )
    assert message == "body.account_id: is not a known field"
    assert web.post(f"/api/forms/{form_id}/disable").json()["status"] == "disabled"
    assert web.post(f"/api/forms/{form_id}/enable").json()["status"] == "active"
    shown = web.get(f"/api/forms/{form_id}").json()
    assert shown["deliveries"] == {"pending": 0, "held": 0, "delivered": 0, "dead": 0, "flagged": 0}
    assert "nope" in _error(web.get("/api/forms/nope"), 404, "not_found")
    _error(web.post("/api/forms/nope/disable"), 404, "not_found")
    _error(web.patch("/api/forms/nope", json={"title": "x"}), 404, "not_found")


def test_admin_api_refuses_bad_definitions_naming_the_field(
    web: TestClient, account_id: str, cc_account: AccountData
) -> None:
    definition = form_definition(account_id, default_list_id(cc_account))
    cases = [
        ({**definition, "list_ids": []}, "body.list_ids: must list 1 to 50 CC list ids"),
        ({**definition, "list_ids": ["nope"]}, "body.list_ids[0]: 'nope' is not a CC list id"),
        ({**definition, "fields": ["email_address", {"name": "Bad Name"}]}, "body.fields[1].name:"),
        ({**definition, "redirect_url": "ftp://x"}, "body.redirect_url: must be an absolute"),
        ({**definition, "account_id": "0" * 36}, "body.account_id: no linked account"),
        ({**definition, "colour": "red"}, "body.colour: is not a known field"),
        (
            {k: v for k, v in definition.items() if k != "consent_text"},
            "body.consent_text: is required",
        ),
        ({**definition, "min_fill_seconds": "soon"}, "body.min_fill_seconds: must be a number"),
    ]
    for body, expected in cases:
        message = _error(web.post("/api/forms", json=body), 400, "invalid_body")
        assert message.startswith(expected), (expected, message)
    refused = web.post("/api/forms", content=b"x", headers={"Content-Type": "text/plain"})
    _error(refused, 415, "unsupported_media_type")
    _error(
        web.post("/api/forms", content=b"{", headers={"Content-Type": "application/json"}),
        400,
        "malformed_json",
    )
    assert web.get("/api/forms").json() == {"forms": []}  # nothing was stored


def test_admin_api_dead_letters_and_approval(
    web: TestClient, capture: LeadCapture, form: Form, clock: FakeClock
) -> None:
    token = capture.tokens.issue(form.id)
    flagged = web.post(f"/forms/{form.id}/submissions", json=signup(token))  # too fast
    clock.advance(5)
    web.post(f"/forms/{form.id}/submissions", json=signup(token, email="ok@example.com"))
    [claim] = capture.outbox.claim("w")
    capture.outbox.bury(claim, reason="CC answered HTTP 400 (list gone)")
    dead = web.get("/api/deliveries", params={"state": "dead"}).json()["deliveries"]
    assert [d["dead_reason"] for d in dead] == ["CC answered HTTP 400 (list gone)"]
    message = _error(
        web.get("/api/deliveries", params={"state": "bogus"}), 400, "invalid_parameter"
    )
    assert message.startswith("query.state: must be one of pending, held, delivered, dead")
    _error(web.get("/api/deliveries", params={"limit": "0"}), 400, "invalid_parameter")
    _error(web.post("/api/deliveries/retry-dead", json={"ids": "x"}), 400, "invalid_body")
    _error(web.post("/api/deliveries/retry-dead", json={"every": True}), 400, "invalid_body")
    assert web.post("/api/deliveries/retry-dead", json={"form_id": form.id}).json() == {
        "retried": 1
    }
    assert web.post("/api/deliveries/retry-dead").json() == {"retried": 0}
    submission_id = flagged.json()["submission_id"]
    approved = web.post(f"/api/submissions/{submission_id}/approve")
    assert approved.status_code == 200
    assert approved.json()["submission_id"] == submission_id
    assert capture.outbox.counts()["pending"] == 2
    assert capture.outbox.counts()["flagged"] == 0  # approved: no longer awaiting review
    _error(web.post("/api/submissions/nope/approve"), 404, "not_found")


def test_admin_api_pages_through_submissions_with_their_status_and_evidence(
    web: TestClient, capture: LeadCapture, form: Form, clock: FakeClock, db: Database
) -> None:
    ids = []
    for i in range(4):
        token = capture.tokens.issue(form.id)
        clock.advance(5)
        info = RequestInfo("192.0.2.7", "Firefox/130", "https://shop.example/join")
        ids.append(capture.accept_sync(form, signup(token, email=f"p{i}@example.com"), info))
    clock.advance(1)
    bot = capture.accept_sync(
        form, signup(capture.tokens.issue(form.id), email="bot@example.com", website="x"), info
    )
    assert bot.spam_reason == "honeypot_filled"
    claims = {c.submission_id: c for c in capture.outbox.claim("w", limit=2)}  # the oldest two
    first, second = claims[ids[0].submission_id], claims[ids[1].submission_id]
    capture.outbox.complete(first, worker_id="w", contact_id="c-1", action="created")
    capture.outbox.bury(second, reason="CC answered HTTP 400 (list gone)")

    def listed(**params: Any) -> dict[str, Any]:
        response = web.get(f"/api/forms/{form.id}/submissions", params=params)
        assert response.status_code == 200, response.text
        return dict(response.json())

    everything = listed()
    assert everything["total"] == 5
    assert [s["email"] for s in everything["submissions"]] == [  # newest first
        "bot@example.com",
        "p3@example.com",
        "p2@example.com",
        "p1@example.com",
        "p0@example.com",
    ]
    by_status = {s["email"]: s["status"] for s in everything["submissions"]}
    assert by_status == {
        "p0@example.com": "delivered",
        "p1@example.com": "dead",
        "p2@example.com": "pending",
        "p3@example.com": "pending",
        "bot@example.com": "flagged",
    }
    delivered = listed(status="delivered")["submissions"]
    assert [(s["email"], s["cc_contact_id"], s["cc_action"]) for s in delivered] == [
        ("p0@example.com", "c-1", "created")
    ]
    evidence = delivered[0]
    assert evidence["consent_text"] == form.definition.consent_text
    assert (evidence["consent_version"], evidence["ip"], evidence["user_agent"]) == (
        1,
        "192.0.2.7",
        "Firefox/130",
    )
    assert evidence["page_url"] == "https://shop.example/join"
    assert listed(status="dead")["submissions"][0]["dead_reason"].endswith("(list gone)")
    assert listed(status="flagged")["submissions"][0]["flagged_as_spam"] == "honeypot_filled"
    page = listed(limit=2, offset=3)
    assert (page["total"], len(page["submissions"])) == (5, 2)
    set_account_status(db, form.account_id, "needs_reauth")
    assert listed(status="held")["total"] == 2 and listed(status="pending")["total"] == 0
    _error(
        web.get(f"/api/forms/{form.id}/submissions", params={"status": "lost"}),
        400,
        "invalid_parameter",
    )
    _error(web.get("/api/forms/nope/submissions"), 404, "not_found")


def test_the_admin_api_is_guarded_in_a_standalone_app(capture: LeadCapture) -> None:
    async def only_with_header(request: Any) -> Any:
        if request.headers.get("x-admin") == "yes":
            return None
        return JSONResponse({"error": {"status": 403, "code": "forbidden", "message": "no"}}, 403)

    app = create_forms_app(capture, admin_guard=only_with_header)
    with TestClient(app, base_url=BASE_URL) as client:
        assert client.get("/api/forms").status_code == 403
        assert client.get("/api/forms", headers={"x-admin": "yes"}).json() == {"forms": []}


def test_lead_capture_inside_the_service_end_to_end(tmp_path: Path) -> None:
    """The service installs lead capture: a form via the admin API (admin token), a
    signup on the public endpoint, the deliver job, the contact in the embedded sandbox."""
    from ccbridge.service import build_service
    from ccbridge.web import create_app
    from tests.web.support import connect_account, settings_for, sign_in

    service = build_service(settings_for(tmp_path / "data"), scrypt_log_n=8)
    try:
        assert "leads.deliver" in service.jobs.job_names
        app = create_app(service, run_worker=False)
        with TestClient(
            app, base_url=service.settings.public_url, follow_redirects=False
        ) as client:
            sign_in(client, service)
            account_id = connect_account(client, service)
            assert client.get("/forms").status_code == 200  # the dashboard page, logged in
            _, raw_token = service.admin.create_token("forms-test")
            sandbox = service.sandbox.sandbox  # type: ignore[union-attr]
            data = next(
                a
                for a in sandbox.state.accounts.values()
                if a.account.login_email == service.sandbox.login
            )  # type: ignore[union-attr]
            list_id = next(iter(data.lists))
            definition = form_definition(account_id, list_id, min_fill_seconds=0)
            assert client.post("/api/forms", json=definition).status_code == 401
            created = client.post(
                "/api/forms", json=definition, headers={"Authorization": f"Bearer {raw_token}"}
            )
            assert created.status_code == 201, created.text
            form_id = created.json()["id"]
            page = client.get(f"/forms/{form_id}")
            from tests.leads.conftest import hidden_inputs

            posted = hidden_inputs(page.text)
            posted.update({"email_address": "svc@example.com", "consent": "yes", "website": ""})
            answer = client.post(
                f"/forms/{form_id}/submissions", data=posted, headers={"Origin": ALLOWED_ORIGIN}
            )
            assert answer.status_code == 303, answer.text
            result = service.jobs.run_now("leads.deliver")
            assert result["delivered"] == 1
            contact = data.contact_by_email("svc@example.com")
            assert contact is not None and contact.email_address is not None
            assert contact.email_address.permission_to_send == "explicit"
            assert list_id in contact.list_memberships
    finally:
        service.close()

"""The admin API and pages of the standalone app, and lead capture installed in the service
(real linked accounts through the sandbox's OAuth, admin tokens, the deliver job)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from starlette.testclient import TestClient

from ccbridge.leads import Form, LeadCapture
from ccbridge.leads.schema import account_health, deliveries, forms, submissions
from ccbridge.sandbox.state import AccountData
from ccbridge.store import Database
from tests.leads.conftest import ALLOWED_ORIGIN, default_list_id, form_definition, signup
from tests.leads.support import FakeClock

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


def test_admin_api_manages_forms(web: TestClient, account_id: str, cc_account: AccountData) -> None:
    definition = form_definition(account_id, default_list_id(cc_account))
    created = web.post("/admin/api/forms", json=definition)
    assert created.status_code == 201
    form_id = created.json()["id"]
    assert web.get("/admin/api/forms").json()["forms"][0]["id"] == form_id
    changed = web.patch(f"/admin/api/forms/{form_id}", json={"consent_text": "Changed."})
    assert changed.json()["consent_version"] == 2
    assert web.patch(f"/admin/api/forms/{form_id}", json={"account_id": "x"}).status_code == 400
    assert web.post(f"/admin/api/forms/{form_id}/disable").json()["status"] == "disabled"
    assert web.post(f"/admin/api/forms/{form_id}/enable").json()["status"] == "active"
    shown = web.get(f"/admin/api/forms/{form_id}").json()
    assert shown["deliveries"] == {"pending": 0, "held": 0, "delivered": 0, "dead": 0, "flagged": 0}
    assert web.get("/admin/api/forms/nope").status_code == 404
    bad = web.post("/admin/api/forms", json={**definition, "list_ids": []})
    assert bad.status_code == 400 and bad.json()[0]["error_message"].startswith("list_ids:")
    assert (
        web.post(
            "/admin/api/forms", content=b"x", headers={"Content-Type": "text/plain"}
        ).status_code
        == 415
    )
    assert web.get("/admin/forms").status_code == 200
    assert "Newsletter" in web.get(f"/admin/forms/{form_id}").text


def test_admin_api_dead_letters_and_approval(
    web: TestClient, capture: LeadCapture, form: Form, clock: FakeClock
) -> None:
    token = capture.tokens.issue(form.id)
    flagged = web.post(f"/forms/{form.id}/submissions", json=signup(token))  # too fast
    clock.advance(5)
    web.post(f"/forms/{form.id}/submissions", json=signup(token, email="ok@example.com"))
    [claim] = capture.outbox.claim("w")
    capture.outbox.bury(claim, reason="CC answered HTTP 400 (list gone)")
    dead = web.get("/admin/api/deliveries", params={"state": "dead"}).json()["deliveries"]
    assert [d["dead_reason"] for d in dead] == ["CC answered HTTP 400 (list gone)"]
    assert web.get("/admin/api/deliveries", params={"state": "bogus"}).status_code == 400
    assert web.post("/admin/api/deliveries/retry-dead", json={"form_id": form.id}).json() == {
        "retried": 1
    }
    approved = web.post(f"/admin/api/submissions/{flagged.json()['submission_id']}/approve")
    assert approved.status_code == 200
    assert capture.outbox.counts()["pending"] == 2
    assert web.post("/admin/api/submissions/nope/approve").status_code == 404


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

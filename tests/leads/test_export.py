"""Consent evidence per email address, and the CSV export in CC's import format."""

from __future__ import annotations

import csv
import io
from typing import Any

from starlette.testclient import TestClient

from ccbridge import Client
from ccbridge.leads import DeliveryWorker, Form, LeadCapture, evidence_for_email, submissions_csv
from ccbridge.leads.capture import RequestInfo
from ccbridge.sandbox.state import AccountData
from ccbridge.store import Database
from tests.leads.conftest import signup
from tests.leads.support import FakeClock


def submit(capture: LeadCapture, form: Form, clock: FakeClock, email: str, **extra: Any) -> str:
    token = capture.tokens.issue(form.id)
    clock.advance(5)
    info = RequestInfo("192.0.2.10", "Firefox/130", "https://shop.example/news")
    return capture.accept_sync(form, signup(token, email=email, **extra), info).submission_id


def test_evidence_for_an_email_shows_what_the_person_agreed_to(
    capture: LeadCapture, db: Database, form: Form, clock: FakeClock, worker: DeliveryWorker
) -> None:
    first = submit(capture, form, clock, "Ada@Example.com")
    capture.forms.update(form.id, {"consent_text": "New wording: weekly news and offers."})
    form = capture.forms.get(form.id)
    assert form.consent_version == 2
    second = submit(capture, form, clock, "ada@example.com", page_url="https://shop.example/offers")
    worker.run_once()

    evidence = evidence_for_email(db, "ADA@example.com")
    assert [e["submission_id"] for e in evidence] == [first, second]
    old, new = evidence
    assert (old["consent_version"], old["consent_text"]) == (
        1,
        "Yes, send me the monthly newsletter. I can unsubscribe at any time.",
    )
    assert (new["consent_version"], new["consent_text"]) == (
        2,
        "New wording: weekly news and offers.",
    )
    assert old["ip"] == "192.0.2.10" and old["user_agent"] == "Firefox/130"
    assert old["page_url"] == "https://shop.example/news"  # from the Referer
    assert new["page_url"] == "https://shop.example/offers"  # the page's own report wins
    assert old["form_name"] == "Newsletter"
    assert {e["delivery_state"] for e in evidence} == {"delivered"}
    assert evidence_for_email(db, "nobody@example.com") == []


def test_consent_text_changes_bump_the_version_other_changes_do_not(
    capture: LeadCapture, form: Form
) -> None:
    assert capture.forms.update(form.id, {"title": "New title"}).consent_version == 1
    assert capture.forms.update(form.id, {"consent_text": "Different."}).consent_version == 2
    assert capture.forms.update(form.id, {"consent_text": "Different."}).consent_version == 2


def test_csv_export_uses_ccs_import_columns_and_appends_evidence(
    capture: LeadCapture, db: Database, form: Form, clock: FakeClock
) -> None:
    submit(capture, form, clock, "grace@example.com", last_name="Hopper", company_name="Navy")
    submit(capture, form, clock, "bot@example.com", website="spam")  # flagged: left out
    text = "".join(submissions_csv(db, form_id=form.id))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        "email",
        "first_name",
        "last_name",
        "company_name",
        "consent_text",
        "consent_version",
        "consented_at",
        "ip",
        "user_agent",
        "page_url",
        "form_id",
        "submission_id",
    ]
    assert len(rows) == 2
    assert rows[1][:4] == ["grace@example.com", "Ada", "Hopper", "Navy"]
    assert rows[1][4] == form.definition.consent_text and rows[1][5] == "1"
    plain = list(
        csv.reader(io.StringIO("".join(submissions_csv(db, form_id=form.id, evidence=False))))
    )
    assert plain[0] == ["email", "first_name", "last_name", "company_name"]
    flagged = list(
        csv.reader(io.StringIO("".join(submissions_csv(db, form_id=form.id, include_flagged=True))))
    )
    assert len(flagged) == 3


def test_the_plain_csv_imports_into_cc_as_it_is(
    capture: LeadCapture,
    db: Database,
    form: Form,
    clock: FakeClock,
    cc_client: Client,
    cc_account: AccountData,
    cc_sandbox: Any,
) -> None:
    submit(capture, form, clock, "import@example.com", last_name="Importer")
    data = "".join(submissions_csv(db, form_id=form.id, evidence=False)).encode()
    activity = cc_client.request("GET", "/contacts", params={"limit": 1})  # warm-up: auth works
    assert "contacts" in activity
    import httpx

    from ccbridge.sandbox import SandboxTransport

    with httpx.Client(
        base_url=cc_sandbox.base_url + "/v3",
        transport=SandboxTransport(cc_sandbox),
        headers={"Authorization": f"Bearer {cc_client.token_source.get_token()}"},
    ) as http:
        response = http.post(
            "/activities/contacts_file_import",
            files={"file": ("leads.csv", data, "text/csv")},
            data={"list_ids": form.definition.list_ids[0]},
        )
    assert response.status_code == 201, response.text
    cc_sandbox.advance_clock(60)
    with httpx.Client(
        base_url=cc_sandbox.base_url + "/v3",
        transport=SandboxTransport(cc_sandbox),
        headers={"Authorization": f"Bearer {cc_client.token_source.get_token()}"},
    ) as http:
        http.get("/activities")  # every request advances bulk activities
    contact = cc_account.contact_by_email("import@example.com")
    assert contact is not None and contact.last_name == "Importer"


def test_admin_api_exports_evidence_and_csv(
    web: TestClient, capture: LeadCapture, form: Form, clock: FakeClock
) -> None:
    submit(capture, form, clock, "api@example.com")
    evidence = web.get("/api/consent", params={"email": "API@example.com"})
    assert evidence.status_code == 200
    assert evidence.json()["submissions"][0]["consent_version"] == 1
    missing = web.get("/api/consent")
    assert missing.status_code == 400
    assert missing.json()["error"]["message"] == "query.email: is required"
    assert web.get("/api/consent", params={"email": "not-an-address"}).status_code == 400
    exported = web.get(f"/api/forms/{form.id}/export.csv", params={"evidence": "false"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.text.splitlines()[1].startswith("api@example.com,Ada")
    assert "consent_text" not in exported.text.splitlines()[0]
    with_evidence = web.get(f"/api/forms/{form.id}/export.csv")
    assert "consent_text" in with_evidence.text.splitlines()[0]
    bad = web.get(f"/api/forms/{form.id}/export.csv", params={"evidence": "maybe"})
    assert bad.status_code == 400
    assert bad.json()["error"]["message"].startswith("query.evidence: must be true or false")

"""The dashboard's Signup forms section, inside the service: an admin creates and edits a form
with the account's lists (read from the sandbox through the account's client), copies the
embed snippet, sees submissions with their consent evidence, retries dead letters, approves
flagged signups and disables a form — every POST behind the CSRF check."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from ccbridge.leads import Form, LeadCapture, RequestInfo
from ccbridge.sandbox.state import AccountData
from ccbridge.service import Service, build_service
from ccbridge.web import create_app
from ccbridge.web.app import starlette_app
from tests.leads.conftest import hidden_inputs
from tests.leads.support import set_account_status
from tests.web.support import connect_account, csrf_of, settings_for, sign_in


@dataclass
class Dashboard:
    service: Service
    client: TestClient
    account_id: str
    cc: AccountData

    @property
    def capture(self) -> LeadCapture:
        return self.service.leads.capture  # type: ignore[attr-defined, no-any-return]

    @property
    def list_id(self) -> str:
        return next(i for i, lst in self.cc.lists.items() if lst.name == "General Interest")

    def csrf(self, path: str = "/forms") -> str:
        return csrf_of(self.client.get(path).text)


@pytest.fixture
def dash(tmp_path: Path) -> Iterator[Dashboard]:
    # CC's own limits would only slow the test down: the sandbox and the pacing are opened up.
    service = build_service(
        settings_for(tmp_path / "data", CCBRIDGE_PER_SECOND="1000"), scrypt_log_n=8
    )
    try:
        assert service.sandbox is not None and service.sandbox.sandbox is not None
        sandbox = service.sandbox.sandbox
        sandbox.state.settings.rate_limits = False
        app = create_app(service, run_worker=False)
        with TestClient(
            app, base_url=service.settings.public_url, follow_redirects=False
        ) as client:
            sign_in(client, service)
            account_id = connect_account(client, service)
            cc = next(
                a
                for a in sandbox.state.accounts.values()
                if a.account.login_email == service.sandbox.login
            )
            yield Dashboard(service, client, account_id, cc)
    finally:
        service.close()


def editor_post(dash: Dashboard, path: str, **values: str) -> dict[str, str]:
    """What a browser sends from the editor at ``path`` (its inputs, then ``values``)."""
    page = dash.client.get(path)
    assert page.status_code == 200, page.text
    sent: dict[str, str] = {}
    for tag in re.findall(r"<(?:input|textarea)\b[^>]*>(?:[^<]*</textarea>)?", page.text):
        name = re.search(r'name="([^"]+)"', tag)
        if name is None or " disabled" in tag:
            continue
        if 'type="checkbox"' in tag:
            if " checked" in tag:
                sent[html.unescape(name.group(1))] = "on"
            continue
        if tag.startswith("<textarea"):
            value = re.search(r">([^<]*)</textarea>", tag)
        else:
            value = re.search(r'value="([^"]*)"', tag)
        sent[html.unescape(name.group(1))] = html.unescape(value.group(1)) if value else ""
    sent.update(values)
    return {k: v for k, v in sent.items() if v is not None}


def create_form(dash: Dashboard, **values: str) -> Form:
    data = editor_post(
        dash,
        "/forms/admin/new",
        name="Newsletter",
        consent_text="Yes, send me the newsletter.",
        min_fill_seconds="0",
        **{f"list.{dash.list_id}": "on"},
        **values,
    )
    created = dash.client.post("/forms/admin/new", data=data)
    assert created.status_code == 303, created.text
    match = re.fullmatch(
        r"/forms/admin/([0-9a-f-]{36})\?notice=created", created.headers["location"]
    )
    assert match, created.headers["location"]
    return dash.capture.forms.get(match.group(1))


def sign_up(dash: Dashboard, form: Form, email: str, **extra: str) -> None:
    """A person on the hosted page (a plain HTML form post, as a browser without JS)."""
    page = dash.client.get(f"/forms/{form.id}")
    posted = {**hidden_inputs(page.text), "email_address": email, "consent": "yes", "website": ""}
    posted.update(extra)
    answer = dash.client.post(f"/forms/{form.id}/submissions", data=posted)
    assert answer.status_code == 303, answer.text


def deliver(dash: Dashboard) -> dict[str, Any]:
    return dict(dash.service.jobs.run_now("leads.deliver"))


def test_forms_section_lists_nothing_yet_and_says_what_will_appear(dash: Dashboard) -> None:
    page = dash.client.get("/forms")
    assert page.status_code == 200
    assert "No signup form yet." in page.text and 'href="/forms/admin/new"' in page.text
    assert "SANDBOX — not connected to Constant Contact" in page.text


def test_create_a_form_picking_the_accounts_lists_by_name(dash: Dashboard) -> None:
    new = dash.client.get("/forms/admin/new")  # the only linked account is chosen
    assert new.status_code == 200
    assert "General Interest" in new.text and f'name="list.{dash.list_id}"' in new.text
    form = create_form(
        dash,
        **{
            "f.first_name.ask": "on",
            "f.first_name.required": "on",
            "f.first_name.label": "Your first name",
            "f.job_title.ask": "on",
        },
        allowed_origins="https://shop.example\nhttps://blog.example:8443",
        redirect_url="https://shop.example/welcome",
        intro="Monthly news from the bakery.",
    )
    d = form.definition
    assert d.account_id == dash.account_id and d.list_ids == (dash.list_id,)
    assert [(f.name, f.label, f.required) for f in d.fields] == [
        ("email_address", "Email address", True),
        ("first_name", "Your first name", True),
        ("job_title", "Job title", False),
    ]
    assert d.allowed_origins == ("https://shop.example", "https://blog.example:8443")
    assert d.redirect_url == "https://shop.example/welcome"
    assert (d.intro, d.min_fill_seconds, form.consent_version) == (
        "Monthly news from the bakery.",
        0.0,
        1,
    )
    listed = dash.client.get("/forms").text
    assert f'href="/forms/admin/{form.id}"' in listed and "Sandbox Bakery" in listed


def test_a_refused_form_comes_back_with_the_values_kept_and_the_field_marked(
    dash: Dashboard,
) -> None:
    data = editor_post(
        dash,
        "/forms/admin/new",
        name="Newsletter",
        consent_text="Yes, please.",
        redirect_url="not a url",
        **{f"list.{dash.list_id}": "on", "f.last_name.ask": "on"},
    )
    refused = dash.client.post("/forms/admin/new", data=data)
    assert refused.status_code == 400
    assert "Thank-you redirect: must be an absolute http(s) URL" in refused.text
    assert re.search(
        r'<input id="redirect_url"[^>]*value="not a url"[^>]*aria-invalid="true"', refused.text
    )
    assert 'value="Newsletter"' in refused.text and "Yes, please.</textarea>" in refused.text
    assert re.search(rf'name="list\.{dash.list_id}" value="on" checked', refused.text)
    assert re.search(r'name="f\.last_name\.ask" value="on" checked', refused.text)
    # No list ticked: the lists are marked, in words an admin understands.
    del data[f"list.{dash.list_id}"]
    data["redirect_url"] = ""
    no_list = dash.client.post("/forms/admin/new", data=data)
    assert no_list.status_code == 400
    assert "Lists: tick at least one list to add people to." in no_list.text
    assert re.search(r'<fieldset id="lists" class="invalid" aria-invalid="true"', no_list.text)
    assert dash.capture.forms.list() == []


def test_editor_posts_need_the_csrf_token(dash: Dashboard) -> None:
    data = editor_post(
        dash, "/forms/admin/new", name="X", consent_text="Y", **{f"list.{dash.list_id}": "on"}
    )
    data.pop("csrf_token")
    assert dash.client.post("/forms/admin/new", data=data).status_code == 403
    assert dash.capture.forms.list() == []
    form = create_form(dash)
    for action, extra in (("status", {"active": "0"}), ("retry", {}), ("approve", {})):
        refused = dash.client.post(f"/forms/admin/{form.id}/{action}", data=extra)
        assert refused.status_code == 403, action
    assert dash.capture.forms.get(form.id).is_active


def test_edit_a_form_keeps_its_account_and_bumps_the_consent_version(dash: Dashboard) -> None:
    form = create_form(dash, **{"f.first_name.ask": "on"})
    edit = dash.client.get(f"/forms/admin/{form.id}/edit")
    assert edit.status_code == 200
    assert "Yes, send me the newsletter.</textarea>" in edit.text
    assert re.search(r'name="f\.first_name\.ask" value="on" checked', edit.text)
    data = editor_post(
        dash,
        f"/forms/admin/{form.id}/edit",
        consent_text="Yes, send me the weekly newsletter.",
        **{"f.company_name.ask": "on"},
    )
    saved = dash.client.post(f"/forms/admin/{form.id}/edit", data=data)
    assert saved.headers["location"] == f"/forms/admin/{form.id}?notice=saved"
    changed = dash.capture.forms.get(form.id)
    assert changed.consent_version == 2
    assert [f.name for f in changed.definition.fields] == [
        "email_address",
        "first_name",
        "company_name",
    ]
    assert changed.account_id == dash.account_id
    bad = dict(data, min_fill_seconds="soon")
    refused = dash.client.post(f"/forms/admin/{form.id}/edit", data=bad)
    assert refused.status_code == 400
    assert "Minimum fill time: must be a number from 0 to 3600" in refused.text
    assert re.search(
        r'id="min_fill_seconds"[^>]*value="soon"[^>]*aria-invalid="true"', refused.text
    )
    assert (
        dash.client.get("/forms/admin/00000000-0000-0000-0000-000000000000/edit").status_code == 404
    )


def test_custom_fields_of_the_account_can_be_asked(dash: Dashboard) -> None:
    with dash.service.client(dash.account_id) as client:
        cake = client.custom_fields.create("Favourite cake", "string")
    page = dash.client.get("/forms/admin/new").text
    assert "Favourite cake" in page
    form = create_form(dash, **{f"cf.{cake.custom_field_id}.ask": "on"})
    [custom] = [f for f in form.definition.fields if f.is_custom]
    assert custom.custom_field_id == cake.custom_field_id and custom.label == "Favourite cake"
    assert re.fullmatch(r"[a-z][a-z0-9_]*", custom.name)
    sign_up(dash, form, "cake@example.com", **{custom.name: "Lemon drizzle"})
    assert deliver(dash)["delivered"] == 1
    contact = dash.cc.contact_by_email("cake@example.com")
    assert contact is not None
    assert "Lemon drizzle" in str(contact.custom_fields)


def test_an_account_that_needs_reauth_offers_list_ids_by_hand(dash: Dashboard) -> None:
    set_account_status(dash.service.db, dash.account_id, "needs_reauth")
    page = dash.client.get("/forms/admin/new")
    assert "the account is needs_reauth" in page.text and 'name="list_ids_text"' in page.text
    data = editor_post(
        dash,
        "/forms/admin/new",
        name="Held form",
        consent_text="Yes.",
        list_ids_text=dash.list_id,
    )
    created = dash.client.post("/forms/admin/new", data=data)
    assert created.status_code == 303, created.text
    [form] = dash.capture.forms.list()
    assert form.definition.list_ids == (dash.list_id,)


def test_detail_page_shows_the_embed_snippet_and_hosted_link(dash: Dashboard) -> None:
    form = create_form(dash)
    page = dash.client.get(f"/forms/admin/{form.id}").text
    base = dash.service.settings.public_url
    snippet = re.search(r'<textarea id="embed-snippet"[^>]*readonly>([^<]*)</textarea>', page)
    assert snippet is not None
    assert html.unescape(snippet.group(1)) == (
        f'<div data-ccbridge-form="{form.id}"></div>\n'
        f'<script src="{base}/forms/{form.id}/embed.js" async></script>'
    )
    assert f'href="{base}/forms/{form.id}"' in page
    assert dash.client.get(f"/forms/{form.id}/embed.js").status_code == 200
    assert "No submission yet." in page and "Dead letters" in page


def test_submissions_show_their_consent_evidence_and_status(dash: Dashboard) -> None:
    form = create_form(dash, **{"f.first_name.ask": "on"})
    sign_up(dash, form, "ada@example.com", first_name="Ada")
    sign_up(dash, form, "bot@example.com", website="http://spam.example")  # the honeypot
    assert deliver(dash)["delivered"] == 1
    page = dash.client.get(f"/forms/admin/{form.id}").text
    ada = re.search(
        r'<tr class="submission" data-email="ada@example.com" data-status="delivered">.*?</tr>',
        page,
        re.S,
    )
    assert ada is not None
    row = ada.group(0)
    assert "First name: Ada" in row and "Yes, send me the newsletter." in row
    assert "testclient" in row and "v1" in row  # the sender's address and the consent version
    bot = re.search(r'data-email="bot@example.com" data-status="flagged">.*?</tr>', page, re.S)
    assert bot is not None and "the hidden trap field was filled in" in bot.group(0)
    flagged_only = dash.client.get(f"/forms/admin/{form.id}", params={"status": "flagged"}).text
    assert 'data-email="bot@example.com"' in flagged_only
    assert 'data-email="ada@example.com"' not in flagged_only
    submission_id = re.search(r'name="submission_id" value="([^"]+)"', bot.group(0))
    assert submission_id is not None
    approved = dash.client.post(
        f"/forms/admin/{form.id}/approve",
        data={"csrf_token": dash.csrf(), "submission_id": submission_id.group(1)},
    )
    assert approved.headers["location"] == f"/forms/admin/{form.id}?notice=approved#submissions"
    assert deliver(dash)["delivered"] == 1
    contact = dash.cc.contact_by_email("bot@example.com")
    assert contact is not None  # a person checked it and let it through
    missing = dash.client.post(
        f"/forms/admin/{form.id}/approve", data={"csrf_token": dash.csrf(), "submission_id": "x"}
    )
    assert missing.status_code == 404


def test_dead_letters_show_their_reason_and_retry_from_the_dashboard(dash: Dashboard) -> None:
    form = create_form(dash)
    fault = dash.client.post(
        "/_sandbox/faults",
        json={
            "match": {"method": "POST", "path": "^/v3/contacts/sign_up_form"},
            "action": {"status": 400, "error_message": "The list does not exist."},
        },
    )
    assert fault.status_code == 201, fault.text
    sign_up(dash, form, "refused@example.com")
    assert deliver(dash)["dead"] == 1
    page = dash.client.get(f"/forms/admin/{form.id}").text
    row = re.search(r'<tr class="dead" data-email="refused@example.com">.*?</tr>', page, re.S)
    assert row is not None and "The list does not exist." in row.group(0)
    delivery_id = re.search(r'name="delivery_id" value="([^"]+)"', row.group(0))
    assert delivery_id is not None
    assert dash.client.delete("/_sandbox/faults").status_code in (200, 204)
    retried = dash.client.post(
        f"/forms/admin/{form.id}/retry",
        data={"csrf_token": dash.csrf(), "delivery_id": delivery_id.group(1)},
    )
    assert retried.headers["location"] == f"/forms/admin/{form.id}?notice=retried&n=1#dead-letters"
    assert "1 dead letter put back in line" in dash.client.get(retried.headers["location"]).text
    assert deliver(dash)["delivered"] == 1
    contact = dash.cc.contact_by_email("refused@example.com")
    assert contact is not None and contact.email_address is not None
    assert contact.email_address.permission_to_send == "explicit"
    assert 'class="dead"' not in dash.client.get(f"/forms/admin/{form.id}").text


def test_submissions_are_paged(dash: Dashboard) -> None:
    form = create_form(dash)
    for i in range(27):
        token = dash.capture.tokens.issue(form.id)
        values = {"email_address": f"p{i:02d}@example.com", "consent": "yes", "website": ""}
        dash.capture.accept_sync(
            form, {**values, "form_token": token}, RequestInfo("192.0.2.1", "UA", None)
        )
    first = dash.client.get(f"/forms/admin/{form.id}").text
    assert first.count('<tr class="submission"') == 25
    assert "Page 1 of 2 · 27 submissions" in first
    older = re.search(r'<a href="([^"]+)" rel="next">Older</a>', first)
    assert older is not None
    second = dash.client.get(html.unescape(older.group(1)).split("#")[0]).text
    assert second.count('<tr class="submission"') == 2 and 'rel="prev"' in second
    assert dash.client.get(f"/forms/admin/{form.id}", params={"page": "x"}).status_code == 200


def test_disable_and_enable_a_form(dash: Dashboard) -> None:
    form = create_form(dash)
    disabled = dash.client.post(
        f"/forms/admin/{form.id}/status", data={"csrf_token": dash.csrf(), "active": "0"}
    )
    assert disabled.headers["location"] == f"/forms/admin/{form.id}?notice=disabled"
    assert dash.client.get(f"/forms/{form.id}").status_code == 404
    assert '<tr class="form" data-status="disabled">' in dash.client.get("/forms").text
    dash.client.post(
        f"/forms/admin/{form.id}/status", data={"csrf_token": dash.csrf(), "active": "1"}
    )
    assert dash.client.get(f"/forms/{form.id}").status_code == 200


def test_the_leads_api_is_in_the_openapi_document_and_speaks_its_error_shape(
    dash: Dashboard,
) -> None:
    doc = dash.client.get("/api/openapi.json").json()
    served = {
        (method, route.path)
        for route in starlette_app(dash.client.app).routes
        if isinstance(route, Route) and route.path.startswith("/api/") and "{rest" not in route.path
        for method in (route.methods or set()) - {"HEAD"}
    } - {("GET", "/api/openapi.json")}
    assert served == {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    for path in (
        "/api/forms",
        "/api/forms/{form_id}",
        "/api/forms/{form_id}/submissions",
        "/api/forms/{form_id}/export.csv",
        "/api/deliveries",
        "/api/deliveries/retry-dead",
        "/api/submissions/{submission_id}/approve",
        "/api/consent",
    ):
        assert path in doc["paths"], path
    export = doc["paths"]["/api/forms/{form_id}/export.csv"]["get"]
    assert "text/csv" in export["responses"]["200"]["content"]
    assert doc["paths"]["/api/forms"]["post"]["requestBody"]["content"]["application/json"]
    unauthorized = dash.client.get("/api/forms")
    assert unauthorized.status_code == 401
    assert unauthorized.json()["error"]["code"] == "unauthorized"
    _record, token = dash.service.admin.create_token("leads")
    headers = {"Authorization": f"Bearer {token}"}
    missing = dash.client.get("/api/forms/nope", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"

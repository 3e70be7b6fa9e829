"""The public endpoints: the hosted page, the plain no-JavaScript post, JSON posts, CORS,
and every kind of bad input answered with a clear 4xx in the caller's language."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from ccbridge.leads import Form, LeadCapture
from ccbridge.leads.schema import deliveries, submissions
from ccbridge.leads.submissions import MAX_BODY_BYTES
from ccbridge.store import Database
from tests.leads.conftest import ALLOWED_ORIGIN, BASE_URL, hidden_inputs, signup
from tests.leads.support import FakeClock, set_account_status


def count(db: Database, table: Any) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)


def stored(db: Database, submission_id: str) -> Any:
    with db.read() as conn:
        return conn.execute(select(submissions).where(submissions.c.id == submission_id)).one()


def url(form: Form) -> str:
    return f"/forms/{form.id}/submissions"


# -- the hosted page ----------------------------------------------------------------------------
def test_hosted_page_is_an_accessible_form_with_the_consent_text(
    web: TestClient, form: Form
) -> None:
    response = web.get(f"/forms/{form.id}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<html lang="en">' in html
    # every visible input has a label bound to it
    for name in ("email_address", "first_name", "last_name", "company_name", "consent"):
        assert f'<label for="ccb-{name}">' in html
        assert f'id="ccb-{name}"' in html
    assert 'required aria-required="true"' in html  # the email
    assert form.definition.consent_text in html
    assert f'action="/forms/{form.id}/submissions"' in html
    # the trap is hidden from people and from assistive technology, and not tabbable
    assert 'class="ccb-trap" aria-hidden="true"' in html
    assert 'name="website" type="text" tabindex="-1"' in html
    assert set(hidden_inputs(html)) == {"form_token", "idempotency_key", "page_url"}


def test_unknown_and_disabled_forms_are_404_pages(
    web: TestClient, capture: LeadCapture, form: Form
) -> None:
    assert web.get("/forms/not-a-form").status_code == 404
    capture.forms.disable(form.id)
    response = web.get(f"/forms/{form.id}")
    assert response.status_code == 404
    assert "no longer accepting signups" in response.text


# -- the plain HTML form, no JavaScript -----------------------------------------------------------
def test_plain_form_post_ends_on_the_thank_you_page_and_stores_the_evidence(
    web: TestClient, db: Database, form: Form, clock: FakeClock
) -> None:
    page = web.get(f"/forms/{form.id}")
    posted = hidden_inputs(page.text)
    posted.update(
        {
            "email_address": "grace@example.com",
            "first_name": "Grace",
            "last_name": "",
            "company_name": "Navy",
            "consent": "yes",
            "website": "",
        }
    )
    clock.advance(8)  # the person takes a few seconds to fill it in
    response = web.post(
        url(form),
        data=posted,
        headers={"User-Agent": "Mozilla/5.0 (test)", "Accept": "text/html,*/*"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/forms/{form.id}/thanks"
    thanks = web.get(response.headers["location"])
    assert thanks.status_code == 200
    assert "Thank you for signing up." in thanks.text

    row = stored(db, response.headers["x-submission-id"])
    assert row.email == "grace@example.com"
    assert json.loads(row.fields) == {
        "email_address": "grace@example.com",
        "first_name": "Grace",
        "company_name": "Navy",
    }
    assert row.consent_text == form.definition.consent_text
    assert row.consent_version == 1
    assert row.user_agent == "Mozilla/5.0 (test)"
    assert row.ip == "testclient"
    assert row.page_url == f"{BASE_URL}/forms/{form.id}"
    assert row.spam_reason is None
    assert count(db, deliveries) == 1


def test_plain_form_post_goes_to_the_forms_redirect(
    web: TestClient, capture: LeadCapture, form: Form, clock: FakeClock
) -> None:
    capture.forms.update(form.id, {"redirect_url": "https://shop.example/welcome"})
    posted = hidden_inputs(web.get(f"/forms/{form.id}").text)
    posted.update({"email_address": "a@example.com", "consent": "on", "website": ""})
    clock.advance(5)
    response = web.post(url(form), data=posted, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "https://shop.example/welcome"


def test_plain_form_with_a_mistake_comes_back_with_the_values_and_the_problem(
    web: TestClient, db: Database, form: Form, clock: FakeClock
) -> None:
    posted = hidden_inputs(web.get(f"/forms/{form.id}").text)
    posted.update(
        {"email_address": "grace@example", "first_name": "Grace", "consent": "yes", "website": ""}
    )
    clock.advance(5)
    response = web.post(url(form), data=posted)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert 'role="alert"' in response.text
    assert "Email: the email address has an invalid domain" in response.text  # the label
    assert 'name="email_address" type="email"' in response.text
    assert (
        'value="grace@example" required aria-required="true" aria-invalid="true"' in response.text
    )
    assert 'value="Grace"' in response.text
    assert 'value="yes" required aria-describedby="ccb-consent-text" checked' in response.text
    assert count(db, submissions) == 0


# -- JSON posts -----------------------------------------------------------------------------------------
def test_json_post_answers_202_with_the_submission_id_once_stored(
    web: TestClient, db: Database, form: Form, fresh_token: Any
) -> None:
    response = web.post(
        url(form), json=signup(fresh_token(form), page_url="https://shop.example/join")
    )
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "accepted"
    row = stored(db, body["submission_id"])  # already committed when the answer came
    assert row.page_url == "https://shop.example/join"
    with db.read() as conn:
        delivery = conn.execute(select(deliveries)).one()
    assert delivery.submission_id == body["submission_id"]
    assert delivery.state == "pending"
    assert json.loads(delivery.payload) == {
        "email_address": "ada@example.com",
        "first_name": "Ada",
        "list_memberships": list(form.definition.list_ids),
    }


def test_the_email_domain_is_lower_cased_and_idn_domains_are_converted(
    web: TestClient, db: Database, form: Form, fresh_token: Any
) -> None:
    response = web.post(url(form), json=signup(fresh_token(form), email="Ada@Bücher.Example"))
    assert response.status_code == 202
    assert stored(db, response.json()["submission_id"]).email == "ada@xn--bcher-kva.example"


def test_a_needs_reauth_account_still_accepts_and_holds_the_delivery(
    web: TestClient, db: Database, form: Form, fresh_token: Any
) -> None:
    set_account_status(db, form.account_id, "needs_reauth")
    response = web.post(url(form), json=signup(fresh_token(form)))
    assert response.status_code == 202
    assert count(db, deliveries) == 1


# -- bad input: never a 500, never a silent drop -----------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "content_type", "status", "needle"),
    [
        (b"{}", "text/plain", 415, "Content-Type text/plain is not accepted"),
        (b"--x\r\n", "multipart/form-data; boundary=x", 415, "multipart/form-data is not accepted"),
        (b"{}", None, 415, "Content-Type (none) is not accepted"),
        (b'{"email_address": "\xff"}', "application/json", 400, "not valid UTF-8"),
        (b"email_address=%FF%FE", "application/x-www-form-urlencoded", 400, "not valid UTF-8"),
        (b'{"email_address": ', "application/json", 400, "not valid JSON"),
        (b"[1, 2]", "application/json", 400, "must be an object"),
        (
            b'{"email_address": {"a": 1}}',
            "application/json",
            400,
            "email_address: must be a string",
        ),
        (b"{}", "application/json; charset=latin-1", 415, "charset latin-1"),
    ],
)
def test_unreadable_bodies_get_a_clear_json_error(
    web: TestClient,
    db: Database,
    form: Form,
    body: bytes,
    content_type: str | None,
    status: int,
    needle: str,
) -> None:
    headers = {"Accept": "application/json"}
    if content_type:
        headers["Content-Type"] = content_type
    response = web.post(url(form), content=body, headers=headers)
    assert response.status_code == status
    error = response.json()
    assert isinstance(error, list) and needle in error[0]["error_message"], error
    assert count(db, submissions) == 0


@pytest.mark.parametrize(
    ("change", "field", "needle"),
    [
        ({"email_address": "not-an-email"}, "email_address", "must be an email address"),
        ({"email_address": "a@localhost"}, "email_address", "invalid domain"),
        ({"email_address": "a@example.123"}, "email_address", "not a top-level domain"),
        ({"email_address": "a@-bad-.example"}, "email_address", "invalid domain"),
        ({"email_address": "a..b@example.com"}, "email_address", "before the @"),
        ({"email_address": "x" * 45 + "@example.com"}, "email_address", "at most 50"),
        ({"email_address": ""}, "email_address", "required"),
        ({"first_name": "x" * 51}, "first_name", "at most 50"),
        ({"first_name": "Ada\x00"}, "first_name", "control characters"),
        ({"favourite_colour": "blue"}, "favourite_colour", "unknown field(s) favourite_colour"),
        ({"consent": False}, "consent", "must tick the consent box"),
    ],
)
def test_invalid_values_are_400_naming_the_field(
    web: TestClient,
    db: Database,
    form: Form,
    fresh_token: Any,
    change: dict[str, Any],
    field: str,
    needle: str,
) -> None:
    response = web.post(url(form), json=signup(fresh_token(form), **change))
    assert response.status_code == 400
    [error] = response.json()
    assert error["error_key"] == "forms.api.validation.error"
    assert error["error_message"].startswith(field) or field in error["error_message"]
    assert needle in error["error_message"]
    assert count(db, submissions) == 0


def test_missing_consent_box_is_refused(web: TestClient, form: Form, fresh_token: Any) -> None:
    body = signup(fresh_token(form))
    del body["consent"]
    response = web.post(url(form), json=body)
    assert response.status_code == 400
    assert response.json()[0]["error_message"].startswith("consent:")


def test_oversized_body_is_413_without_reading_it_all(
    web: TestClient, db: Database, form: Form
) -> None:
    big = json.dumps({"email_address": "a@example.com", "first_name": "x" * (MAX_BODY_BYTES + 10)})
    response = web.post(url(form), content=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert "at most 16384 bytes" in response.json()[0]["error_message"]
    assert count(db, submissions) == 0


def test_oversized_plain_form_post_gets_an_html_page(web: TestClient, form: Form) -> None:
    body = "email_address=" + "a" * (MAX_BODY_BYTES + 10)
    response = web.post(
        url(form), content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")
    assert "at most 16384 bytes" in response.text


def test_unknown_disabled_and_disconnected_forms(
    web: TestClient, db: Database, capture: LeadCapture, form: Form, fresh_token: Any
) -> None:
    response = web.post("/forms/nope/submissions", json=signup("t"))
    assert response.status_code == 404
    assert response.json()[0]["error_key"] == "forms.api.not_found"

    set_account_status(db, form.account_id, "disconnected")
    response = web.post(url(form), json=signup(fresh_token(form)))
    assert response.status_code == 409
    assert response.json()[0]["error_key"] == "forms.api.account_disconnected"
    html = web.post(url(form), data={"email_address": "a@example.com"})
    assert html.status_code == 409 and "not connected" in html.text

    set_account_status(db, form.account_id, "active")
    capture.forms.disable(form.id)
    response = web.post(url(form), json=signup(fresh_token(form)))
    assert response.status_code == 404
    assert response.json()[0]["error_key"] == "forms.api.disabled"
    assert count(db, submissions) == 0


def test_other_methods_are_refused_without_a_500(web: TestClient, form: Form) -> None:
    assert web.put(url(form), json={}).status_code == 405
    assert web.delete(f"/forms/{form.id}").status_code == 405


# -- CORS ------------------------------------------------------------------------------------------------------
def test_preflight_from_an_allowed_origin(web: TestClient, form: Form) -> None:
    response = web.options(
        url(form),
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "content-type" in response.headers["access-control-allow-headers"]
    assert "Origin" in response.headers["vary"]


def test_preflight_from_another_origin_gets_no_cors_grant(web: TestClient, form: Form) -> None:
    response = web.options(
        url(form),
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers


def test_post_from_an_allowed_origin_is_readable_cross_origin(
    web: TestClient, form: Form, fresh_token: Any
) -> None:
    response = web.post(
        url(form), json=signup(fresh_token(form)), headers={"Origin": ALLOWED_ORIGIN}
    )
    assert response.status_code == 202
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN


def test_post_from_another_origin_is_refused_and_stores_nothing(
    web: TestClient, db: Database, form: Form, fresh_token: Any
) -> None:
    for origin in ("https://evil.example", "null", "http://shop.example"):  # http ≠ https
        response = web.post(url(form), json=signup(fresh_token(form)), headers={"Origin": origin})
        assert response.status_code == 403, origin
        assert response.json()[0]["error_key"] == "forms.api.origin_not_allowed"
        assert "access-control-allow-origin" not in response.headers
    assert count(db, submissions) == 0


def test_the_hosted_page_posts_same_origin(web: TestClient, form: Form, fresh_token: Any) -> None:
    response = web.post(url(form), json=signup(fresh_token(form)), headers={"Origin": BASE_URL})
    assert response.status_code == 202


def test_embed_script_carries_the_form_and_a_fresh_token(
    web: TestClient, capture: LeadCapture, form: Form
) -> None:
    response = web.get(f"/forms/{form.id}/embed.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "no-store"
    script = response.text
    assert f'"action": "{BASE_URL}/forms/{form.id}/submissions"' in script
    assert "textContent" in script and "innerHTML" not in script.split("*/", 1)[1]
    token = script.split('"token": "', 1)[1].split('"', 1)[0]
    assert capture.tokens.check(token, form.id, min_age=0, max_age=60).ok


def test_embed_script_cannot_be_broken_out_of_by_form_texts(
    web: TestClient, capture: LeadCapture, form: Form
) -> None:
    capture.forms.update(form.id, {"title": "</script><script>alert(1)</script>"})
    script = web.get(f"/forms/{form.id}/embed.js").text
    assert "</script>" not in script
    assert "\\u003c/script>" in script

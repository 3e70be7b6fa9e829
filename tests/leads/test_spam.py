"""Each spam rule on its own: honeypot (filled or left out), the signed render token and
its minimum fill time, per-IP and per-form rate limits, the captcha hook, email checks,
and the idempotency key that turns a double click into one submission."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from ccbridge.leads import Form, LeadCapture, LeadSettings, Limit, RenderTokens, check_email
from ccbridge.leads.capture import RequestInfo
from ccbridge.leads.schema import deliveries, submissions
from ccbridge.leads.spam import SlidingWindowLimiter, check_honeypot
from ccbridge.leads.web import create_forms_app
from ccbridge.store import Database
from tests.leads.conftest import BASE_URL, SECRET, signup
from tests.leads.support import FakeClock


def rows(db: Database) -> list[Any]:
    with db.read() as conn:
        return list(conn.execute(select(submissions).order_by(submissions.c.created_at)).all())


def delivery_count(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(deliveries)).scalar() or 0)


def url(form: Form) -> str:
    return f"/forms/{form.id}/submissions"


# -- honeypot -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"website": "http://cheap-pills.example"}, "honeypot_filled"),
        ({"website": None}, "honeypot_missing"),
    ],
)
def test_a_tripped_honeypot_looks_accepted_but_is_kept_flagged_and_never_queued(
    web: TestClient, db: Database, form: Form, fresh_token: Any, change: dict[str, Any], reason: str
) -> None:
    body = signup(fresh_token(form))
    if change["website"] is None:
        del body["website"]
    else:
        body.update(change)
    response = web.post(url(form), json=body)
    good = web.post(url(form), json=signup(fresh_token(form), email="real@example.com"))
    # the bot's answer is indistinguishable from a person's
    assert response.status_code == good.status_code == 202
    assert response.json().keys() == good.json().keys()
    assert set(response.headers) == set(good.headers)
    flagged = [r for r in rows(db) if r.email == "ada@example.com"]
    assert len(flagged) == 1 and flagged[0].spam_reason == reason
    assert delivery_count(db) == 1  # only the person's


def test_honeypot_rule_in_isolation() -> None:
    assert check_honeypot({"website": ""}, "website") is None
    assert check_honeypot({"website": "   "}, "website") is None
    assert check_honeypot({"website": "x"}, "website") == "honeypot_filled"
    assert check_honeypot({}, "website") == "honeypot_missing"


# -- render token and minimum fill time --------------------------------------------------------------
def test_a_post_faster_than_the_minimum_fill_time_is_flagged(
    web: TestClient, db: Database, capture: LeadCapture, form: Form, clock: FakeClock
) -> None:
    token = capture.tokens.issue(form.id)
    clock.advance(1.0)  # the form asks for at least 3 seconds
    response = web.post(url(form), json=signup(token))
    assert response.status_code == 202
    assert rows(db)[0].spam_reason == "too_fast"
    assert delivery_count(db) == 0


@pytest.mark.parametrize("mutate", ["missing", "tampered", "other_form", "forged"])
def test_posts_without_a_genuine_token_are_flagged(
    web: TestClient,
    db: Database,
    capture: LeadCapture,
    form: Form,
    fresh_token: Any,
    clock: FakeClock,
    mutate: str,
) -> None:
    token = fresh_token(form)
    if mutate == "missing":
        token = ""
    elif mutate == "tampered":
        body, sig = token.split(".")
        token = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + sig
    elif mutate == "other_form":
        token = capture.tokens.issue("another-form-id")
    elif mutate == "forged":
        token = RenderTokens(b"someone-elses-secret-0123456789", clock=capture.clock).issue(form.id)
    clock.advance(10)
    response = web.post(url(form), json=signup(token))
    assert response.status_code == 202
    [row] = rows(db)
    assert row.spam_reason in {"missing_token", "bad_token", "wrong_form"}
    assert delivery_count(db) == 0


def test_token_rules_in_isolation() -> None:
    clock = FakeClock(1_000_000.0)
    tokens = RenderTokens(SECRET, clock=clock)
    token = tokens.issue("form-1")
    assert tokens.check(token, "form-1", min_age=3, max_age=60).reason == "too_fast"
    clock.advance(3)
    assert tokens.check(token, "form-1", min_age=3, max_age=60).ok
    assert tokens.check(token, "form-2", min_age=3, max_age=60).reason == "wrong_form"
    clock.advance(60)
    assert tokens.check(token, "form-1", min_age=3, max_age=60).reason == "expired_token"
    assert tokens.check("garbage", "form-1", min_age=0, max_age=60).reason == "bad_token"
    assert tokens.check(None, "form-1", min_age=0, max_age=60).reason == "missing_token"


# -- rate limits ---------------------------------------------------------------------------------------------
def test_per_ip_limit_answers_429_with_retry_after(
    db: Database, clock: FakeClock, form: Form, fresh_token: Any
) -> None:
    capture = LeadCapture(
        db,
        secret=SECRET,
        clock=clock,
        monotonic=clock,
        settings=LeadSettings(per_ip_limit=Limit(3, 60.0), cache_seconds=0),
    )
    with TestClient(create_forms_app(capture), base_url=BASE_URL) as web:
        answers = [
            web.post(
                url(form), json=signup(fresh_token(form), email=f"p{i}@example.com")
            ).status_code
            for i in range(3)
        ]
        assert answers == [202, 202, 202]
        refused = web.post(url(form), json=signup(fresh_token(form), email="p4@example.com"))
        assert refused.status_code == 429
        assert refused.json()[0]["error_key"] == "throttled"
        retry_after = int(refused.headers["retry-after"])
        assert 1 <= retry_after <= 60
        clock.advance(retry_after)
        assert (
            web.post(url(form), json=signup(fresh_token(form), email="p5@example.com")).status_code
            == 202
        )
    assert len(rows(db)) == 4  # the refused post was not stored


def test_per_form_limit_is_shared_by_every_sender(
    web: TestClient, db: Database, capture: LeadCapture, form: Form, clock: FakeClock
) -> None:
    capture.forms.update(form.id, {"rate_limit_per_minute": 2})
    token = capture.tokens.issue(form.id)
    clock.advance(5)
    statuses = [
        web.post(
            url(form),
            json=signup(token, email=f"f{i}@example.com"),
            headers={"X-Forwarded-For": f"10.0.0.{i}"},
        ).status_code
        for i in range(3)
    ]
    assert statuses == [202, 202, 429]


def test_plain_form_post_over_the_limit_gets_an_html_429(
    db: Database, clock: FakeClock, form: Form
) -> None:
    capture = LeadCapture(
        db,
        secret=SECRET,
        clock=clock,
        monotonic=clock,
        settings=LeadSettings(per_ip_limit=Limit(1, 60.0), cache_seconds=0),
    )
    with TestClient(create_forms_app(capture), base_url=BASE_URL) as web:
        web.post(url(form), data={"email_address": "x"})
        response = web.post(url(form), data={"email_address": "x"})
    assert response.status_code == 429
    assert response.headers["content-type"].startswith("text/html")
    assert "Retry-After".lower() in response.headers


def test_sliding_window_in_isolation() -> None:
    clock = FakeClock(0.0)
    limiter = SlidingWindowLimiter(clock=clock)
    limit = Limit(2, 10.0)
    assert limiter.hit("k", limit) == 0
    clock.advance(4)
    assert limiter.hit("k", limit) == 0
    assert limiter.hit("k", limit) == pytest.approx(6.0)  # the first event leaves at t=10
    clock.advance(6)
    assert limiter.hit("k", limit) == 0
    assert limiter.hit("other", limit) == 0


# -- captcha hook --------------------------------------------------------------------------------------------
class Captcha:
    def __init__(self, verdict: bool | Exception) -> None:
        self.verdict = verdict
        self.calls: list[tuple[str, str | None]] = []

    def __call__(self, response: str, remote_ip: str | None) -> bool:
        self.calls.append((response, remote_ip))
        if isinstance(self.verdict, Exception):
            raise self.verdict
        return self.verdict


def captcha_web(db: Database, clock: FakeClock, verifier: Any) -> TestClient:
    capture = LeadCapture(
        db,
        secret=SECRET,
        clock=clock,
        monotonic=clock,
        captcha=verifier,
        settings=LeadSettings(per_ip_limit=Limit(100, 60.0), cache_seconds=0),
    )
    return TestClient(create_forms_app(capture), base_url=BASE_URL)


def test_captcha_solved_is_accepted_and_the_verifier_sees_the_answer(
    db: Database, clock: FakeClock, capture: LeadCapture, form: Form, fresh_token: Any
) -> None:
    capture.forms.update(form.id, {"captcha": True})
    verifier = Captcha(True)
    with captcha_web(db, clock, verifier) as web:
        response = web.post(
            url(form), json=signup(fresh_token(form), captcha_response="solved-123")
        )
    assert response.status_code == 202
    assert verifier.calls == [("solved-123", "testclient")]
    assert rows(db)[0].spam_reason is None


def test_captcha_failed_or_missing_is_a_400_the_person_can_fix(
    db: Database, clock: FakeClock, capture: LeadCapture, form: Form, fresh_token: Any
) -> None:
    capture.forms.update(form.id, {"captcha": True})
    with captcha_web(db, clock, Captcha(False)) as web:
        wrong = web.post(url(form), json=signup(fresh_token(form), captcha_response="nope"))
        missing = web.post(url(form), json=signup(fresh_token(form)))
    assert wrong.status_code == missing.status_code == 400
    assert wrong.json()[0]["error_message"].startswith("captcha_response:")
    assert rows(db) == []


def test_captcha_provider_down_keeps_the_signup_for_review(
    db: Database, clock: FakeClock, capture: LeadCapture, form: Form, fresh_token: Any
) -> None:
    capture.forms.update(form.id, {"captcha": True})
    with captcha_web(db, clock, Captcha(ConnectionError("provider down"))) as web:
        response = web.post(url(form), json=signup(fresh_token(form), captcha_response="x"))
    assert response.status_code == 202
    assert rows(db)[0].spam_reason == "captcha_unchecked"
    assert delivery_count(db) == 0


def test_async_captcha_verifiers_are_awaited(
    db: Database, clock: FakeClock, capture: LeadCapture, form: Form, fresh_token: Any
) -> None:
    capture.forms.update(form.id, {"captcha": True})

    async def verifier(response: str, remote_ip: str | None) -> bool:
        await asyncio.sleep(0)
        return response == "ok"

    with captcha_web(db, clock, verifier) as web:
        assert (
            web.post(url(form), json=signup(fresh_token(form), captcha_response="ok")).status_code
            == 202
        )
        assert (
            web.post(url(form), json=signup(fresh_token(form), captcha_response="no")).status_code
            == 400
        )


# -- email checks --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ada@example.com", "ada@example.com"),
        ("  Ada.Lovelace+news@Example.CO.uk ", "Ada.Lovelace+news@example.co.uk"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("a@xn--bcher-kva.example", "a@xn--bcher-kva.example"),
    ],
)
def test_valid_emails(raw: str, expected: str) -> None:
    assert check_email(raw) == (expected, None)


@pytest.mark.parametrize(
    "raw",
    [
        "plain",
        "a@b",
        "a@@example.com",
        "@example.com",
        "a@example.",
        "a@.example.com",
        "a@exa_mple.com",
        "a@example.c",
        "a@example.123",
        ".a@example.com",
        "a.@example.com",
        "a b@example.com",
        "a@" + "x" * 64 + ".com",
        "a" * 40 + "@example.com",
    ],
)
def test_invalid_emails(raw: str) -> None:
    address, problem = check_email(raw)
    assert address is None and problem


# -- idempotency ---------------------------------------------------------------------------------------------
def test_a_double_click_makes_one_submission(
    web: TestClient, db: Database, form: Form, fresh_token: Any
) -> None:
    body = signup(fresh_token(form), idempotency_key="click-1")
    first = web.post(url(form), json=body)
    second = web.post(url(form), json=body)
    assert first.status_code == second.status_code == 202
    assert first.json()["submission_id"] == second.json()["submission_id"]
    assert len(rows(db)) == 1 and delivery_count(db) == 1


def test_the_idempotency_key_header_works_too(
    web: TestClient, db: Database, form: Form, fresh_token: Any
) -> None:
    token = fresh_token(form)
    a = web.post(url(form), json=signup(token), headers={"Idempotency-Key": "hdr-1"})
    b = web.post(url(form), json=signup(token), headers={"Idempotency-Key": "hdr-1"})
    assert a.json()["submission_id"] == b.json()["submission_id"]
    assert len(rows(db)) == 1


def test_a_reused_key_with_different_content_is_a_409(
    web: TestClient, db: Database, form: Form, fresh_token: Any
) -> None:
    token = fresh_token(form)
    web.post(url(form), json=signup(token, idempotency_key="k"))
    response = web.post(
        url(form), json=signup(token, email="other@example.com", idempotency_key="k")
    )
    assert response.status_code == 409
    assert response.json()[0]["error_message"].startswith("idempotency_key:")
    assert [r.email for r in rows(db)] == ["ada@example.com"]


def test_the_same_plain_form_page_posted_twice_is_one_submission(
    web: TestClient, db: Database, form: Form, clock: FakeClock
) -> None:
    from tests.leads.conftest import hidden_inputs

    posted = hidden_inputs(web.get(f"/forms/{form.id}").text)
    posted.update({"email_address": "dbl@example.com", "consent": "yes", "website": ""})
    clock.advance(5)
    first = web.post(url(form), data=posted, follow_redirects=False)
    second = web.post(url(form), data=posted, follow_redirects=False)
    assert first.status_code == second.status_code == 303
    assert first.headers["x-submission-id"] == second.headers["x-submission-id"]
    assert len(rows(db)) == 1


async def test_concurrent_double_posts_commit_once(
    capture: LeadCapture, db: Database, form: Form, fresh_token: Any
) -> None:
    """Two posts with one key in flight at once (they share one group commit)."""
    body = signup(fresh_token(form), idempotency_key="race")
    transport = httpx.ASGITransport(app=create_forms_app(capture))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        answers = await asyncio.gather(*(client.post(url(form), json=body) for _ in range(5)))
    assert {a.status_code for a in answers} == {202}
    assert len({a.json()["submission_id"] for a in answers}) == 1
    assert len(rows(db)) == 1 and delivery_count(db) == 1


def test_accept_sync_serves_scripts_without_an_event_loop(
    capture: LeadCapture, db: Database, form: Form, fresh_token: Any
) -> None:
    accepted = capture.accept_sync(
        form, signup(fresh_token(form)), RequestInfo("127.0.0.1", "script")
    )
    assert accepted.spam_reason is None
    assert json.loads(rows(db)[0].fields)["first_name"] == "Ada"

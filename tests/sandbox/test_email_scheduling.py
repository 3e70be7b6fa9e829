"""Sending, scheduling, test sends and previews, built to CC-V3-FACTS §6 and §11 fact 15."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from ccbridge.sandbox import Sandbox
from ccbridge.sandbox.clock import iso, parse_iso, seconds_until_utc_midnight
from ccbridge.sandbox.state import AccountData, Segment
from tests.sandbox.campaign_support import (
    OWNER,
    SEND_SECONDS,
    activity_id,
    add_contact,
    create_campaign,
    new_list,
    send_now,
    target_lists,
)


def _error(response: httpx.Response) -> str:
    body = response.json()
    assert isinstance(body, list) and body, body
    return str(body[0]["error_message"])


def _status(http: httpx.Client, campaign: dict[str, object], primary: str) -> tuple[str, str]:
    activity = http.get(f"/emails/activities/{primary}").json()["current_status"]
    overall = http.get(f"/emails/{campaign['campaign_id']}").json()["current_status"]
    return activity, overall


@pytest.fixture
def ready(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> tuple[dict[str, object], str, str]:
    """A draft campaign aimed at a list of three sendable contacts (and some that are not)."""
    list_id = new_list(cc_sandbox, cc_account, "Subscribers")
    other = new_list(cc_sandbox, cc_account, "Other")
    for n in range(3):
        add_contact(cc_sandbox, cc_account, f"reader{n}@example.net", [list_id])
    add_contact(cc_sandbox, cc_account, "gone@example.net", [list_id], deleted=True)
    add_contact(cc_sandbox, cc_account, "left@example.net", [list_id], permission="unsubscribed")
    add_contact(cc_sandbox, cc_account, "elsewhere@example.net", [other])
    campaign = create_campaign(cc_http, "Ready")
    primary = activity_id(campaign)
    target_lists(cc_http, primary, [list_id])
    return campaign, primary, list_id


# -- send now -------------------------------------------------------------------------------
def test_send_now_answers_201_empty_and_finishes_on_the_clock(
    cc_http: httpx.Client, cc_sandbox: Sandbox, ready: tuple[dict[str, object], str, str]
) -> None:
    campaign, primary, list_id = ready
    response = cc_http.post(f"/emails/activities/{primary}/schedules", json={"scheduled_date": "0"})
    assert response.status_code == 201
    assert response.json() == []
    assert _status(cc_http, campaign, primary) == ("EXECUTING", "Executing")
    assert cc_http.get(f"/emails/activities/{primary}/schedules").json() == []
    cc_sandbox.advance_clock(SEND_SECONDS)
    assert _status(cc_http, campaign, primary) == ("DONE", "Done")
    history = cc_http.get(f"/emails/activities/{primary}/send_history").json()
    assert len(history) == 1
    entry = history[0]
    assert entry["send_id"] == 1
    assert entry["contact_list_ids"] == [list_id]
    assert entry["count"] == 3  # not the deleted, unsubscribed or other-list contacts
    assert entry["send_status"] == "COMPLETED" and entry["reason_code"] == 0


def test_send_history_is_empty_before_any_send(
    cc_http: httpx.Client, ready: tuple[dict[str, object], str, str]
) -> None:
    _, primary, _ = ready
    response = cc_http.get(f"/emails/activities/{primary}/send_history")
    assert response.status_code == 200 and response.json() == []


def test_a_list_without_eligible_contacts_gives_reason_12(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    empty = new_list(cc_sandbox, cc_account, "Empty")
    add_contact(cc_sandbox, cc_account, "out@example.net", [empty], permission="unsubscribed")
    campaign = create_campaign(cc_http, "Nobody")
    primary = activity_id(campaign)
    target_lists(cc_http, primary, [empty])
    send_now(cc_http, cc_sandbox, primary)
    history = cc_http.get(f"/emails/activities/{primary}/send_history").json()
    assert history == [
        {
            "send_id": 1,
            "contact_list_ids": [empty],
            "segment_ids": [],
            "count": 0,
            "run_date": history[0]["run_date"],
            "send_status": "COMPLETED",
            "reason_code": 12,
        }
    ]


def test_resending_a_done_activity_reaches_only_new_contacts(
    cc_http: httpx.Client,
    cc_sandbox: Sandbox,
    cc_account: AccountData,
    ready: tuple[dict[str, object], str, str],
) -> None:
    _, primary, list_id = ready
    send_now(cc_http, cc_sandbox, primary)
    add_contact(cc_sandbox, cc_account, "late1@example.net", [list_id])
    add_contact(cc_sandbox, cc_account, "late2@example.net", [list_id])
    send_now(cc_http, cc_sandbox, primary)
    history = cc_http.get(f"/emails/activities/{primary}/send_history").json()
    assert [h["send_id"] for h in history] == [1, 2]
    assert history[1]["count"] == 2
    send_now(cc_http, cc_sandbox, primary)
    third = cc_http.get(f"/emails/activities/{primary}/send_history").json()[2]
    assert third["count"] == 0 and third["reason_code"] == 12


# -- future schedules -------------------------------------------------------------------------
def test_future_schedule_then_unschedule(
    cc_http: httpx.Client, cc_sandbox: Sandbox, ready: tuple[dict[str, object], str, str]
) -> None:
    campaign, primary, _ = ready
    when = cc_sandbox.clock.now() + timedelta(days=1)
    path = f"/emails/activities/{primary}/schedules"
    response = cc_http.post(path, json={"scheduled_date": iso(when)})
    assert response.status_code == 201
    scheduled = response.json()
    assert len(scheduled) == 1
    assert abs((parse_iso(scheduled[0]["scheduled_date"]) - when).total_seconds()) < 0.001
    assert cc_http.get(path).json() == scheduled
    assert _status(cc_http, campaign, primary) == ("SCHEDULED", "Scheduled")
    again = cc_http.post(path, json={"scheduled_date": iso(when)})
    assert again.status_code == 400 and "SCHEDULED" in _error(again)
    removed = cc_http.delete(path)
    assert removed.status_code == 204
    assert _status(cc_http, campaign, primary) == ("DRAFT", "Draft")
    assert cc_http.get(path).json() == []
    not_scheduled = cc_http.delete(path)
    assert not_scheduled.status_code == 400 and "SCHEDULED" in _error(not_scheduled)


def test_unscheduling_a_resend_returns_to_done(
    cc_http: httpx.Client, cc_sandbox: Sandbox, ready: tuple[dict[str, object], str, str]
) -> None:
    campaign, primary, _ = ready
    send_now(cc_http, cc_sandbox, primary)
    path = f"/emails/activities/{primary}/schedules"
    later = iso(cc_sandbox.clock.now() + timedelta(hours=5))
    assert cc_http.post(path, json={"scheduled_date": later}).status_code == 201
    assert cc_http.delete(path).status_code == 204
    assert _status(cc_http, campaign, primary) == ("DONE", "Done")


def test_a_scheduled_send_runs_when_the_clock_reaches_it(
    cc_http: httpx.Client, cc_sandbox: Sandbox, ready: tuple[dict[str, object], str, str]
) -> None:
    campaign, primary, _ = ready
    when = cc_sandbox.clock.now() + timedelta(hours=2)
    cc_http.post(f"/emails/activities/{primary}/schedules", json={"scheduled_date": iso(when)})
    cc_sandbox.advance_clock(3600)
    assert _status(cc_http, campaign, primary) == ("SCHEDULED", "Scheduled")
    cc_sandbox.advance_clock(3600 + SEND_SECONDS)
    assert _status(cc_http, campaign, primary) == ("DONE", "Done")
    history = cc_http.get(f"/emails/activities/{primary}/send_history").json()
    assert len(history) == 1 and history[0]["count"] == 3
    assert abs((parse_iso(history[0]["run_date"]) - when).total_seconds()) < 0.001


def test_a_future_date_without_time_is_accepted(
    cc_http: httpx.Client, cc_sandbox: Sandbox, ready: tuple[dict[str, object], str, str]
) -> None:
    _, primary, _ = ready
    day = (cc_sandbox.clock.now() + timedelta(days=3)).strftime("%Y-%m-%d")
    response = cc_http.post(f"/emails/activities/{primary}/schedules", json={"scheduled_date": day})
    assert response.status_code == 201
    assert response.json()[0]["scheduled_date"].startswith(day)


@pytest.mark.parametrize("value", ["2001-01-01T00:00:00.000Z", "2001-01-01", "soon", "", 0])
def test_past_or_invalid_dates_are_400(
    cc_http: httpx.Client, ready: tuple[dict[str, object], str, str], value: object
) -> None:
    _, primary, _ = ready
    response = cc_http.post(
        f"/emails/activities/{primary}/schedules", json={"scheduled_date": value}
    )
    assert response.status_code == 400
    assert "scheduled_date" in _error(response)


def test_scheduling_needs_recipients_and_a_primary_activity(cc_http: httpx.Client) -> None:
    campaign = create_campaign(cc_http, "No recipients")
    primary = activity_id(campaign)
    response = cc_http.post(f"/emails/activities/{primary}/schedules", json={"scheduled_date": "0"})
    assert response.status_code == 400
    assert "contact_list_ids" in _error(response)
    permalink = activity_id(campaign, "permalink")
    refused = cc_http.post(
        f"/emails/activities/{permalink}/schedules", json={"scheduled_date": "0"}
    )
    assert refused.status_code == 400 and "primary_email" in _error(refused)
    assert cc_http.post(f"/emails/activities/{primary}/schedules", json={}).status_code == 400


def test_an_executing_send_cannot_be_rescheduled_or_unscheduled(
    cc_http: httpx.Client, ready: tuple[dict[str, object], str, str]
) -> None:
    _, primary, _ = ready
    path = f"/emails/activities/{primary}/schedules"
    assert cc_http.post(path, json={"scheduled_date": "0"}).status_code == 201
    assert cc_http.post(path, json={"scheduled_date": "0"}).status_code == 400
    assert cc_http.delete(path).status_code == 400


# -- test sends ---------------------------------------------------------------------------------
def test_test_send_answers_204(
    cc_http: httpx.Client, ready: tuple[dict[str, object], str, str]
) -> None:
    _, primary, _ = ready
    response = cc_http.post(
        f"/emails/activities/{primary}/tests",
        json={"email_addresses": [OWNER, "qa@example.com"], "personal_message": "Look"},
    )
    assert response.status_code == 204 and response.content == b""


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({}, "email_addresses"),
        ({"email_addresses": []}, "email_addresses"),
        ({"email_addresses": [f"t{n}@example.com" for n in range(6)]}, "email_addresses"),
        ({"email_addresses": ["not an email"]}, "not an email"),
        ({"email_addresses": "qa@example.com"}, "email_addresses"),
        ({"email_addresses": ["qa@example.com"], "personal_message": 3}, "personal_message"),
        ({"email_addresses": ["qa@example.com"], "cc": "x"}, "cc"),
    ],
)
def test_test_send_validation(
    cc_http: httpx.Client,
    ready: tuple[dict[str, object], str, str],
    body: dict[str, object],
    named: str,
) -> None:
    _, primary, _ = ready
    response = cc_http.post(f"/emails/activities/{primary}/tests", json=body)
    assert response.status_code == 400
    assert named in _error(response)


def test_test_sends_are_limited_to_50_recipients_a_day(
    cc_http: httpx.Client, cc_sandbox: Sandbox, ready: tuple[dict[str, object], str, str]
) -> None:
    _, primary, _ = ready
    path = f"/emails/activities/{primary}/tests"
    batch = {"email_addresses": [f"t{n}@example.com" for n in range(5)]}
    for _ in range(10):
        assert cc_http.post(path, json=batch).status_code == 204
    over = cc_http.post(path, json={"email_addresses": ["one-more@example.com"]})
    assert over.status_code == 400
    assert "50" in _error(over)
    # The allowance renews with the UTC date on the sandbox clock (and the token still lives).
    cc_sandbox.advance_clock(seconds_until_utc_midnight(cc_sandbox.clock.now()) + 1)
    assert cc_http.post(path, json=batch).status_code == 204


def test_a_request_that_would_cross_the_daily_limit_is_refused_whole(
    cc_http: httpx.Client, ready: tuple[dict[str, object], str, str]
) -> None:
    _, primary, _ = ready
    path = f"/emails/activities/{primary}/tests"
    for n in range(48):
        assert (
            cc_http.post(path, json={"email_addresses": [f"a{n}@example.com"]}).status_code == 204
        )
    three = {"email_addresses": ["x@example.com", "y@example.com", "z@example.com"]}
    assert cc_http.post(path, json=three).status_code == 400
    two = {"email_addresses": ["x@example.com", "y@example.com"]}
    assert cc_http.post(path, json=two).status_code == 204


# -- previews -----------------------------------------------------------------------------------
def test_preview_fills_variables_from_the_owner_and_adds_a_text_version(
    cc_http: httpx.Client, cc_account: AccountData
) -> None:
    campaign = create_campaign(cc_http, "Preview", preheader="Peek")
    primary = activity_id(campaign)
    response = cc_http.get(f"/emails/activities/{primary}/previews")
    assert response.status_code == 200
    preview = response.json()
    assert preview["campaign_activity_id"] == primary
    assert preview["from_email"] == OWNER and preview["subject"] == "Our news"
    assert preview["preheader"] == "Peek"
    html = preview["preview_html_content"]
    owner = cc_account.account
    assert f"Hello {owner.first_name}" in html
    assert "[[" not in html
    assert owner.physical_address["address_line1"] in html  # the footer CC adds
    text = preview["preview_text_content"]
    assert "<" not in text and "color: red" not in text
    assert f"Hello {owner.first_name}" in text
    assert "the news (https://example.com/news) & more." in text
    assert owner.organization_name in text


def test_schedule_on_unknown_activity_is_404(cc_http: httpx.Client) -> None:
    unknown = "00000000-0000-0000-0000-000000000000"
    assert cc_http.get(f"/emails/activities/{unknown}/schedules").status_code == 404
    assert (
        cc_http.post(
            f"/emails/activities/{unknown}/schedules", json={"scheduled_date": "0"}
        ).status_code
        == 404
    )
    assert cc_http.delete(f"/emails/activities/{unknown}/schedules").status_code == 404
    assert cc_http.get(f"/emails/activities/{unknown}/previews").status_code == 404
    assert cc_http.get(f"/emails/activities/{unknown}/send_history").status_code == 404
    assert (
        cc_http.post(
            f"/emails/activities/{unknown}/tests", json={"email_addresses": [OWNER]}
        ).status_code
        == 404
    )


@pytest.mark.parametrize("payload", [b"null", b"[]", b'"0"', b"{", b'{"scheduled_date": null}'])
def test_junk_schedule_bodies_are_400(
    cc_http: httpx.Client, ready: tuple[dict[str, object], str, str], payload: bytes
) -> None:
    _, primary, _ = ready
    for suffix in ("schedules", "tests"):
        response = cc_http.post(
            f"/emails/activities/{primary}/{suffix}",
            content=payload,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 400, (suffix, response.text)


def test_a_segment_send_finishes_with_a_recorded_outcome(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    # Whether the sandbox can evaluate segment criteria is up to the segments module; either
    # way the send must end (DONE or ERROR) with one history entry naming the segment.
    now = cc_sandbox.clock.now()
    cc_account.segments[3] = Segment(
        segment_id=3, name="Engaged", segment_criteria="{}", created_at=now, edited_at=now
    )
    campaign = create_campaign(cc_http, "To a segment")
    primary = activity_id(campaign)
    put = cc_http.put(
        f"/emails/activities/{primary}",
        json={
            "from_name": "Example Org",
            "from_email": OWNER,
            "reply_to_email": OWNER,
            "subject": "Segment",
            "segment_ids": [3],
        },
    )
    assert put.status_code == 200
    send_now(cc_http, cc_sandbox, primary)
    activity, overall = _status(cc_http, campaign, primary)
    assert (activity, overall) in (("DONE", "Done"), ("ERROR", "Error"))
    [entry] = cc_http.get(f"/emails/activities/{primary}/send_history").json()
    assert entry["segment_ids"] == [3] and entry["contact_list_ids"] == []
    assert entry["send_status"] == ("COMPLETED" if activity == "DONE" else "ERRORED")

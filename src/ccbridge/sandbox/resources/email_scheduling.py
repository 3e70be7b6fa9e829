"""Sandbox emulation of CC's Email Scheduling operations: send, unschedule, test, preview.

Scheduling follows CC (CC-V3-FACTS §6, §11 fact 15): ``{"scheduled_date": "0"}`` sends now
and answers 201 ``[]``; a future date answers 201 with the date; only a ``primary_email``
activity in DRAFT, DONE or ERROR that has recipients can be scheduled; only a SCHEDULED one
can be unscheduled, and it returns to the status it had. The send itself progresses on
the sandbox clock in ``campaign_delivery``. Test sends are capped at 50 recipients a day
per account, counted on the sandbox clock's UTC date.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from ccbridge.sandbox import campaign_content
from ccbridge.sandbox.campaign_delivery import (
    advance_campaigns,
    find_activity,
    set_status,
    start_send,
)
from ccbridge.sandbox.clock import iso, iso_date, parse_iso
from ccbridge.sandbox.errors import CCError
from ccbridge.sandbox.http import json_response
from ccbridge.sandbox.params import EMAIL_RE, reject_unknown, require_object, string_field
from ccbridge.sandbox.routing import Context, RouteTable
from ccbridge.sandbox.state import AccountData, CampaignActivity

routes = RouteTable()

AREA = "emails"
SCHEDULABLE = ("DRAFT", "DONE", "ERROR")
MAX_TEST_ADDRESSES = 5
TEST_RECIPIENTS_PER_DAY = 50
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _sendable_activity(ctx: Context, action: str) -> CampaignActivity:
    activity = find_activity(ctx.account, ctx.params["campaign_activity_id"])
    if activity.role != "primary_email":
        raise CCError.bad_request(
            AREA, f"Only primary_email activities can be {action}; this one is {activity.role}."
        )
    return activity


def _scheduled_date(body: dict[str, Any], now: datetime) -> datetime | None:
    """None for "0" (send now); otherwise a date-time that must lie in the future."""
    raw = string_field(AREA, body, "scheduled_date", required=True)
    assert raw is not None
    value = raw.strip()
    if value == "0":
        return None
    try:
        when = parse_iso(value)
    except ValueError:
        raise CCError.bad_request(
            AREA,
            f"scheduled_date '{raw}' is not a date; use an ISO-8601 date or date-time such as "
            '2022-05-17 or 2022-05-17T16:37:59.091Z, or "0" to send now.',
        ) from None
    if _DATE_ONLY.match(value):
        when = when.replace(tzinfo=UTC)
    if when <= now:
        raise CCError.bad_request(
            AREA, f"scheduled_date {iso(when)} is not in the future (it is now {iso(now)})."
        )
    return when


@routes.operation("scheduleEmailCampaignActivityUsingPOST")
def schedule(ctx: Context) -> Any:
    data, now = ctx.account, ctx.clock.now()
    advance_campaigns(data, now)
    activity = _sendable_activity(ctx, "scheduled")
    body = require_object(AREA, ctx.request.json(area=AREA))
    reject_unknown(AREA, body, {"scheduled_date"})
    when = _scheduled_date(body, now)
    if activity.current_status not in SCHEDULABLE:
        raise CCError.bad_request(
            AREA,
            f"The activity is {activity.current_status}; only DRAFT, DONE or ERROR activities "
            "can be scheduled (unschedule a SCHEDULED one first).",
        )
    if not activity.contact_list_ids and not activity.segment_ids:
        raise CCError.bad_request(
            AREA,
            "The activity has no recipients; set contact_list_ids or segment_ids with "
            "PUT /emails/activities/{campaign_activity_id} first.",
        )
    if when is None:
        start_send(data, activity, now)
        return json_response([], 201)
    _mark_scheduled(data, activity, when, now)
    return json_response([{"scheduled_date": iso(when)}], 201)


def _mark_scheduled(
    data: AccountData, activity: CampaignActivity, when: datetime, now: datetime
) -> None:
    activity.status_before_schedule = activity.current_status
    activity.scheduled_date = when
    set_status(data, activity, "SCHEDULED", now)


@routes.operation("retrieveEmailSchedulesUsingGET")
def get_schedule(ctx: Context) -> Any:
    data = ctx.account
    advance_campaigns(data, ctx.clock.now())
    activity = find_activity(data, ctx.params["campaign_activity_id"])
    if activity.current_status != "SCHEDULED" or activity.scheduled_date is None:
        return []
    return [{"scheduled_date": iso(activity.scheduled_date)}]


@routes.operation("unscheduleEmailCampaignActivityUsingDELETE")
def unschedule(ctx: Context) -> Any:
    data, now = ctx.account, ctx.clock.now()
    advance_campaigns(data, now)
    activity = find_activity(data, ctx.params["campaign_activity_id"])
    if activity.current_status != "SCHEDULED":
        raise CCError.bad_request(
            AREA,
            f"The activity is {activity.current_status}; only a SCHEDULED activity can be "
            "unscheduled.",
        )
    previous = activity.status_before_schedule or "DRAFT"
    activity.scheduled_date = None
    activity.status_before_schedule = None
    set_status(data, activity, previous, now)
    return None


# -- test sends -----------------------------------------------------------------------
@routes.operation("testSendCampaignActivityUsingPOST")
def test_send(ctx: Context) -> Any:
    data, now = ctx.account, ctx.clock.now()
    advance_campaigns(data, now)
    _sendable_activity(ctx, "test sent")
    body = require_object(AREA, ctx.request.json(area=AREA))
    reject_unknown(AREA, body, {"email_addresses", "personal_message"})
    addresses = _test_addresses(body)
    string_field(AREA, body, "personal_message")
    today = iso_date(now) or ""
    used = data.test_sends.get(today, 0)
    if used + len(addresses) > TEST_RECIPIENTS_PER_DAY:
        raise CCError.bad_request(
            AREA,
            f"Test sends are limited to {TEST_RECIPIENTS_PER_DAY} recipients a day; "
            f"{TEST_RECIPIENTS_PER_DAY - used} remain today and this request has "
            f"{len(addresses)}.",
        )
    # Only today's tally matters; older days are dropped so the map stays small.
    data.test_sends = {today: used + len(addresses)}
    return None


def _test_addresses(body: dict[str, Any]) -> list[str]:
    raw = body.get("email_addresses")
    if raw is None:
        raise CCError.bad_request(AREA, "email_addresses is required.")
    if not isinstance(raw, list) or not all(isinstance(a, str) for a in raw):
        raise CCError.bad_request(AREA, "email_addresses must be an array of email addresses.")
    if not raw:
        raise CCError.bad_request(AREA, "email_addresses must contain at least one address.")
    if len(raw) > MAX_TEST_ADDRESSES:
        raise CCError.bad_request(
            AREA,
            f"email_addresses may hold at most {MAX_TEST_ADDRESSES} addresses per request; "
            f"got {len(raw)}.",
        )
    for address in raw:
        if not EMAIL_RE.match(address.strip()):
            raise CCError.bad_request(
                AREA, f"email_addresses contains '{address}', which is not a valid email address."
            )
    return [a.strip() for a in raw]


# -- preview and history ----------------------------------------------------------------
@routes.operation("retrieveEmailCampaignActivityPreviewUsingGET")
def preview(ctx: Context) -> Any:
    data = ctx.account
    advance_campaigns(data, ctx.clock.now())
    activity = find_activity(data, ctx.params["campaign_activity_id"])
    rendered = campaign_content.preview_html(
        activity.html_content, data.account, activity.physical_address_in_footer
    )
    body: dict[str, Any] = {
        "campaign_activity_id": activity.campaign_activity_id,
        "from_email": activity.from_email,
        "from_name": activity.from_name,
        "reply_to_email": activity.reply_to_email,
        "subject": activity.subject,
        "preview_html_content": rendered,
        "preview_text_content": campaign_content.html_to_text(rendered),
    }
    if activity.preheader is not None:
        body["preheader"] = activity.preheader
    return body


@routes.operation("retrieveEmailSendHistoryUsingGET")
def send_history(ctx: Context) -> Any:
    data = ctx.account
    advance_campaigns(data, ctx.clock.now())
    activity = find_activity(data, ctx.params["campaign_activity_id"])
    return [dict(entry) for entry in activity.send_history]

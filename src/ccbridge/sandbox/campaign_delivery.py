"""Email campaign sends on the sandbox clock, and the reporting figures they produce.

A scheduled ``primary_email`` activity moves SCHEDULED → EXECUTING when the clock passes
its scheduled date and EXECUTING → DONE ``EXECUTING_SECONDS`` later (its campaign follows:
Scheduled → Executing → Done). Nothing runs in the background: every handler that touches
campaigns or their reports calls ``advance_campaigns`` first, which brings each activity up
to "now", so a client polling the sandbox sees the order of events CC would show.

The recipients are snapshotted when the send starts: contacts that are not deleted, not
unsubscribed and on one of the target lists, minus anyone an earlier send of the same
activity already reached (a rescheduled DONE activity goes only to new contacts, as on CC).
When the send finishes, each recipient's engagement (bounce, opens, clicks, forwards,
opt-out) is derived from a hash of the activity and contact ids. The figures are therefore
deterministic and always consistent with one another — unique opens never exceed sends,
clicks come only from openers and only when the HTML has links — and the tracking reports
list exactly the contacts the counters count. A contact who opts out is unsubscribed, so
later sends skip them.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ccbridge.sandbox import campaign_content
from ccbridge.sandbox.clock import iso
from ccbridge.sandbox.errors import CCError
from ccbridge.sandbox.params import is_uuid
from ccbridge.sandbox.state import (
    AccountData,
    CampaignActivity,
    Contact,
    EmailCampaign,
    Segment,
)

EXECUTING_SECONDS = 5.0
"""How long a send stays EXECUTING on the sandbox clock before it is DONE."""

CAMPAIGN_STATUS = {
    "DRAFT": "Draft",
    "SCHEDULED": "Scheduled",
    "EXECUTING": "Executing",
    "DONE": "Done",
    "ERROR": "Error",
    "REMOVED": "Removed",
}
"""An activity's status and the matching status of its campaign (CC capitalises differently)."""

TRACKING_KINDS = (
    "sends",
    "opens",
    "unique_opens",
    "didnotopens",
    "clicks",
    "forwards",
    "optouts",
    "bounces",
)

# Engagement rates; bounces and opt-outs are rare, opens common, clicks need an opener.
BOUNCE_RATE = 0.04
OPEN_RATE = 0.45
CLICK_RATE = 0.35
FORWARD_RATE = 0.04
OPTOUT_RATE = 0.02
DEVICES = ("computer", "mobile", "tablet")
BOUNCE_CODES = {
    "B": "em_bounces_nonexistent_address",
    "D": "em_bounces_undeliverable",
    "F": "em_bounces_mailbox_full",
    "S": "em_bounces_suspended",
    "V": "em_bounces_vacation",
    "X": "em_bounces_other",
    "Z": "em_bounces_blocked",
}
OPT_OUT_REASONS = (
    "I no longer want to receive these emails",
    "The emails are too frequent",
    "The content is not what I expected",
)

STAT_KEYS = (
    "em_sends",
    "em_opens",
    "em_opens_all",
    "em_opens_all_computer",
    "em_opens_all_mobile",
    "em_opens_all_tablet",
    "em_opens_all_other",
    "em_opens_all_none",
    "em_clicks",
    "em_clicks_all",
    "em_clicks_all_computer",
    "em_clicks_all_mobile",
    "em_clicks_all_tablet",
    "em_clicks_all_other",
    "em_clicks_all_none",
    "em_forwards",
    "em_optouts",
    "em_abuse",
    "em_not_opened",
    "em_bounces",
    *BOUNCE_CODES.values(),
)

SegmentEvaluator = Callable[[AccountData, Segment], list[Contact]]


# -- lookups --------------------------------------------------------------------------
def find_campaign(data: AccountData, raw_id: str) -> EmailCampaign:
    """The campaign with this id; CC answers a malformed or unknown id with 404."""
    campaign = data.campaigns.get(raw_id.lower()) if is_uuid(raw_id) else None
    if campaign is None:
        raise CCError.not_found("emails", f"No email campaign has campaign_id '{raw_id}'.")
    return campaign


def find_activity(data: AccountData, raw_id: str) -> CampaignActivity:
    """A live campaign activity; REMOVED ones are as good as gone (CC will not return them)."""
    activity = data.campaign_activities.get(raw_id.lower()) if is_uuid(raw_id) else None
    if activity is None or activity.current_status == "REMOVED":
        raise CCError.not_found(
            "emails", f"No email campaign activity has campaign_activity_id '{raw_id}'."
        )
    return activity


def primary_activity(data: AccountData, campaign: EmailCampaign) -> CampaignActivity | None:
    for activity_id in campaign.activity_ids:
        activity = data.campaign_activities.get(activity_id)
        if activity is not None and activity.role == "primary_email":
            return activity
    return None


# -- status ---------------------------------------------------------------------------
def set_status(data: AccountData, activity: CampaignActivity, status: str, when: datetime) -> None:
    """Change an activity's status; a primary_email activity carries its campaign along."""
    activity.current_status = status
    if activity.role != "primary_email":
        return
    campaign = data.campaigns.get(activity.campaign_id)
    if campaign is not None and campaign.current_status != "Removed":
        campaign.current_status = CAMPAIGN_STATUS[status]
        campaign.updated_at = max(campaign.updated_at, when)


def advance_campaigns(data: AccountData, now: datetime) -> None:
    """Bring every scheduled or executing send up to ``now`` on the sandbox clock."""
    for activity in list(data.campaign_activities.values()):
        if (
            activity.current_status == "SCHEDULED"
            and activity.scheduled_date is not None
            and activity.scheduled_date <= now
        ):
            start_send(data, activity, activity.scheduled_date)
        if activity.current_status == "EXECUTING" and activity.pending_send is not None:
            finishes = activity.pending_send["started_at"] + timedelta(seconds=EXECUTING_SECONDS)
            if finishes <= now:
                finish_send(data, activity, finishes)


# -- recipients -----------------------------------------------------------------------
def segment_members(data: AccountData, segment_id: int) -> list[str] | None:
    """Contact ids in a segment, if the segments module can evaluate its criteria.

    Segment criteria belong to the segments resource; the hook is the one bulk activities
    use (``contacts_in_segment(data, segment)``). Without it the answer is None and the
    send fails visibly instead of guessing who is in the segment.
    """
    segments = importlib.import_module("ccbridge.sandbox.resources.segments")
    evaluate: SegmentEvaluator | None = getattr(segments, "contacts_in_segment", None)
    segment = data.segments.get(segment_id)
    if evaluate is None or segment is None:
        return None
    return [contact.contact_id for contact in evaluate(data, segment)]


def is_sendable(contact: Contact) -> bool:
    return (
        contact.deleted_at is None
        and contact.email_address is not None
        and contact.email_address.permission_to_send != "unsubscribed"
    )


def already_sent(activity: CampaignActivity) -> set[str]:
    return {event["contact_id"] for event in activity.tracking.get("sends", [])}


def eligible_recipients(data: AccountData, activity: CampaignActivity) -> list[str] | None:
    """Contact ids the next send reaches, in creation order; None when it cannot be known."""
    if activity.segment_ids:
        members = segment_members(data, activity.segment_ids[0])
        if members is None:
            return None
        candidates = [cid for cid in members if cid in data.contacts]
    else:
        lists = {
            list_id
            for list_id in activity.contact_list_ids
            if list_id in data.lists and data.lists[list_id].deleted_at is None
        }
        candidates = [
            cid
            for cid in data.contact_order
            if cid in data.contacts and lists.intersection(data.contacts[cid].list_memberships)
        ]
    done = already_sent(activity)
    return [cid for cid in candidates if cid not in done and is_sendable(data.contacts[cid])]


# -- the send -------------------------------------------------------------------------
def start_send(data: AccountData, activity: CampaignActivity, when: datetime) -> None:
    """SCHEDULED → EXECUTING: fix who this send goes to."""
    recipients = eligible_recipients(data, activity)
    activity.pending_send = {
        "started_at": when,
        "contact_ids": recipients,
        "contact_list_ids": list(activity.contact_list_ids),
        "segment_ids": list(activity.segment_ids),
    }
    activity.scheduled_date = None
    activity.status_before_schedule = None
    set_status(data, activity, "EXECUTING", when)


def finish_send(data: AccountData, activity: CampaignActivity, when: datetime) -> None:
    """EXECUTING → DONE (or ERROR): record the send and everything contacts did with it."""
    pending = activity.pending_send or {}
    started: datetime = pending.get("started_at", when)
    entry: dict[str, Any] = {
        "send_id": len(activity.send_history) + 1,
        "contact_list_ids": list(pending.get("contact_list_ids", [])),
        "segment_ids": list(pending.get("segment_ids", [])),
        "count": 0,
        "run_date": iso(started),
        "send_status": "COMPLETED",
        "reason_code": 0,
    }
    activity.pending_send = None
    contact_ids = pending.get("contact_ids")
    if contact_ids is None:
        # The segment could not be evaluated: reason 1 is CC's generic send error.
        entry.update(send_status="ERRORED", reason_code=1)
        activity.send_history.append(entry)
        set_status(data, activity, "ERROR", when)
        return
    recipients = [data.contacts[cid] for cid in contact_ids if cid in data.contacts]
    recipients = [c for c in recipients if is_sendable(c)]
    entry["count"] = len(recipients)
    if not recipients:
        entry["reason_code"] = 12  # CC: attempted, but no eligible contacts
    activity.send_history.append(entry)
    links = campaign_content.links_in(activity.html_content)
    for contact in recipients:
        _deliver(activity, contact, started, links)
    set_status(data, activity, "DONE", when)
    campaign = data.campaigns.get(activity.campaign_id)
    if campaign is not None:
        campaign.last_sent_date = started


def _roll(activity: CampaignActivity, contact: Contact, salt: str) -> float:
    """A number in [0, 1) fixed by the activity, the contact and what is being decided."""
    digest = hashlib.sha256(
        f"{activity.campaign_activity_id}|{contact.contact_id}|{salt}".encode()
    ).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _event(
    activity: CampaignActivity, contact: Contact, kind: str, when: datetime, **extra: Any
) -> None:
    email = contact.email_address.address if contact.email_address else ""
    event: dict[str, Any] = {
        "contact_id": contact.contact_id,
        "email_address": email,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "created_time": when,
        "sequence": sum(len(v) for v in activity.tracking.values()),
        **extra,
    }
    activity.tracking.setdefault(kind, []).append(event)


def _count(activity: CampaignActivity, key: str, amount: int = 1) -> None:
    activity.stats[key] = activity.stats.get(key, 0) + amount


def _deliver(
    activity: CampaignActivity, contact: Contact, started: datetime, links: list[str]
) -> None:
    """One recipient's outcome; every event falls inside the EXECUTING window."""
    span = EXECUTING_SECONDS
    _event(activity, contact, "sends", started)
    _count(activity, "em_sends")
    if _roll(activity, contact, "bounce") < BOUNCE_RATE:
        code = sorted(BOUNCE_CODES)[int(_roll(activity, contact, "code") * len(BOUNCE_CODES))]
        when = started + timedelta(seconds=span * 0.1)
        _event(activity, contact, "bounces", when, bounce_code=code)
        _count(activity, "em_bounces")
        _count(activity, BOUNCE_CODES[code])
        return
    opened = _roll(activity, contact, "open") < OPEN_RATE
    if not opened:
        _event(activity, contact, "didnotopens", started)
        _count(activity, "em_not_opened")
    else:
        _record_opens(activity, contact, started, links)
    if _roll(activity, contact, "optout") < OPTOUT_RATE:
        reason = OPT_OUT_REASONS[int(_roll(activity, contact, "reason") * len(OPT_OUT_REASONS))]
        when = started + timedelta(seconds=span * 0.9)
        _event(activity, contact, "optouts", when, opt_out_reason=reason)
        _count(activity, "em_optouts")
        _unsubscribe(contact, when, reason)


def _record_opens(
    activity: CampaignActivity, contact: Contact, started: datetime, links: list[str]
) -> None:
    span = EXECUTING_SECONDS
    first = started + timedelta(seconds=span * (0.2 + 0.2 * _roll(activity, contact, "t-open")))
    opens = 1 + int(_roll(activity, contact, "open-count") * 3)
    devices = [
        DEVICES[int(_roll(activity, contact, f"device-{n}") * len(DEVICES))] for n in range(opens)
    ]
    for n, device in enumerate(devices):
        when = first + timedelta(seconds=span * 0.05 * n)
        _event(activity, contact, "opens", when, device_type=device)
        _count(activity, "em_opens_all")
        _count(activity, f"em_opens_all_{device}")
    _event(activity, contact, "unique_opens", first, device_type=devices[0])
    _count(activity, "em_opens")
    if links and _roll(activity, contact, "click") < CLICK_RATE:
        clicks = 1 + int(_roll(activity, contact, "click-count") * 2)
        for n in range(clicks):
            url = links[int(_roll(activity, contact, f"link-{n}") * len(links))]
            device = DEVICES[int(_roll(activity, contact, f"click-device-{n}") * len(DEVICES))]
            when = first + timedelta(seconds=span * (0.2 + 0.05 * n))
            _event(
                activity,
                contact,
                "clicks",
                when,
                device_type=device,
                link_url=url,
                url_id=campaign_content.url_id(activity.campaign_activity_id, url),
            )
            _count(activity, "em_clicks_all")
            _count(activity, f"em_clicks_all_{device}")
        _count(activity, "em_clicks")
    if _roll(activity, contact, "forward") < FORWARD_RATE:
        _event(activity, contact, "forwards", first + timedelta(seconds=span * 0.5))
        _count(activity, "em_forwards")


def _unsubscribe(contact: Contact, when: datetime, reason: str) -> None:
    """An opt-out from a campaign unsubscribes the contact, as on CC; later sends skip them."""
    address = contact.email_address
    if address is None:
        return
    address.permission_to_send = "unsubscribed"
    address.opt_out_source = "Contact"
    address.opt_out_date = when
    address.opt_out_reason = reason
    address.updated_at = when
    contact.update_source = "Contact"
    contact.updated_at = max(contact.updated_at, when)


# -- figures --------------------------------------------------------------------------
def activity_stats(activity: CampaignActivity) -> dict[str, int]:
    """Every counter CC reports for an activity, zero when nothing happened."""
    return {key: activity.stats.get(key, 0) for key in STAT_KEYS}


def campaign_stats(data: AccountData, campaign: EmailCampaign) -> dict[str, int]:
    """The sum over a campaign's sendable activities (primary_email and resends)."""
    totals = dict.fromkeys(STAT_KEYS, 0)
    for activity_id in campaign.activity_ids:
        activity = data.campaign_activities.get(activity_id)
        if activity is None or activity.role == "permalink":
            continue
        for key, value in activity.stats.items():
            totals[key] = totals.get(key, 0) + value
    return totals


def percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def delivered(stats: dict[str, int]) -> int:
    return stats.get("em_sends", 0) - stats.get("em_bounces", 0)


def percents(stats: dict[str, int]) -> dict[str, float]:
    """CC's percentages: bounces over sends, everything else over delivered emails."""
    base = delivered(stats)
    opens_all = stats.get("em_opens_all", 0)
    clicks_all = stats.get("em_clicks_all", 0)
    return {
        "bounce": percent(stats.get("em_bounces", 0), stats.get("em_sends", 0)),
        "click": percent(stats.get("em_clicks", 0), base),
        "desktop_click": percent(stats.get("em_clicks_all_computer", 0), clicks_all),
        "desktop_open": percent(stats.get("em_opens_all_computer", 0), opens_all),
        "did_not_open": percent(stats.get("em_not_opened", 0), base),
        "mobile_click": percent(stats.get("em_clicks_all_mobile", 0), clicks_all),
        "mobile_open": percent(stats.get("em_opens_all_mobile", 0), opens_all),
        "open": percent(stats.get("em_opens", 0), base),
        "unsubscribe": percent(stats.get("em_optouts", 0), base),
    }


def has_been_sent(activity: CampaignActivity) -> bool:
    return bool(activity.send_history)

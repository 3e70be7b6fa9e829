"""Sandbox emulation of CC's Email Reporting operations.

The figures come from the sends ``campaign_delivery`` performs on the sandbox clock, so
every report agrees with the others and with the send history: the summary's unique
counts, the campaign and activity stats, and the per-contact tracking reports all count
the same events. CC's quirks are kept (CC-V3-FACTS §7): campaign stats answer 404 for the
whole request when any id is unknown, activity stats list unknown ids under ``errors``,
tracking reports list the newest activity first with at most 500 rows a page.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ccbridge.sandbox import campaign_content
from ccbridge.sandbox.campaign_delivery import (
    STAT_KEYS,
    activity_stats,
    advance_campaigns,
    campaign_stats,
    delivered,
    has_been_sent,
    percent,
    percents,
)
from ccbridge.sandbox.clock import iso, iso_date
from ccbridge.sandbox.errors import CCError
from ccbridge.sandbox.pagination import effective_keyset_query, keyset_links, keyset_page
from ccbridge.sandbox.params import bool_param, is_uuid, limit_param
from ccbridge.sandbox.routing import Context, RouteTable
from ccbridge.sandbox.state import AccountData, CampaignActivity, EmailCampaign

routes = RouteTable()

AREA = "reports"
MAX_CAMPAIGN_IDS = 150
MAX_ACTIVITY_IDS = 10
BOUNCE_CODES = ("B", "D", "F", "S", "V", "X", "Z")
_FAR_FUTURE_MS = 10**15
CAMPAIGN_STAT_KEYS = frozenset(
    k for k in STAT_KEYS if k != "em_abuse" and not k.startswith("em_bounces_")
)


def _newest_first_key(when: datetime, tiebreak: int) -> str:
    """A key that sorts ascending in newest-first order, for keyset cursors."""
    millis = int(when.timestamp() * 1000)
    return f"{_FAR_FUTURE_MS - millis:016d}.{_FAR_FUTURE_MS - tiebreak:016d}"


def _ids_from_path(raw: str, name: str, maximum: int) -> list[str]:
    """A comma-separated id list; one malformed id makes CC answer 404 for all."""
    ids = [part.strip().lower() for part in raw.split(",") if part.strip()]
    if not ids:
        raise CCError.bad_request(AREA, f"{name} must name at least one id.")
    if len(ids) > maximum:
        raise CCError.bad_request(AREA, f"{name} accepts at most {maximum} ids; got {len(ids)}.")
    for value in ids:
        if not is_uuid(value):
            raise CCError.not_found(AREA, f"{name} contains '{value}', which is not a valid id.")
    return list(dict.fromkeys(ids))


# -- summaries ----------------------------------------------------------------------------
def _unique_counts(stats: dict[str, int]) -> dict[str, int]:
    return {
        "sends": stats["em_sends"],
        "opens": stats["em_opens"],
        "clicks": stats["em_clicks"],
        "forwards": stats["em_forwards"],
        "optouts": stats["em_optouts"],
        "abuse": stats["em_abuse"],
        "bounces": stats["em_bounces"],
        "not_opened": stats["em_not_opened"],
    }


@routes.operation("getAllBulkEmailCampaignSummaries")
def campaign_summaries(ctx: Context) -> Any:
    data = ctx.account
    advance_campaigns(data, ctx.clock.now())
    req, after = effective_keyset_query(ctx.request, AREA)
    limit = limit_param(req, AREA, default=50, maximum=500)
    sent = [
        c
        for c in data.campaigns.values()
        if c.last_sent_date is not None and c.current_status != "Removed"
    ]

    def key(campaign: EmailCampaign) -> str:
        assert campaign.last_sent_date is not None
        return _newest_first_key(campaign.last_sent_date, campaign.sequence_id)

    sent.sort(key=key)
    page, resume = keyset_page(sent, key, after, limit)
    totals = {k: 0 for k in ("em_sends", "em_bounces", "em_opens", "em_clicks", "em_optouts")}
    totals["em_not_opened"] = 0
    for campaign in sent:
        stats = campaign_stats(data, campaign)
        for name in totals:
            totals[name] += stats[name]
    base = delivered(totals)
    body: dict[str, Any] = {
        "bulk_email_campaign_summaries": [
            {
                "campaign_id": c.campaign_id,
                "campaign_type": c.type,
                "last_sent_date": iso(c.last_sent_date),
                "unique_counts": _unique_counts(campaign_stats(data, c)),
            }
            for c in page
        ],
        "aggregate_percents": {
            "open": percent(totals["em_opens"], base),
            "click": percent(totals["em_clicks"], base),
            "did_not_open": percent(totals["em_not_opened"], base),
            "bounce": percent(totals["em_bounces"], totals["em_sends"]),
            "unsubscribe": percent(totals["em_optouts"], base),
        },
    }
    links = keyset_links(
        "/v3/reports/summary_reports/email_campaign_summaries", req.query_dict(), resume
    )
    if links:
        body["_links"] = links
    return body


# -- stats ----------------------------------------------------------------------------------
@routes.operation("getEmailSummary")
def campaign_stats_report(ctx: Context) -> Any:
    data, now = ctx.account, ctx.clock.now()
    advance_campaigns(data, now)
    ids = _ids_from_path(ctx.params["campaign_ids"], "campaign_ids", MAX_CAMPAIGN_IDS)
    missing = [cid for cid in ids if cid not in data.campaigns]
    if missing:
        raise CCError.not_found(
            AREA, f"No stats for the requested campaigns: unknown campaign_id {missing[0]}."
        )
    results = []
    for campaign_id in ids:
        stats = campaign_stats(data, data.campaigns[campaign_id])
        results.append(
            {
                "campaign_id": campaign_id,
                # Abuse and bounce reasons are reported per activity only.
                "stats": {k: v for k, v in stats.items() if k in CAMPAIGN_STAT_KEYS},
                "percents": percents(stats),
                "last_refresh_time": iso(now),
            }
        )
    return {"results": results, "errors": []}


@routes.operation("getEmailCampaignActivitySummary")
def activity_stats_report(ctx: Context) -> Any:
    data, now = ctx.account, ctx.clock.now()
    advance_campaigns(data, now)
    ids = _ids_from_path(
        ctx.params["campaign_activity_ids"], "campaign_activity_ids", MAX_ACTIVITY_IDS
    )
    results, errors = [], []
    for activity_id in ids:
        activity = data.campaign_activities.get(activity_id)
        if activity is None or activity.current_status == "REMOVED" or not has_been_sent(activity):
            errors.append(
                {
                    "error_key": "reports.stats.not_found",
                    "error_message": f"No stats for campaign_activity_id {activity_id}: it does "
                    "not exist, was deleted, or has not been sent.",
                }
            )
            continue
        results.append(
            {
                "campaign_id": activity.campaign_id,
                "campaign_activity_id": activity_id,
                "stats": activity_stats(activity),
                "last_refresh_time": iso(now),
            }
        )
    return {"results": results, "errors": errors}


# -- tracking reports ----------------------------------------------------------------------
def _report_activity(data: AccountData, raw_id: str) -> CampaignActivity:
    activity = data.campaign_activities.get(raw_id.lower()) if is_uuid(raw_id) else None
    if activity is None or activity.current_status == "REMOVED":
        raise CCError.not_found(
            AREA, f"No email campaign activity has campaign_activity_id '{raw_id}'."
        )
    if activity.role == "permalink":
        raise CCError.not_found(
            AREA, "Reports exist for primary_email and resend activities, not for a permalink."
        )
    return activity


def _tracking_row(
    data: AccountData, activity: CampaignActivity, kind: str, event: dict[str, Any]
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "contact_id": event["contact_id"],
        "campaign_activity_id": activity.campaign_activity_id,
        "tracking_activity_type": f"em_{kind}",
        "email_address": event["email_address"],
        "created_time": iso(event["created_time"]),
    }
    for name in ("first_name", "last_name", "device_type", "link_url", "url_id"):
        if event.get(name):
            row[name] = event[name]
    if kind == "optouts" and event.get("opt_out_reason"):
        row["opt_out_reason"] = event["opt_out_reason"]
    if kind == "bounces":
        row["bounce_code"] = event["bounce_code"]
    contact = data.contacts.get(event["contact_id"])
    if contact is not None and contact.deleted_at is not None:
        row["deleted_at"] = iso_date(contact.deleted_at)
    return row


def _tracking_report(
    ctx: Context,
    kind: str,
    *,
    keep: Callable[[dict[str, Any]], bool] | None = None,
    always_links: bool = False,
) -> Any:
    data = ctx.account
    advance_campaigns(data, ctx.clock.now())
    activity = _report_activity(data, ctx.params["campaign_activity_id"])
    req, after = effective_keyset_query(ctx.request, AREA)
    limit = limit_param(req, AREA, default=500, maximum=500)
    events = [e for e in activity.tracking.get(kind, []) if keep is None or keep(e)]

    def key(event: dict[str, Any]) -> str:
        return _newest_first_key(event["created_time"], event["sequence"])

    events.sort(key=key)
    page, resume = keyset_page(events, key, after, limit)
    body: dict[str, Any] = {
        "tracking_activities": [_tracking_row(data, activity, kind, e) for e in page]
    }
    path = f"/v3/reports/email_reports/{activity.campaign_activity_id}/tracking/{kind}"
    links = keyset_links(path, req.query_dict(), resume)
    if links or always_links:
        body["_links"] = links or {}
    return body


@routes.operation("getSends")
def sends_report(ctx: Context) -> Any:
    return _tracking_report(ctx, "sends")


@routes.operation("getOpens")
def opens_report(ctx: Context) -> Any:
    return _tracking_report(ctx, "opens")


@routes.operation("getUniqueOpens")
def unique_opens_report(ctx: Context) -> Any:
    return _tracking_report(ctx, "unique_opens")


@routes.operation("getDidNotOpens")
def did_not_opens_report(ctx: Context) -> Any:
    return _tracking_report(ctx, "didnotopens")


@routes.operation("getClicks")
def clicks_report(ctx: Context) -> Any:
    raw = ctx.request.q("url_id")
    if raw in (None, ""):
        return _tracking_report(ctx, "clicks")
    if not str(raw).isdigit():
        raise CCError.bad_request(AREA, f"url_id must be an integer link id; got '{raw}'.")
    return _tracking_report(ctx, "clicks", keep=lambda e: e.get("url_id") == str(int(str(raw))))


@routes.operation("getForwards")
def forwards_report(ctx: Context) -> Any:
    return _tracking_report(ctx, "forwards")


@routes.operation("getOptouts")
def optouts_report(ctx: Context) -> Any:
    return _tracking_report(ctx, "optouts", always_links=True)


@routes.operation("getBounces")
def bounces_report(ctx: Context) -> Any:
    codes = [c.strip().upper() for c in ctx.request.q_all("bounce_code") if c.strip()]
    for code in codes:
        if code not in BOUNCE_CODES:
            raise CCError.bad_request(
                AREA, f"bounce_code '{code}' is not one of {', '.join(BOUNCE_CODES)}."
            )
    wanted = set(codes)
    return _tracking_report(
        ctx,
        "bounces",
        keep=(lambda e: e["bounce_code"] in wanted) if wanted else None,
        always_links=True,
    )


@routes.operation("getCampaignActivityLinkStats")
def links_report(ctx: Context) -> Any:
    data = ctx.account
    advance_campaigns(data, ctx.clock.now())
    activity = _report_activity(data, ctx.params["campaign_activity_id"])
    include_unclicked = bool_param(ctx.request, AREA, "no_clicks")
    clickers: dict[str, set[str]] = {}
    for event in activity.tracking.get("clicks", []):
        clickers.setdefault(event["link_url"], set()).add(event["contact_id"])
    counts = []
    # Links clicked in content since replaced by a PUT still count.
    urls = list(dict.fromkeys([*campaign_content.links_in(activity.html_content), *clickers]))
    for url in urls:
        unique = len(clickers.get(url, set()))
        if unique or include_unclicked:
            counts.append(
                {
                    "link_url": url,
                    "url_id": campaign_content.url_id(activity.campaign_activity_id, url),
                    "unique_clicks": unique,
                }
            )
    return {"campaign_activity_id": activity.campaign_activity_id, "link_click_counts": counts}

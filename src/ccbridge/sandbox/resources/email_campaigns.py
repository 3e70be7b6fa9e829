"""Sandbox emulation of CC's Email Campaigns operations (``/emails`` and its activities).

CC's rules here are strict and easy to trip over (CC-V3-FACTS §6, §11 fact 14): creating a
campaign answers 200, not 201; only custom-code emails (format_type 5) can be created; the
sender addresses must be CONFIRMED account emails; the HTML must carry
``[[trackingImage]]`` and none of ``[#``, ``${``, ``<@``. A campaign gets a
``primary_email`` and a ``permalink`` activity; recipients are set later by PUT on the
primary activity, which is allowed only in DRAFT or DONE. The handlers validate with those
rules and name the offending field; sending itself lives in ``email_scheduling``.
"""

from __future__ import annotations

import re
from typing import Any

from ccbridge.sandbox import campaign_content
from ccbridge.sandbox.campaign_delivery import (
    advance_campaigns,
    find_activity,
    find_campaign,
    has_been_sent,
    primary_activity,
)
from ccbridge.sandbox.clock import iso
from ccbridge.sandbox.errors import CCError
from ccbridge.sandbox.http import html_response
from ccbridge.sandbox.pagination import effective_query, next_links, take_page
from ccbridge.sandbox.params import (
    EMAIL_RE,
    date_param,
    enum_csv_param,
    id_list_field,
    int_field,
    limit_param,
    reject_unknown,
    require_object,
    string_field,
)
from ccbridge.sandbox.routing import Context, RouteTable
from ccbridge.sandbox.state import AccountData, CampaignActivity, EmailCampaign, new_id

routes = RouteTable()

AREA = "emails"
MAX_NAME = 80
MAX_FROM_NAME = 100
MAX_EMAIL = 80
MAX_PREHEADER = 200
MAX_XREF_IDS = 50
CUSTOM_CODE_FORMAT = 5
INCLUDES = ("physical_address_in_footer", "permalink_url", "html_content", "document_properties")
ACTIVITY_INPUT_FIELDS = {
    "format_type",
    "from_name",
    "from_email",
    "reply_to_email",
    "subject",
    "preheader",
    "html_content",
    "physical_address_in_footer",
}
READ_ONLY_ACTIVITY_FIELDS = {
    "campaign_activity_id",
    "campaign_id",
    "role",
    "current_status",
    "format_type",
    "template_id",
    "permalink_url",
}
PUT_FIELDS = {
    "from_name",
    "from_email",
    "reply_to_email",
    "subject",
    "preheader",
    "html_content",
    "physical_address_in_footer",
    "document_properties",
    "contact_list_ids",
    "segment_ids",
} | READ_ONLY_ACTIVITY_FIELDS
FOOTER_FIELDS = {
    "address_line1",
    "address_line2",
    "address_line3",
    "address_optional",
    "city",
    "country_code",
    "organization_name",
    "postal_code",
    "state_code",
    "state_non_us_name",
}
FOOTER_READ_ONLY = {"country_name", "state_name"}
DOCUMENT_PROPERTY_LIMITS: dict[str, int | None] = {
    "style_content": 150_000,
    "letter_format": None,
    "greeting_salutation": 50,
    "greeting_name_type": None,
    "greeting_secondary": 1500,
    "subscribe_link_enabled": None,
    "subscribe_link_name": 80,
    "text_content": 150_000,
    "permission_reminder_enabled": None,
    "permission_reminder": 1500,
    "view_as_webpage_enabled": None,
    "view_as_webpage_text": 50,
    "view_as_webpage_link_name": None,
    "forward_email_link_enabled": None,
    "forward_email_link_name": 80,
}
_COUNTRY_CODE = re.compile(r"^[A-Za-z]{2}$")


# -- rendering ------------------------------------------------------------------------
def campaign_json(data: AccountData, campaign: EmailCampaign, *, activities: bool = True) -> Any:
    """CC's EmailCampaign; the collection view leaves the activity references out."""
    body: dict[str, Any] = {
        "campaign_id": campaign.campaign_id,
        "name": campaign.name,
        "current_status": campaign.current_status,
        "type": campaign.type,
        "type_code": campaign.type_code,
        "created_at": iso(campaign.created_at),
        "updated_at": iso(campaign.updated_at),
    }
    if activities:
        body["campaign_activities"] = [
            {"campaign_activity_id": aid, "role": data.campaign_activities[aid].role}
            for aid in campaign.activity_ids
            if aid in data.campaign_activities
        ]
    return body


def permalink_url(ctx: Context, campaign: EmailCampaign) -> str:
    return f"{ctx.sandbox.base_url}/permalink/{campaign.campaign_id}"


def activity_json(
    ctx: Context, activity: CampaignActivity, include: tuple[str, ...] | list[str] = ()
) -> dict[str, Any]:
    """CC's EmailCampaignActivity; content sub-resources only when asked for with include."""
    body: dict[str, Any] = {
        "campaign_activity_id": activity.campaign_activity_id,
        "campaign_id": activity.campaign_id,
        "role": activity.role,
        "current_status": activity.current_status,
        "format_type": activity.format_type,
        "from_name": activity.from_name,
        "from_email": activity.from_email,
        "reply_to_email": activity.reply_to_email,
        "subject": activity.subject,
        "contact_list_ids": list(activity.contact_list_ids),
        "segment_ids": list(activity.segment_ids),
    }
    if activity.preheader is not None:
        body["preheader"] = activity.preheader
    if "html_content" in include:
        body["html_content"] = activity.html_content
    if "physical_address_in_footer" in include and activity.physical_address_in_footer:
        body["physical_address_in_footer"] = dict(activity.physical_address_in_footer)
    if "document_properties" in include and activity.document_properties is not None:
        body["document_properties"] = dict(activity.document_properties)
    if "permalink_url" in include:
        campaign = ctx.account.campaigns.get(activity.campaign_id)
        if campaign is not None:
            body["permalink_url"] = permalink_url(ctx, campaign)
    return body


# -- validation -----------------------------------------------------------------------
def name_taken(data: AccountData, name: str, except_id: str | None = None) -> bool:
    wanted = name.strip().lower()
    return any(
        c.name.strip().lower() == wanted
        for c in data.campaigns.values()
        if c.campaign_id != except_id and c.current_status != "Removed"
    )


def campaign_name(data: AccountData, body: dict[str, Any], except_id: str | None = None) -> str:
    name = string_field(AREA, body, "name", required=True, max_length=MAX_NAME)
    assert name is not None
    if not name.strip():
        raise CCError.bad_request(AREA, "name must not be blank.")
    if name_taken(data, name, except_id):
        raise CCError.conflict(AREA, f"An email campaign named '{name}' already exists.")
    return name


def sender_address(data: AccountData, body: dict[str, Any], name: str, where: str) -> str:
    """from_email / reply_to_email: required, and a CONFIRMED email of this account."""
    value = string_field(AREA, body, name, required=True, max_length=MAX_EMAIL, where=where)
    assert value is not None
    label = f"{where}.{name}" if where else name
    if not EMAIL_RE.match(value.strip()):
        raise CCError.bad_request(AREA, f"{label} '{value}' is not a valid email address.")
    if value.strip().lower() not in data.confirmed_emails():
        raise CCError.bad_request(
            AREA,
            f"{label} '{value}' is not a confirmed email address of this account; use one "
            "that GET /account/emails lists as CONFIRMED.",
        )
    return value.strip()


def header_fields(data: AccountData, body: dict[str, Any], where: str) -> dict[str, Any]:
    """The sender/subject fields shared by create and PUT."""
    from_name = string_field(
        AREA, body, "from_name", required=True, max_length=MAX_FROM_NAME, where=where
    )
    subject = string_field(AREA, body, "subject", required=True, where=where)
    preheader = string_field(AREA, body, "preheader", max_length=MAX_PREHEADER, where=where)
    return {
        "from_name": from_name,
        "from_email": sender_address(data, body, "from_email", where),
        "reply_to_email": sender_address(data, body, "reply_to_email", where),
        "subject": subject,
        "preheader": preheader,
    }


def html_field(body: dict[str, Any], where: str, *, required: bool) -> str | None:
    html = string_field(AREA, body, "html_content", required=required, where=where)
    if html is not None:
        campaign_content.check_html_content(
            AREA, html, f"{where}.html_content" if where else "html_content"
        )
    return html


def footer_field(raw: Any, where: str) -> dict[str, Any]:
    """physical_address_in_footer: CC's required parts, and a state for US addresses."""
    label = f"{where}.physical_address_in_footer" if where else "physical_address_in_footer"
    footer = require_object(AREA, raw, label)
    reject_unknown(AREA, footer, FOOTER_FIELDS | FOOTER_READ_ONLY, label)
    out: dict[str, Any] = {}
    for name in sorted(FOOTER_FIELDS):
        required = name in ("address_line1", "country_code", "organization_name")
        value = string_field(AREA, footer, name, required=required, where=label)
        if value is not None:
            out[name] = value
    if not _COUNTRY_CODE.match(out["country_code"]):
        raise CCError.bad_request(
            AREA, f"{label}.country_code must be a two-letter ISO 3166-1 code."
        )
    out["country_code"] = out["country_code"].upper()
    state = out.get("state_code")
    if out["country_code"] == "US" and not state:
        raise CCError.bad_request(AREA, f"{label}.state_code is required when country_code is US.")
    if state is not None:
        if not _COUNTRY_CODE.match(state):
            raise CCError.bad_request(AREA, f"{label}.state_code must be a two-letter code.")
        out["state_code"] = state.upper()
    return out


def account_footer(data: AccountData) -> dict[str, Any]:
    """The footer CC uses when a campaign names none: the account's own address."""
    address = data.account.physical_address
    if not address:
        raise CCError.bad_request(
            AREA,
            "physical_address_in_footer is required: this account has no physical address "
            "(see /account/summary/physical_address).",
        )
    footer: dict[str, Any] = {"organization_name": data.account.organization_name}
    for name in ("address_line1", "address_line2", "address_line3", "city", "postal_code"):
        if address.get(name):
            footer[name] = address[name]
    footer["country_code"] = address.get("country_code", "")
    if address.get("state_code"):
        footer["state_code"] = address["state_code"]
    if address.get("state_name"):
        footer["state_non_us_name"] = address["state_name"]
    return footer


def document_properties_field(raw: Any) -> dict[str, str]:
    props = require_object(AREA, raw, "document_properties")
    reject_unknown(AREA, props, set(DOCUMENT_PROPERTY_LIMITS), "document_properties")
    out: dict[str, str] = {}
    for name, limit in DOCUMENT_PROPERTY_LIMITS.items():
        value = string_field(AREA, props, name, max_length=limit, where="document_properties")
        if value is not None:
            out[name] = value
    return out


def recipients_fields(data: AccountData, body: dict[str, Any]) -> tuple[list[str], list[int]]:
    """contact_list_ids or segment_ids (never both), each naming something that exists."""
    list_ids = id_list_field(AREA, body, "contact_list_ids")
    for list_id in list_ids:
        contact_list = data.lists.get(list_id)
        if contact_list is None or contact_list.deleted_at is not None:
            raise CCError.bad_request(
                AREA, f"contact_list_ids contains '{list_id}', which is not a list in this account."
            )
    raw_segments = body.get("segment_ids")
    segment_ids: list[int] = []
    if raw_segments is not None:
        if not isinstance(raw_segments, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in raw_segments
        ):
            raise CCError.bad_request(AREA, "segment_ids must be an array of integer segment ids.")
        if len(raw_segments) > 1:
            raise CCError.bad_request(AREA, "segment_ids may contain only one segment id.")
        for segment_id in raw_segments:
            segment = data.segments.get(segment_id)
            if segment is None or segment.deleted_at is not None:
                raise CCError.bad_request(
                    AREA, f"segment_ids contains {segment_id}, which is not a segment."
                )
        segment_ids = list(raw_segments)
    if list_ids and segment_ids:
        raise CCError.bad_request(
            AREA, "Use contact_list_ids or segment_ids to choose recipients, not both."
        )
    return list(dict.fromkeys(list_ids)), segment_ids


# -- campaigns ------------------------------------------------------------------------
@routes.operation("createEmailCampaignUsingPOST")
def create_campaign(ctx: Context) -> Any:
    data, now = ctx.account, ctx.clock.now()
    advance_campaigns(data, now)
    body = require_object(AREA, ctx.request.json(area=AREA))
    reject_unknown(AREA, body, {"name", "email_campaign_activities"})
    name = campaign_name(data, body)
    raw_activities = body.get("email_campaign_activities")
    if raw_activities is None:
        raise CCError.bad_request(AREA, "email_campaign_activities is required.")
    if not isinstance(raw_activities, list) or len(raw_activities) != 1:
        raise CCError.bad_request(
            AREA, "email_campaign_activities must be an array holding exactly one activity."
        )
    where = "email_campaign_activities[0]"
    spec = require_object(AREA, raw_activities[0], where)
    reject_unknown(AREA, spec, ACTIVITY_INPUT_FIELDS, where)
    format_type = int_field(AREA, spec, "format_type", required=True, where=where)
    if format_type != CUSTOM_CODE_FORMAT:
        raise CCError.bad_request(
            AREA,
            f"{where}.format_type must be 5 (custom code email); the API cannot create "
            f"format_type {format_type}.",
        )
    headers = header_fields(data, spec, where)
    html = html_field(spec, where, required=True)
    if spec.get("physical_address_in_footer") is not None:
        footer = footer_field(spec["physical_address_in_footer"], where)
    else:
        footer = account_footer(data)
    campaign = EmailCampaign(
        campaign_id=new_id(),
        name=name,
        current_status="Draft",
        created_at=now,
        updated_at=now,
        sequence_id=data.take_sequence(),
    )
    for role in ("primary_email", "permalink"):
        activity = CampaignActivity(
            campaign_activity_id=new_id(),
            campaign_id=campaign.campaign_id,
            role=role,
            current_status="DRAFT",
            format_type=CUSTOM_CODE_FORMAT,
            html_content=html or "",
            physical_address_in_footer=dict(footer),
            **headers,
        )
        data.campaign_activities[activity.campaign_activity_id] = activity
        campaign.activity_ids.append(activity.campaign_activity_id)
    data.campaigns[campaign.campaign_id] = campaign
    return campaign_json(data, campaign)


@routes.operation("retrieveEmailCampaignsUsingGET")
def list_campaigns(ctx: Context) -> Any:
    data = ctx.account
    advance_campaigns(data, ctx.clock.now())
    req, start = effective_query(ctx.request, AREA)
    limit = limit_param(req, AREA, default=50, maximum=500)
    before = date_param(req, AREA, "before_date")
    after = date_param(req, AREA, "after_date")

    def keep(campaign: EmailCampaign) -> bool:
        if before is not None and not campaign.updated_at < before:
            return False
        return after is None or campaign.updated_at > after

    # Campaigns are never hard-deleted, so creation order gives stable cursor positions.
    ordered = sorted(data.campaigns.values(), key=lambda c: c.sequence_id)
    page, next_pos = take_page(ordered, start, limit, keep)
    body: dict[str, Any] = {"campaigns": [campaign_json(data, c, activities=False) for c in page]}
    links = next_links("/v3/emails", req.query_dict(), next_pos)
    if links:
        body["_links"] = links
    return body


@routes.operation("retrieveEmailCampaignUsingGET")
def get_campaign(ctx: Context) -> Any:
    data = ctx.account
    advance_campaigns(data, ctx.clock.now())
    return campaign_json(data, find_campaign(data, ctx.params["campaign_id"]))


@routes.operation("renameEmailCampaignUsingPATCH")
def rename_campaign(ctx: Context) -> Any:
    data, now = ctx.account, ctx.clock.now()
    advance_campaigns(data, now)
    campaign = find_campaign(data, ctx.params["campaign_id"])
    body = require_object(AREA, ctx.request.json(area=AREA))
    reject_unknown(AREA, body, {"name"})
    if campaign.current_status == "Removed":
        raise CCError.bad_request(AREA, "A Removed (deleted) email campaign cannot be renamed.")
    campaign.name = campaign_name(data, body, except_id=campaign.campaign_id)
    campaign.updated_at = now
    return campaign_json(data, campaign)


@routes.operation("removeEmailCampaignUsingDELETE")
def delete_campaign(ctx: Context) -> Any:
    data, now = ctx.account, ctx.clock.now()
    advance_campaigns(data, now)
    campaign = find_campaign(data, ctx.params["campaign_id"])
    if campaign.current_status == "Removed":
        raise CCError.not_found(
            AREA, f"Email campaign '{campaign.campaign_id}' is already deleted."
        )
    if campaign.current_status in ("Scheduled", "Executing"):
        raise CCError.bad_request(
            AREA,
            f"The email campaign is {campaign.current_status}; unschedule it before deleting it.",
        )
    for activity_id in campaign.activity_ids:
        activity = data.campaign_activities.get(activity_id)
        if activity is not None:
            activity.current_status = "REMOVED"
    campaign.current_status = "Removed"
    campaign.updated_at = now
    return None


@routes.operation("retrieveXrefMappingsUsingGET")
def campaign_xrefs(ctx: Context) -> Any:
    data = ctx.account
    raw = ctx.request.q("v2_email_campaign_ids")
    if raw is None or not raw.strip():
        raise CCError.bad_request(AREA, "v2_email_campaign_ids is required.")
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    if len(ids) > MAX_XREF_IDS:
        raise CCError.bad_request(
            AREA, f"v2_email_campaign_ids accepts at most {MAX_XREF_IDS} ids; got {len(ids)}."
        )
    for value in ids:
        if not value.isdigit():
            raise CCError.bad_request(
                AREA, f"v2_email_campaign_ids contains '{value}', which is not a V2 campaign id."
            )
    by_sequence = {c.sequence_id: c for c in data.campaigns.values()}
    xrefs = []
    for value in dict.fromkeys(ids):
        campaign = by_sequence.get(int(value))
        if campaign is None:
            continue
        primary = primary_activity(data, campaign)
        xref = {"v2_email_campaign_id": value, "campaign_id": campaign.campaign_id}
        if primary is not None:
            xref["campaign_activity_id"] = primary.campaign_activity_id
        xrefs.append(xref)
    return {"xrefs": xrefs}


# -- activities -----------------------------------------------------------------------
@routes.operation("retrieveEmailCampaignActivityUsingGET")
def get_activity(ctx: Context) -> Any:
    data = ctx.account
    advance_campaigns(data, ctx.clock.now())
    include = enum_csv_param(ctx.request, AREA, "include", INCLUDES)
    activity = find_activity(data, ctx.params["campaign_activity_id"])
    return activity_json(ctx, activity, include)


@routes.operation("updateEmailCampaignActivityUsingPUT")
def put_activity(ctx: Context) -> Any:
    data, now = ctx.account, ctx.clock.now()
    advance_campaigns(data, now)
    activity = find_activity(data, ctx.params["campaign_activity_id"])
    body = require_object(AREA, ctx.request.json(area=AREA))
    if activity.role != "primary_email":
        raise CCError.bad_request(
            AREA, f"Only primary_email activities can be updated; this one is {activity.role}."
        )
    if activity.current_status not in ("DRAFT", "DONE"):
        raise CCError.bad_request(
            AREA,
            f"The activity is {activity.current_status}; only DRAFT or DONE activities can be "
            "updated.",
        )
    reject_unknown(AREA, body, PUT_FIELDS)
    headers = header_fields(data, body, "")
    html = html_field(body, "", required=False)
    footer = None
    if body.get("physical_address_in_footer") is not None:
        footer = footer_field(body["physical_address_in_footer"], "")
    document_properties = None
    if body.get("document_properties") is not None:
        document_properties = document_properties_field(body["document_properties"])
    list_ids, segment_ids = recipients_fields(data, body)
    # Top-level properties are replaced (missing ones cleared); sub-resources only when sent.
    for target in _content_copies(data, activity):
        target.from_name = headers["from_name"]
        target.from_email = headers["from_email"]
        target.reply_to_email = headers["reply_to_email"]
        target.subject = headers["subject"]
        target.preheader = headers["preheader"]
        if html is not None:
            target.html_content = html
        if footer is not None:
            target.physical_address_in_footer = dict(footer)
        if document_properties is not None:
            target.document_properties = dict(document_properties)
    activity.contact_list_ids = list_ids
    activity.segment_ids = segment_ids
    campaign = data.campaigns.get(activity.campaign_id)
    if campaign is not None:
        campaign.updated_at = now
    return activity_json(ctx, activity, INCLUDES)


def _content_copies(data: AccountData, primary: CampaignActivity) -> list[CampaignActivity]:
    """The primary activity and its permalink, which shows the same content on the web."""
    out = [primary]
    campaign = data.campaigns.get(primary.campaign_id)
    if campaign is not None:
        for activity_id in campaign.activity_ids:
            other = data.campaign_activities.get(activity_id)
            if other is not None and other.role == "permalink":
                out.append(other)
    return out


# -- the permalink page -----------------------------------------------------------------
@routes.route("GET", "/permalink/{campaign_id}", "page")
def permalink_page(ctx: Context) -> Any:
    """The web version of a sent campaign, without personal details, as permalinks are."""
    campaign_id = ctx.params["campaign_id"].lower()
    for data in ctx.state.accounts.values():
        campaign = data.campaigns.get(campaign_id)
        if campaign is None or campaign.current_status == "Removed":
            continue
        advance_campaigns(data, ctx.clock.now())
        primary = primary_activity(data, campaign)
        if primary is not None and has_been_sent(primary):
            html = campaign_content.fill_variables(primary.html_content, {}, keep_unknown=False)
            return html_response(
                campaign_content.with_footer(html, primary.physical_address_in_footer)
            )
    return html_response("<!doctype html><title>Not found</title><p>No such email.</p>", 404)

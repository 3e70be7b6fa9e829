"""``client.email_campaigns``: email campaigns (``/emails``) and their activities, typed.

CC creates custom-code campaigns only (format 5): one activity with sender, subject and
HTML. The HTML must carry ``[[trackingImage]]`` (or CC cannot count opens), stay within
150,000 characters, and avoid ``[#``, ``${`` and ``<@`` (CC-V3-FACTS §6); ``create``
checks all that before sending. Sender and reply-to addresses must be confirmed account
emails (see ``client.account.emails``). Recipients (lists *or* one segment) are set on
the campaign's primary_email activity, which ``set_recipients`` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ccbridge._errors import InvalidArgumentError
from ccbridge._pagination import AsyncPaginator, Paginator
from ccbridge.models.email_campaigns import CampaignActivity, EmailCampaign, EmailPhysicalAddress
from ccbridge.resources._checks import (
    check_email,
    check_id,
    check_ids,
    check_int,
    check_int_range,
    check_text,
)
from ccbridge.resources._generated import AsyncEmailCampaignsOperations, EmailCampaignsOperations

NAME_MAX = 80
FROM_NAME_MAX = 100
EMAIL_MAX = 80
PREHEADER_MAX = 200
HTML_MAX = 150_000
TRACKING_IMAGE = "[[trackingImage]]"
FORBIDDEN_IN_HTML = ("[#", "${", "<@")
MAX_RECIPIENT_LISTS = 50
MAX_PAGE = 500
ACTIVITY_INCLUDES = (
    "physical_address_in_footer",
    "permalink_url",
    "html_content",
    "document_properties",
)
# What a PUT of an activity may carry (the rest of a GET's answer is read-only).
ACTIVITY_PUT_FIELDS = (
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
)


def _html(html_content: str) -> str:
    html = check_text("html_content", html_content, HTML_MAX, min_length=1)
    if TRACKING_IMAGE not in html:
        raise InvalidArgumentError(
            f"html_content must contain {TRACKING_IMAGE} (inside <body>) so CC can count opens"
        )
    for token in FORBIDDEN_IN_HTML:
        if token in html:
            raise InvalidArgumentError(f"html_content must not contain {token!r}")
    return html


def _footer(value: EmailPhysicalAddress | Mapping[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, EmailPhysicalAddress):
        return value.to_api()
    if isinstance(value, Mapping):
        return dict(value)
    raise InvalidArgumentError("physical_address_in_footer must be an EmailPhysicalAddress")


def create_body(
    name: str,
    *,
    subject: str,
    from_name: str,
    from_email: str,
    reply_to_email: str,
    html_content: str,
    preheader: str | None,
    physical_address_in_footer: EmailPhysicalAddress | Mapping[str, Any] | None,
) -> dict[str, Any]:
    activity: dict[str, Any] = {
        "format_type": 5,
        "from_name": check_text("from_name", from_name, FROM_NAME_MAX, min_length=1),
        "from_email": check_email("from_email", from_email, EMAIL_MAX),
        "reply_to_email": check_email("reply_to_email", reply_to_email, EMAIL_MAX),
        "subject": check_text("subject", subject, 1000, min_length=1),
        "html_content": _html(html_content),
    }
    if preheader is not None:
        activity["preheader"] = check_text("preheader", preheader, PREHEADER_MAX)
    footer = _footer(physical_address_in_footer)
    if footer is not None:
        activity["physical_address_in_footer"] = footer
    return {
        "name": check_text("name", name, NAME_MAX, min_length=1),
        "email_campaign_activities": [activity],
    }


def activity_put_body(activity: CampaignActivity) -> dict[str, Any]:
    """A PUT of the whole activity (CC clears top-level properties a PUT leaves out)."""
    if not isinstance(activity, CampaignActivity):
        raise InvalidArgumentError("activity must be a CampaignActivity (as get_activity returns)")
    data = activity.to_api()
    for required in ("from_name", "from_email", "reply_to_email", "subject"):
        if not data.get(required):
            raise InvalidArgumentError(f"activity.{required} is required by CC for an update")
    if data.get("contact_list_ids") and data.get("segment_ids"):
        raise InvalidArgumentError("an activity goes to lists or to a segment, not both")
    return {k: data[k] for k in ACTIVITY_PUT_FIELDS if k in data}


def with_recipients(
    activity: CampaignActivity, list_ids: Sequence[str] | None, segment_id: int | None
) -> CampaignActivity:
    if (list_ids is None) == (segment_id is None):
        raise InvalidArgumentError("give either list_ids or segment_id (CC cannot mix them)")
    changed = activity.model_copy()
    if list_ids is not None:
        changed.contact_list_ids = check_ids(
            "list_ids", list_ids, maximum=MAX_RECIPIENT_LISTS, required=True
        )
        changed.segment_ids = None
    else:
        changed.segment_ids = [check_int("segment_id", segment_id)]
        changed.contact_list_ids = None
    return changed


def _dates(before: datetime | str | None, after: datetime | str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in (("before_date", before), ("after_date", after)):
        if value is None:
            out[name] = None
        elif isinstance(value, datetime):
            if value.tzinfo is None:
                raise InvalidArgumentError(f"{name} must be timezone-aware")
            out[name] = value.isoformat()
        elif isinstance(value, str) and value:
            out[name] = value
        else:
            raise InvalidArgumentError(f"{name} must be a datetime or an ISO-8601 string")
    return out


def _include(include: Sequence[str] | None) -> str | None:
    if include is None:
        return None
    for item in include:
        if item not in ACTIVITY_INCLUDES:
            raise InvalidArgumentError(
                f"include must name some of {', '.join(ACTIVITY_INCLUDES)}; got {item!r}"
            )
    return ",".join(include)


def _parse_campaign(data: Any) -> EmailCampaign:
    return EmailCampaign.parse(data, source="GET /emails")


def _activity(data: Any, source: str) -> CampaignActivity:
    return CampaignActivity.parse(data, source=source)


class EmailCampaigns(EmailCampaignsOperations):
    """Sync operations on email campaigns."""

    def iter(
        self,
        *,
        before_date: datetime | str | None = None,
        after_date: datetime | str | None = None,
        limit: int | None = None,
    ) -> Paginator[EmailCampaign]:
        """Every campaign, deleted ones included (dates filter on ``updated_at``)."""
        query = _dates(before_date, after_date)
        query["limit"] = check_int_range("limit", limit, 1, MAX_PAGE) if limit else None
        return self._client._paginate_operation(
            "retrieveEmailCampaignsUsingGET",
            items_key="campaigns",
            query=query,
            parse_item=_parse_campaign,
        )

    def get(self, campaign_id: str) -> EmailCampaign:
        """A campaign with its activity ids (``primary_email_activity_id``, …)."""
        data = self.retrieve_email_campaign(check_id("campaign_id", campaign_id))
        return EmailCampaign.parse(data, source="GET /emails/{campaign_id}")

    def create(
        self,
        name: str,
        *,
        subject: str,
        from_name: str,
        from_email: str,
        reply_to_email: str,
        html_content: str,
        preheader: str | None = None,
        physical_address_in_footer: EmailPhysicalAddress | Mapping[str, Any] | None = None,
    ) -> EmailCampaign:
        """Create a custom-code campaign in Draft; ``ConflictError`` if the name is taken."""
        body = create_body(
            name,
            subject=subject,
            from_name=from_name,
            from_email=from_email,
            reply_to_email=reply_to_email,
            html_content=html_content,
            preheader=preheader,
            physical_address_in_footer=physical_address_in_footer,
        )
        return EmailCampaign.parse(self.create_email_campaign(body=body), source="POST /emails")

    def rename(self, campaign_id: str, name: str) -> EmailCampaign:
        data = self.rename_email_campaign(
            check_id("campaign_id", campaign_id),
            body={"name": check_text("name", name, NAME_MAX, min_length=1)},
        )
        return EmailCampaign.parse(data, source="PATCH /emails/{campaign_id}")

    def delete(self, campaign_id: str) -> None:
        """Remove the campaign (not allowed while it is scheduled)."""
        self.remove_email_campaign(check_id("campaign_id", campaign_id))

    def get_activity(
        self, campaign_activity_id: str, *, include: Sequence[str] | None = None
    ) -> CampaignActivity:
        data = self.retrieve_email_campaign_activity(
            check_id("campaign_activity_id", campaign_activity_id), include=_include(include)
        )
        return _activity(data, "GET /emails/activities/{campaign_activity_id}")

    def update_activity(self, activity: CampaignActivity) -> CampaignActivity:
        """Replace a primary_email activity (only while it is DRAFT or DONE)."""
        body = activity_put_body(activity)
        data = self.update_email_campaign_activity(activity.campaign_activity_id, body=body)
        return _activity(data, "PUT /emails/activities/{campaign_activity_id}")

    def set_recipients(
        self,
        campaign_activity_id: str,
        *,
        list_ids: Sequence[str] | None = None,
        segment_id: int | None = None,
    ) -> CampaignActivity:
        """Send the activity to these lists, or to one segment (read, change, write back)."""
        current = self.get_activity(campaign_activity_id, include=["html_content"])
        return self.update_activity(with_recipients(current, list_ids, segment_id))


class AsyncEmailCampaigns(AsyncEmailCampaignsOperations):
    """Async operations on email campaigns (the twins of ``EmailCampaigns``)."""

    def iter(
        self,
        *,
        before_date: datetime | str | None = None,
        after_date: datetime | str | None = None,
        limit: int | None = None,
    ) -> AsyncPaginator[EmailCampaign]:
        """Every campaign, deleted ones included."""
        query = _dates(before_date, after_date)
        query["limit"] = check_int_range("limit", limit, 1, MAX_PAGE) if limit else None
        return self._client._paginate_operation(
            "retrieveEmailCampaignsUsingGET",
            items_key="campaigns",
            query=query,
            parse_item=_parse_campaign,
        )

    async def get(self, campaign_id: str) -> EmailCampaign:
        """A campaign with its activity ids."""
        data = await self.retrieve_email_campaign(check_id("campaign_id", campaign_id))
        return EmailCampaign.parse(data, source="GET /emails/{campaign_id}")

    async def create(
        self,
        name: str,
        *,
        subject: str,
        from_name: str,
        from_email: str,
        reply_to_email: str,
        html_content: str,
        preheader: str | None = None,
        physical_address_in_footer: EmailPhysicalAddress | Mapping[str, Any] | None = None,
    ) -> EmailCampaign:
        """Create a custom-code campaign in Draft."""
        body = create_body(
            name,
            subject=subject,
            from_name=from_name,
            from_email=from_email,
            reply_to_email=reply_to_email,
            html_content=html_content,
            preheader=preheader,
            physical_address_in_footer=physical_address_in_footer,
        )
        return EmailCampaign.parse(
            await self.create_email_campaign(body=body), source="POST /emails"
        )

    async def rename(self, campaign_id: str, name: str) -> EmailCampaign:
        data = await self.rename_email_campaign(
            check_id("campaign_id", campaign_id),
            body={"name": check_text("name", name, NAME_MAX, min_length=1)},
        )
        return EmailCampaign.parse(data, source="PATCH /emails/{campaign_id}")

    async def delete(self, campaign_id: str) -> None:
        """Remove the campaign."""
        await self.remove_email_campaign(check_id("campaign_id", campaign_id))

    async def get_activity(
        self, campaign_activity_id: str, *, include: Sequence[str] | None = None
    ) -> CampaignActivity:
        data = await self.retrieve_email_campaign_activity(
            check_id("campaign_activity_id", campaign_activity_id), include=_include(include)
        )
        return _activity(data, "GET /emails/activities/{campaign_activity_id}")

    async def update_activity(self, activity: CampaignActivity) -> CampaignActivity:
        """Replace a primary_email activity."""
        body = activity_put_body(activity)
        data = await self.update_email_campaign_activity(activity.campaign_activity_id, body=body)
        return _activity(data, "PUT /emails/activities/{campaign_activity_id}")

    async def set_recipients(
        self,
        campaign_activity_id: str,
        *,
        list_ids: Sequence[str] | None = None,
        segment_id: int | None = None,
    ) -> CampaignActivity:
        """Send the activity to these lists, or to one segment."""
        current = await self.get_activity(campaign_activity_id, include=["html_content"])
        return await self.update_activity(with_recipients(current, list_ids, segment_id))

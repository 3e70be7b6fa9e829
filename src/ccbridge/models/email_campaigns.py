"""Email campaigns (``/emails``), their activities, schedules, previews and send history.

A campaign is a container; what is sent is its ``primary_email`` campaign activity (CC also
creates a ``permalink`` activity with every campaign). Sending, scheduling and recipients
all work on the activity, so ``EmailCampaign`` offers the activity ids directly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ccbridge.models._base import CCModel


class CampaignActivityRef(CCModel):
    """A campaign's pointer to one of its activities and that activity's role."""

    campaign_activity_id: str
    role: str | None = None


class EmailCampaign(CCModel):
    """An email campaign; ``campaign_activities`` only on a single campaign's GET/POST."""

    campaign_id: str
    name: str | None = None
    current_status: str | None = None
    type: str | None = None
    type_code: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    campaign_activities: list[CampaignActivityRef] | None = None

    def activity_id(self, role: str) -> str | None:
        """The id of the campaign's activity with this role, or None."""
        for ref in self.campaign_activities or ():
            if ref.role == role:
                return ref.campaign_activity_id
        return None

    @property
    def primary_email_activity_id(self) -> str | None:
        """The activity that is actually sent, scheduled and tested."""
        return self.activity_id("primary_email")

    @property
    def permalink_activity_id(self) -> str | None:
        return self.activity_id("permalink")


class EmailPhysicalAddress(CCModel):
    """The postal address printed in an email's footer (CAN-SPAM)."""

    address_line1: str | None = None
    address_line2: str | None = None
    address_line3: str | None = None
    address_optional: str | None = None
    city: str | None = None
    country_code: str | None = None
    country_name: str | None = None
    organization_name: str | None = None
    postal_code: str | None = None
    state_code: str | None = None
    state_name: str | None = None
    state_non_us_name: str | None = None


class CampaignActivity(CCModel):
    """A campaign activity: content, sender, and recipients (lists *or* one segment)."""

    campaign_activity_id: str
    campaign_id: str | None = None
    role: str | None = None
    current_status: str | None = None
    format_type: int | None = None
    from_name: str | None = None
    from_email: str | None = None
    reply_to_email: str | None = None
    subject: str | None = None
    preheader: str | None = None
    html_content: str | None = None
    template_id: str | None = None
    permalink_url: str | None = None
    contact_list_ids: list[str] | None = None
    segment_ids: list[int] | None = None
    physical_address_in_footer: EmailPhysicalAddress | None = None
    document_properties: dict[str, Any] | None = None


class EmailSchedule(CCModel):
    """When an activity is scheduled to be sent."""

    scheduled_date: datetime | None = None


class CampaignPreview(CCModel):
    """The rendered preview of an activity (HTML and generated text)."""

    campaign_activity_id: str | None = None
    from_email: str | None = None
    from_name: str | None = None
    reply_to_email: str | None = None
    subject: str | None = None
    preheader: str | None = None
    preview_html_content: str | None = None
    preview_text_content: str | None = None


class SendHistoryEntry(CCModel):
    """One send of an activity: how many contacts, and whether it completed."""

    send_id: int | None = None
    contact_list_ids: list[str] | None = None
    segment_ids: list[int] | None = None
    count: int | None = None
    run_date: datetime | None = None
    send_status: str | None = None
    reason_code: int | None = None

"""Pydantic models of CC's V3 resources, one module per resource group.

Models keep fields CC adds without notice, accept missing optional fields, and never do
I/O. ``Model.parse(data)`` raises ``ccbridge.ResponseParseError`` (with the body) for data
that cannot be read as the model.
"""

from __future__ import annotations

from ccbridge.models._base import CCModel, Link, PageLinks
from ccbridge.models.account import (
    AccountEmail,
    AccountPhysicalAddress,
    AccountSummary,
    CompanyLogo,
)
from ccbridge.models.bulk_activities import (
    TERMINAL_STATES,
    ActivitiesPage,
    Activity,
    ActivityLinks,
    ActivityStatus,
)
from ccbridge.models.contact_lists import ContactList
from ccbridge.models.contact_tags import Tag
from ccbridge.models.contacts import (
    Contact,
    ContactsCounts,
    ContactsPage,
    CustomFieldValue,
    EmailAddress,
    Note,
    PhoneNumber,
    SignUpResult,
    SmsChannel,
    SmsConsent,
    StreetAddress,
)
from ccbridge.models.custom_fields import CustomField, CustomFieldChoice, CustomFieldMetadata
from ccbridge.models.email_campaigns import (
    CampaignActivity,
    CampaignActivityRef,
    CampaignPreview,
    EmailCampaign,
    EmailPhysicalAddress,
    EmailSchedule,
    SendHistoryEntry,
)
from ccbridge.models.reporting import (
    EmailCampaignStats,
    EmailCampaignStatsReport,
    EmailCampaignSummariesPage,
    EmailCampaignSummary,
    EmailPercents,
    EmailStats,
    StatsError,
    SummaryPercents,
    UniqueEmailCounts,
)
from ccbridge.models.segments import Segment

__all__ = [
    "TERMINAL_STATES",
    "AccountEmail",
    "AccountPhysicalAddress",
    "AccountSummary",
    "ActivitiesPage",
    "Activity",
    "ActivityLinks",
    "ActivityStatus",
    "CCModel",
    "CampaignActivity",
    "CampaignActivityRef",
    "CampaignPreview",
    "CompanyLogo",
    "Contact",
    "ContactList",
    "ContactsCounts",
    "ContactsPage",
    "CustomField",
    "CustomFieldChoice",
    "CustomFieldMetadata",
    "CustomFieldValue",
    "EmailAddress",
    "EmailCampaign",
    "EmailCampaignStats",
    "EmailCampaignStatsReport",
    "EmailCampaignSummariesPage",
    "EmailCampaignSummary",
    "EmailPercents",
    "EmailPhysicalAddress",
    "EmailSchedule",
    "EmailStats",
    "Link",
    "Note",
    "PageLinks",
    "PhoneNumber",
    "Segment",
    "SendHistoryEntry",
    "SignUpResult",
    "SmsChannel",
    "SmsConsent",
    "StatsError",
    "StreetAddress",
    "SummaryPercents",
    "Tag",
    "UniqueEmailCounts",
]

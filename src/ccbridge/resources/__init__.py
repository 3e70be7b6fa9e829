"""One resource group per swagger tag (or family of tags), as ``Client`` attributes.

``_generated.py`` holds a typed method for each of CC's operations (written by
``tools/gen_client.py``); the modules named after the groups subclass those classes with
hand-written additions. Groups without a module of their own use the generated classes.
"""

from __future__ import annotations

from ccbridge.resources._base import AsyncResource, SyncResource
from ccbridge.resources._generated import (
    AsyncAutomationsOperations,
    AsyncEmailCampaignsAbTestsOperations,
    AsyncEventsOperations,
    AsyncSocialOperations,
    AsyncTechnologyPartnersOperations,
    AsyncTechnologyPartnersWebhooksOperations,
    AutomationsOperations,
    EmailCampaignsAbTestsOperations,
    EventsOperations,
    SocialOperations,
    TechnologyPartnersOperations,
    TechnologyPartnersWebhooksOperations,
)
from ccbridge.resources.account import Account, AsyncAccount
from ccbridge.resources.bulk_activities import AsyncBulkActivities, BulkActivities
from ccbridge.resources.contact_lists import AsyncContactLists, ContactLists
from ccbridge.resources.contact_tags import AsyncContactTags, ContactTags
from ccbridge.resources.contacts import AsyncContacts, Contacts
from ccbridge.resources.custom_fields import AsyncCustomFields, CustomFields
from ccbridge.resources.email_campaigns import AsyncEmailCampaigns, EmailCampaigns
from ccbridge.resources.email_scheduling import AsyncEmailScheduling, EmailScheduling
from ccbridge.resources.reporting import AsyncReporting, Reporting
from ccbridge.resources.segments import AsyncSegments, Segments

SYNC_GROUPS: dict[str, type[SyncResource]] = {
    "account": Account,
    "contacts": Contacts,
    "contact_lists": ContactLists,
    "contact_tags": ContactTags,
    "custom_fields": CustomFields,
    "segments": Segments,
    "bulk_activities": BulkActivities,
    "email_campaigns": EmailCampaigns,
    "ab_tests": EmailCampaignsAbTestsOperations,
    "email_scheduling": EmailScheduling,
    "reporting": Reporting,
    "automations": AutomationsOperations,
    "events": EventsOperations,
    "social": SocialOperations,
    "partner": TechnologyPartnersOperations,
    "webhooks": TechnologyPartnersWebhooksOperations,
}
"""Client attribute -> the class behind it (sync)."""

ASYNC_GROUPS: dict[str, type[AsyncResource]] = {
    "account": AsyncAccount,
    "contacts": AsyncContacts,
    "contact_lists": AsyncContactLists,
    "contact_tags": AsyncContactTags,
    "custom_fields": AsyncCustomFields,
    "segments": AsyncSegments,
    "bulk_activities": AsyncBulkActivities,
    "email_campaigns": AsyncEmailCampaigns,
    "ab_tests": AsyncEmailCampaignsAbTestsOperations,
    "email_scheduling": AsyncEmailScheduling,
    "reporting": AsyncReporting,
    "automations": AsyncAutomationsOperations,
    "events": AsyncEventsOperations,
    "social": AsyncSocialOperations,
    "partner": AsyncTechnologyPartnersOperations,
    "webhooks": AsyncTechnologyPartnersWebhooksOperations,
}
"""Client attribute -> the class behind it (async)."""

__all__ = [
    "ASYNC_GROUPS",
    "SYNC_GROUPS",
    "Account",
    "AsyncAccount",
    "AsyncBulkActivities",
    "AsyncContactLists",
    "AsyncContactTags",
    "AsyncContacts",
    "AsyncCustomFields",
    "AsyncEmailCampaigns",
    "AsyncEmailScheduling",
    "AsyncReporting",
    "AsyncResource",
    "AsyncSegments",
    "BulkActivities",
    "ContactLists",
    "ContactTags",
    "Contacts",
    "CustomFields",
    "EmailCampaigns",
    "EmailScheduling",
    "Reporting",
    "Segments",
    "SyncResource",
]

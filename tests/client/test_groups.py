"""Every core resource group answers through both clients (the plugin's ``cc_client`` and
``cc_async_client``), with each response checked against CC's swagger by the fixtures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ccbridge import AsyncClient, Client


def _campaign_body(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "email_campaign_activities": [
            {
                "format_type": 5,
                "from_name": "Olive",
                "from_email": "owner@example.com",
                "reply_to_email": "owner@example.com",
                "subject": "Hello",
                "html_content": "<html><body>Hi [[trackingImage]]</body></html>",
            }
        ],
    }


READS: dict[str, tuple[str, str]] = {
    # group: (method, the key every answer of it has)
    "account": ("get_account_by_id", "organization_name"),
    "contacts": ("get_contacts", "contacts"),
    "contact_lists": ("get_lists", "lists"),
    "contact_tags": ("get_tags", "tags"),
    "custom_fields": ("get_custom_fields", "custom_fields"),
    "segments": ("get_account_segments", "segments"),
    "bulk_activities": ("get_activity_status_collection", "activities"),
    "email_campaigns": ("retrieve_email_campaigns", "campaigns"),
    "reporting": ("get_all_bulk_email_campaign_summaries", "bulk_email_campaign_summaries"),
}


@pytest.mark.parametrize("group", sorted(READS))
def test_sync_group_reads(cc_client: Client, group: str) -> None:
    method, key = READS[group]
    answer = getattr(getattr(cc_client, group), method)()
    assert key in answer


@pytest.mark.parametrize("group", sorted(READS))
async def test_async_group_reads(cc_async_client: AsyncClient, group: str) -> None:
    method, key = READS[group]
    answer = await getattr(getattr(cc_async_client, group), method)()
    assert key in answer


def _primary_activity(campaign: dict[str, Any]) -> str:
    return next(
        a["campaign_activity_id"]
        for a in campaign["campaign_activities"]
        if a["role"] == "primary_email"
    )


def test_sync_email_scheduling_round_trip(cc_client: Client) -> None:
    campaign = cc_client.email_campaigns.create_email_campaign(body=_campaign_body("Spring"))
    activity_id = _primary_activity(campaign)
    assert cc_client.email_scheduling.retrieve_email_schedules(activity_id) == []


async def test_async_email_scheduling_round_trip(cc_async_client: AsyncClient) -> None:
    campaigns = cc_async_client.email_campaigns
    campaign = await campaigns.create_email_campaign(body=_campaign_body("Summer"))
    schedules = await cc_async_client.email_scheduling.retrieve_email_schedules(
        _primary_activity(campaign)
    )
    assert schedules == []


WRITES: list[Callable[[Client], Any]] = [
    lambda c: c.contact_tags.post_tag(body={"name": "vip"})["tag_id"],
    lambda c: c.custom_fields.post_custom_fields(body={"label": "Shoe size", "type": "string"})[
        "custom_field_id"
    ],
    lambda c: c.contacts.create_or_update_contact(
        body={
            "email_address": "fan@example.com",
            "list_memberships": [c.contact_lists.get_lists()["lists"][0]["list_id"]],
        }
    )["contact_id"],
]


@pytest.mark.parametrize("write", WRITES)
def test_sync_writes_return_new_ids(cc_client: Client, write: Callable[[Client], Any]) -> None:
    assert isinstance(write(cc_client), str)


async def test_async_find_by_email(cc_async_client: AsyncClient) -> None:
    owner = await cc_async_client.contacts.find_by_email("owner@example.com")
    nobody = await cc_async_client.contacts.find_by_email("nobody@example.com")
    assert owner is not None and owner["email_address"]["address"] == "owner@example.com"
    assert nobody is None

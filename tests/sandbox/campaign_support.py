"""Shared set-up for the email campaign, scheduling and reporting tests.

Contacts and lists are put straight into the account's state (the contacts API is tested
elsewhere); campaigns are created and sent through the API, as an integration would.
"""

from __future__ import annotations

from typing import Any

import httpx

from ccbridge.sandbox import Sandbox
from ccbridge.sandbox.state import AccountData, Contact, ContactList, EmailAddress, new_id

OWNER = "owner@example.com"  # the cc_account login email, CONFIRMED by the seed
HTML = (
    "<html><head><title>News</title><style>p {color: red}</style></head><body>"
    '<h1>Hello [[FIRSTNAME OR "Friend"]]</h1>'
    '<p>Read <a href="https://example.com/news">the news</a> &amp; more.</p>'
    '<p><a href="https://example.com/shop">Shop</a></p>'
    "[[trackingImage]]</body></html>"
)
SEND_SECONDS = 10  # comfortably past the time a send spends EXECUTING


def activity_input(**overrides: Any) -> dict[str, Any]:
    activity: dict[str, Any] = {
        "format_type": 5,
        "from_name": "Example Org",
        "from_email": OWNER,
        "reply_to_email": OWNER,
        "subject": "Our news",
        "html_content": HTML,
    }
    activity.update(overrides)
    return {k: v for k, v in activity.items() if v is not None}


def campaign_body(name: str = "Spring news", **overrides: Any) -> dict[str, Any]:
    return {"name": name, "email_campaign_activities": [activity_input(**overrides)]}


def create_campaign(http: httpx.Client, name: str = "Spring news", **overrides: Any) -> Any:
    response = http.post("/emails", json=campaign_body(name, **overrides))
    assert response.status_code == 200, response.text
    return response.json()


def activity_id(campaign: dict[str, Any], role: str = "primary_email") -> str:
    return str(
        next(
            a["campaign_activity_id"] for a in campaign["campaign_activities"] if a["role"] == role
        )
    )


def new_list(sandbox: Sandbox, account: AccountData, name: str) -> str:
    now = sandbox.clock.now()
    contact_list = ContactList(
        list_id=new_id(),
        name=name,
        created_at=now,
        updated_at=now,
        sequence_id=account.take_sequence(),
    )
    account.lists[contact_list.list_id] = contact_list
    return contact_list.list_id


def add_contact(
    sandbox: Sandbox,
    account: AccountData,
    email: str,
    list_ids: list[str],
    *,
    permission: str = "implicit",
    deleted: bool = False,
) -> Contact:
    now = sandbox.clock.now()
    contact = Contact(
        contact_id=new_id(),
        sequence_id=account.take_sequence(),
        created_at=now,
        updated_at=now,
        create_source="Account",
        email_address=EmailAddress(
            address=email, permission_to_send=permission, created_at=now, updated_at=now
        ),
        first_name=email.split("@")[0].title(),
        list_memberships=list(list_ids),
        deleted_at=now if deleted else None,
    )
    account.add_contact(contact)
    return contact


def target_lists(http: httpx.Client, campaign_activity_id: str, list_ids: list[str]) -> Any:
    response = http.put(
        f"/emails/activities/{campaign_activity_id}",
        json={
            "from_name": "Example Org",
            "from_email": OWNER,
            "reply_to_email": OWNER,
            "subject": "Our news",
            "contact_list_ids": list_ids,
        },
    )
    assert response.status_code == 200, response.text
    return response.json()


def send_now(http: httpx.Client, sandbox: Sandbox, campaign_activity_id: str) -> None:
    """Send at once and let the sandbox clock run until the send is over."""
    response = http.post(
        f"/emails/activities/{campaign_activity_id}/schedules", json={"scheduled_date": "0"}
    )
    assert response.status_code == 201, response.text
    sandbox.advance_clock(SEND_SECONDS)


def sent_campaign(
    http: httpx.Client, sandbox: Sandbox, account: AccountData, recipients: int, name: str
) -> tuple[dict[str, Any], str, list[Contact]]:
    """A campaign sent to a fresh list of ``recipients`` contacts."""
    list_id = new_list(sandbox, account, f"{name} list")
    contacts = [
        add_contact(sandbox, account, f"{name.lower().replace(' ', '')}{n}@example.net", [list_id])
        for n in range(recipients)
    ]
    campaign = create_campaign(http, name)
    primary = activity_id(campaign)
    target_lists(http, primary, [list_id])
    send_now(http, sandbox, primary)
    return campaign, primary, contacts

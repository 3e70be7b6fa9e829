"""Creating applications and accounts the way CC provisions them.

A new account comes with its owner as a contact, a default list, the login email as a
CONFIRMED account email (so campaigns can be sent from it), and a physical address.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from ccbridge.sandbox.state import (
    Account,
    AccountData,
    AccountEmail,
    App,
    Contact,
    ContactList,
    EmailAddress,
    SandboxState,
    new_id,
)

CONTACT_NAME_MAX = 50


def create_app(
    state: SandboxState,
    now: datetime,
    *,
    name: str,
    redirect_uris: list[str],
    refresh_token_mode: str = "rotating",
    device_flow: bool = True,
    client_id: str | None = None,
    client_secret: str | None = None,
) -> App:
    app = App(
        client_id=client_id or new_id(),
        client_secret=client_secret or secrets.token_urlsafe(24),
        name=name,
        redirect_uris=list(redirect_uris),
        refresh_token_mode=refresh_token_mode,
        device_flow=device_flow,
        created_at=now,
    )
    state.apps[app.client_id] = app
    return app


def create_account(
    state: SandboxState,
    now: datetime,
    *,
    email: str,
    password: str,
    organization_name: str,
    first_name: str,
    last_name: str,
    account_id: str | None = None,
) -> AccountData:
    account = Account(
        account_id=account_id or new_id(),
        login_email=email,
        password=password,
        organization_name=organization_name,
        first_name=first_name,
        last_name=last_name,
        created_at=now,
        physical_address={
            "address_line1": "123 Main Street",
            "city": "Waltham",
            "state_code": "MA",
            "postal_code": "02451",
            "country_code": "US",
        },
        emails=[
            AccountEmail(
                email_id=1,
                email_address=email,
                confirm_status="CONFIRMED",
                confirm_time=now,
                confirm_source_type="SITE_OWNER",
                roles=["CONTACT", "BILLING", "REPLY_TO", "JOURNALING"],
            )
        ],
    )
    data = AccountData(account=account)
    default_list = ContactList(
        list_id=new_id(),
        name="General Interest",
        created_at=now,
        updated_at=now,
        description="The default list of a new account",
        sequence_id=data.take_sequence(),
    )
    data.lists[default_list.list_id] = default_list
    owner = Contact(
        contact_id=new_id(),
        sequence_id=data.take_sequence(),
        created_at=now,
        updated_at=now,
        create_source="Account",
        email_address=EmailAddress(
            address=email,
            permission_to_send="implicit",
            created_at=now,
            updated_at=now,
            opt_in_source="Account",
            opt_in_date=now,
        ),
        # The owner is also a contact, and CC caps contact names at 50 characters.
        first_name=first_name[:CONTACT_NAME_MAX],
        last_name=last_name[:CONTACT_NAME_MAX],
        company_name=organization_name[:CONTACT_NAME_MAX],
        list_memberships=[default_list.list_id],
    )
    data.add_contact(owner)
    state.accounts[account.account_id] = data
    state.logins[email.strip().lower()] = account.account_id
    return data

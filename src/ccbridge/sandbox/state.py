"""Everything the sandbox remembers, as plain dataclasses.

One ``SandboxState`` holds the registered applications (client_ids), the OAuth grants,
and one ``AccountData`` per emulated CC account. Resource modules read and change these
objects and render them to CC's JSON themselves; nothing here does I/O. The whole tree is
picklable so ``--data FILE`` can persist it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SCOPES = ("contact_data", "campaign_data", "account_read", "account_update", "billing_data")
"""Resource scopes CC grants; ``offline_access`` is the extra scope that yields a refresh token."""


def new_id() -> str:
    return str(uuid.uuid4())


# -- applications and OAuth ----------------------------------------------------
@dataclass
class App:
    """A registered CC application (an API key / client_id)."""

    client_id: str
    client_secret: str
    name: str
    redirect_uris: list[str]
    refresh_token_mode: str = "rotating"  # or "long_lived"
    device_flow: bool = True
    created_at: datetime | None = None


@dataclass
class AuthCode:
    code: str
    client_id: str
    account_id: str
    redirect_uri: str
    scope: str
    expires_at: float
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    used: bool = False
    family_id: str | None = None  # the token family minted from this code (revoked on reuse)


@dataclass
class RefreshTokenRecord:
    token: str
    client_id: str
    account_id: str
    scope: str
    family_id: str  # every token descended from one consent shares a family
    issued_at: float
    last_used_at: float
    revoked: bool = False
    public_client: bool = False  # issued with no client secret (PKCE, device flow)


@dataclass
class AccessTokenRecord:
    jti: str
    client_id: str
    account_id: str
    scope: str
    expires_at: float
    family_id: str | None = None
    revoked: bool = False


@dataclass
class DeviceAuthorization:
    device_code: str
    user_code: str
    client_id: str
    scope: str
    expires_at: float
    interval: int = 5
    status: str = "pending"  # pending | approved | denied | used
    account_id: str | None = None
    last_poll_at: float | None = None


# -- account resources ------------------------------------------------------------
@dataclass
class AccountEmail:
    email_id: int
    email_address: str
    confirm_status: str  # CONFIRMED | UNCONFIRMED
    confirm_time: datetime | None = None
    confirm_source_type: str | None = None
    roles: list[str] = field(default_factory=list)
    pending_roles: list[str] = field(default_factory=list)


@dataclass
class Account:
    account_id: str  # the CC account identity ("encoded_account_id" and JWT platform_user_id)
    login_email: str
    password: str
    organization_name: str
    first_name: str
    last_name: str
    created_at: datetime
    physical_address: dict[str, Any] = field(default_factory=dict)
    emails: list[AccountEmail] = field(default_factory=list)
    phone: str = ""
    website: str = ""
    time_zone_id: str = "US/Eastern"
    country_code: str = "US"
    state_code: str = "MA"
    confirmed_opt_in: bool = False
    contact_email: str | None = None  # the owner's contact address; None means login_email
    organization_phone: str = ""
    company_logo: dict[str, str] | None = None  # CC's CompanyLogo {url, external_url, internal_id}


@dataclass(slots=True)
class EmailAddress:
    address: str
    permission_to_send: str
    created_at: datetime
    updated_at: datetime
    opt_in_source: str | None = None
    opt_in_date: datetime | None = None
    opt_out_source: str | None = None
    opt_out_date: datetime | None = None
    opt_out_reason: str | None = None
    confirm_status: str = "off"


@dataclass(slots=True)
class Contact:
    contact_id: str
    sequence_id: int  # the V2-era numeric id, for contact_id_xrefs
    created_at: datetime
    updated_at: datetime
    create_source: str
    email_address: EmailAddress | None = None
    first_name: str | None = None
    last_name: str | None = None
    job_title: str | None = None
    company_name: str | None = None
    birthday_month: int | None = None
    birthday_day: int | None = None
    anniversary: str | None = None
    update_source: str | None = None
    deleted_at: datetime | None = None
    custom_fields: list[dict[str, Any]] = field(default_factory=list)
    phone_numbers: list[dict[str, Any]] = field(default_factory=list)
    street_addresses: list[dict[str, Any]] = field(default_factory=list)
    list_memberships: list[str] = field(default_factory=list)
    taggings: list[str] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    sms_channel: dict[str, Any] | None = None
    resubscribe_sent: bool = False
    resubscribe_list_ids: list[str] = field(default_factory=list)  # lists awaiting confirmation


@dataclass
class ContactList:
    list_id: str
    name: str
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    favorite: bool = False
    deleted_at: datetime | None = None
    sequence_id: int = 0


@dataclass
class Tag:
    tag_id: str
    name: str
    created_at: datetime
    updated_at: datetime
    tag_source: str | None = None


@dataclass
class CustomField:
    custom_field_id: str
    label: str
    name: str
    type: str
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any] | None = None
    version: int | None = None
    choices: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Segment:
    segment_id: int
    name: str
    segment_criteria: str
    created_at: datetime
    edited_at: datetime
    deleted_at: datetime | None = None


@dataclass
class Activity:
    """A bulk activity. ``kind`` is CC's endpoint name (``contacts_json_import``, ...)."""

    activity_id: str
    kind: str
    state: str  # initialized | processing | completed | cancelled | failed | timed_out
    created_at: datetime
    updated_at: datetime
    items_total: int
    items_per_second: float
    started_at: datetime | None = None
    completed_at: datetime | None = None
    items_completed: int = 0
    percent_done: int = 0
    activity_errors: list[Any] = field(default_factory=list)
    status: dict[str, Any] = field(default_factory=dict)  # the per-type counters
    source_file_name: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)  # whatever the worker needs
    fail_with: str | None = None  # set by an injected fault
    applied: bool = False


@dataclass
class CampaignActivity:
    campaign_activity_id: str
    campaign_id: str
    role: str  # primary_email | permalink
    current_status: str  # DRAFT | SCHEDULED | EXECUTING | DONE | ERROR | REMOVED
    format_type: int = 5
    from_name: str = ""
    from_email: str = ""
    reply_to_email: str = ""
    subject: str = ""
    preheader: str | None = None
    html_content: str = ""
    physical_address_in_footer: dict[str, Any] | None = None
    document_properties: dict[str, Any] | None = None
    contact_list_ids: list[str] = field(default_factory=list)
    segment_ids: list[int] = field(default_factory=list)
    scheduled_date: datetime | None = None
    status_before_schedule: str | None = None
    send_history: list[dict[str, Any]] = field(default_factory=list)
    tracking: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)
    pending_send: dict[str, Any] | None = None  # the recipients snapshot while EXECUTING


@dataclass
class EmailCampaign:
    campaign_id: str
    name: str
    current_status: str  # Draft | Scheduled | Executing | Done | Error | Removed
    created_at: datetime
    updated_at: datetime
    type: str = "CUSTOM_CODE_EMAIL"
    type_code: int = 26
    activity_ids: list[str] = field(default_factory=list)
    sequence_id: int = 0
    last_sent_date: datetime | None = None


@dataclass
class AccountData:
    """Everything stored inside one emulated CC account."""

    account: Account
    contacts: dict[str, Contact] = field(default_factory=dict)
    contact_order: list[str] = field(default_factory=list)  # creation order, for cursors
    email_index: dict[str, str] = field(default_factory=dict)  # lower(email) -> contact_id
    lists: dict[str, ContactList] = field(default_factory=dict)
    tags: dict[str, Tag] = field(default_factory=dict)
    custom_fields: dict[str, CustomField] = field(default_factory=dict)
    segments: dict[int, Segment] = field(default_factory=dict)
    activities: dict[str, Activity] = field(default_factory=dict)
    exports: dict[str, str] = field(default_factory=dict)  # activity_id -> CSV text
    campaigns: dict[str, EmailCampaign] = field(default_factory=dict)
    campaign_activities: dict[str, CampaignActivity] = field(default_factory=dict)
    test_sends: dict[str, int] = field(default_factory=dict)  # YYYY-MM-DD -> recipients
    next_sequence: int = 1

    def take_sequence(self) -> int:
        value = self.next_sequence
        self.next_sequence += 1
        return value

    # -- contact indexes ----------------------------------------------------
    def add_contact(self, contact: Contact) -> None:
        self.contacts[contact.contact_id] = contact
        self.contact_order.append(contact.contact_id)
        if contact.email_address is not None:
            self.email_index[contact.email_address.address.lower()] = contact.contact_id

    def contact_by_email(self, address: str) -> Contact | None:
        cid = self.email_index.get(address.strip().lower())
        return self.contacts.get(cid) if cid else None

    def change_contact_email(self, contact: Contact, new_address: str | None) -> None:
        """Keep the email index right when a contact's address changes or is removed."""
        if contact.email_address is not None:
            self.email_index.pop(contact.email_address.address.lower(), None)
        if new_address is not None:
            self.email_index[new_address.lower()] = contact.contact_id

    def confirmed_emails(self) -> set[str]:
        return {
            e.email_address.lower() for e in self.account.emails if e.confirm_status == "CONFIRMED"
        }


@dataclass
class SandboxSettings:
    rate_limits: bool = True
    per_second: int = 4
    per_day: int = 10_000
    token_per_second: int = 1
    activity_items_per_second: float = 5_000.0
    max_queued_activities: int = 1_000
    code_lifetime: int = 300
    access_token_lifetime: int = 86_400
    implicit_token_lifetime: int = 28_800
    refresh_idle_lifetime: int = 180 * 86_400
    device_code_lifetime: int = 600
    device_poll_interval: int = 5


@dataclass
class SandboxState:
    settings: SandboxSettings = field(default_factory=SandboxSettings)
    apps: dict[str, App] = field(default_factory=dict)
    accounts: dict[str, AccountData] = field(default_factory=dict)
    logins: dict[str, str] = field(default_factory=dict)  # lower(login email) -> account_id
    auth_codes: dict[str, AuthCode] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshTokenRecord] = field(default_factory=dict)
    access_tokens: dict[str, AccessTokenRecord] = field(default_factory=dict)  # by jti
    device_authorizations: dict[str, DeviceAuthorization] = field(default_factory=dict)
    browser_sessions: dict[str, str] = field(default_factory=dict)  # session id -> account_id
    clock_offset: float = 0.0

    def account_by_login(self, email: str) -> AccountData | None:
        account_id = self.logins.get(email.strip().lower())
        return self.accounts.get(account_id) if account_id else None

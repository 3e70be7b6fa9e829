"""Contacts as CC returns them (``ContactResource`` and its sub-resources).

Sub-resources (``custom_fields``, ``phone_numbers``, ``street_addresses``,
``list_memberships``, ``taggings``, ``notes``, ``sms_channel``) come back only when asked
for with ``include=`` (CC-V3-FACTS §3.1), so on a model they are ``None`` when CC did not
send them and a (possibly empty) list when it did. That difference matters: a PUT leaves
omitted sub-resources alone, so ``client.contacts.update`` sends only the ones present.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from ccbridge.models._base import CCModel, LenientDate, PageLinks, links_field


class EmailAddress(CCModel):
    """A contact's email address and its permission state."""

    address: str
    permission_to_send: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    opt_in_source: str | None = None
    opt_in_date: datetime | None = None
    opt_out_source: str | None = None
    opt_out_date: datetime | None = None
    opt_out_reason: str | None = None
    confirm_status: str | None = None


class PhoneNumber(CCModel):
    """One of a contact's (at most three) phone numbers."""

    phone_number_id: str | None = None
    phone_number: str | None = None
    kind: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    create_source: str | None = None
    update_source: str | None = None


class StreetAddress(CCModel):
    """One of a contact's (at most three) street addresses; ``kind`` is home, work or other."""

    kind: str
    street_address_id: str | None = None
    street: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class CustomFieldValue(CCModel):
    """A contact's value for one custom field of the account."""

    custom_field_id: str
    value: str | None = None
    choice_ids: list[str] | None = None


class Note(CCModel):
    """A note about a contact (CC keeps at most 150, newest first)."""

    note_id: str | None = None
    created_at: datetime | None = None
    content: str | None = None


class SmsConsent(CCModel):
    """The contact's consent to receive SMS of one type (``promotional_sms``)."""

    sms_consent_permission: str | None = None
    consent_type: str | None = None
    opt_in_date: datetime | None = None
    opt_out_date: datetime | None = None
    advertised_frequency: str | None = None
    advertised_interval: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class SmsChannel(CCModel):
    """A contact's SMS number and consents."""

    sms_channel_id: str | None = None
    sms_address: str | None = None
    dial_code: str | None = None
    country_code: str | None = None
    create_source: str | None = None
    update_source: str | None = None
    sms_channel_consents: list[SmsConsent] | None = None


class Contact(CCModel):
    """A CC contact. Build one to import or create, or read one CC returned."""

    contact_id: str | None = None
    email_address: EmailAddress | None = None
    first_name: str | None = None
    last_name: str | None = None
    job_title: str | None = None
    company_name: str | None = None
    birthday_month: int | None = None
    birthday_day: int | None = None
    anniversary: str | None = None
    create_source: str | None = None
    update_source: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deleted_at: LenientDate | None = None
    custom_fields: list[CustomFieldValue] | None = None
    phone_numbers: list[PhoneNumber] | None = None
    street_addresses: list[StreetAddress] | None = None
    list_memberships: list[str] | None = None
    taggings: list[str] | None = None
    notes: list[Note] | None = None
    sms_channel: SmsChannel | None = None

    @property
    def email(self) -> str | None:
        """The email address itself, or None for a contact without one."""
        return self.email_address.address if self.email_address is not None else None

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def permission_to_send(self) -> str | None:
        return self.email_address.permission_to_send if self.email_address else None


class ContactsPage(CCModel):
    """One page of ``GET /contacts``; ``contacts_count`` only with ``include_count=True``."""

    contacts: list[Contact] = Field(default_factory=list)
    contacts_count: int | None = None
    status: str | None = None
    links: PageLinks | None = links_field()

    @property
    def next_href(self) -> str | None:
        """The next page's link, or None on the last page."""
        nxt = self.links.next if self.links is not None else None
        return nxt.href if nxt is not None else None


class ContactsCounts(CCModel):
    """``GET /contacts/counts``: contacts by permission (``new_subscriber`` when asked for)."""

    total: int | None = None
    explicit: int | None = None
    implicit: int | None = None
    pending: int | None = None
    unsubscribed: int | None = None
    new_subscriber: int | None = None


class SignUpResult(CCModel):
    """What ``POST /contacts/sign_up_form`` did: ``action`` is ``created`` or ``updated``."""

    contact_id: str
    action: str | None = None

    @property
    def created(self) -> bool:
        return self.action == "created"


def contact_put_body(contact: Contact, update_source: str) -> dict[str, Any]:
    """The body of ``PUT /contacts/{id}`` that makes CC's contact equal to ``contact``.

    CC clears every top-level property a PUT omits, so a property that is ``None`` on the
    model is left out and ends up cleared, as the model says. Sub-resources are sent only
    when the model holds them, so ones never fetched stay untouched. Only the writable parts of each sub-resource are
    sent. The SMS channel is left out: CC reads it in a different shape than it returns it.
    """
    body: dict[str, Any] = {"update_source": update_source}
    if contact.email_address is not None:
        email = contact.email_address
        body["email_address"] = {
            k: v
            for k, v in (
                ("address", email.address),
                ("permission_to_send", email.permission_to_send),
                (
                    "opt_out_reason",
                    email.opt_out_reason if email.permission_to_send == "unsubscribed" else None,
                ),
            )
            if v is not None
        }
    for name in (
        "first_name",
        "last_name",
        "job_title",
        "company_name",
        "birthday_month",
        "birthday_day",
        "anniversary",
    ):
        value = getattr(contact, name)
        if value is not None:
            body[name] = value
    if contact.custom_fields is not None:
        body["custom_fields"] = [
            {k: v for k, v in cf.model_dump(exclude_none=True).items() if k in _CF_KEYS}
            for cf in contact.custom_fields
        ]
    if contact.phone_numbers is not None:
        body["phone_numbers"] = [
            {k: v for k, v in (("phone_number", p.phone_number), ("kind", p.kind)) if v is not None}
            for p in contact.phone_numbers
        ]
    if contact.street_addresses is not None:
        body["street_addresses"] = [
            {k: getattr(a, k) for k in _ADDRESS_KEYS if getattr(a, k) is not None}
            for a in contact.street_addresses
        ]
    for name in ("list_memberships", "taggings"):
        value = getattr(contact, name)
        if value is not None:
            body[name] = list(value)
    if contact.notes is not None:
        body["notes"] = [n.to_api() for n in contact.notes]
    return body


_CF_KEYS = ("custom_field_id", "value", "choice_ids")
_ADDRESS_KEYS = ("kind", "street", "city", "state", "postal_code", "country")
